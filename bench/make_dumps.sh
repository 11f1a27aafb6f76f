#!/usr/bin/env bash
# Make the benchmark inputs: for each size, generate a kube-proxy-like nat table (bench/generate.py),
# time `iptables-restore --test` on it, load it with the real iptables (nft backend) into a private
# network namespace, and keep what iptables prints back:
#   bench/out/svc-N.rules              the generated rules (iptables-restore -c format)
#   bench/out/svc-N.L.txt              iptables -t nat -L -n -v
#   bench/out/svc-N.save.txt           iptables-save -c
#   bench/out/svc-N.restore-test.json  wall seconds and peak RSS of iptables-restore --test (and of the load)
#   bench/out/svc-N.nft                the same services in kube-proxy's nftables mode (bench/generate_nft.py)
#   bench/out/svc-N.nft.txt            nft list ruleset of it, loaded with nft -f in its own namespace
#   bench/out/svc-N.nft-json.txt       nft -j list ruleset of it
#   bench/out/svc-N.nft-load.json      wall seconds and peak RSS of that nft -f
# Root needed (network namespaces). Nothing leaves the namespace; it is deleted even on error.
# Usage: sudo bench/make_dumps.sh [N ...]        (default: 1000 10000 30000)
# Environment: SEED (42), RESTORE_RUNS (best of 3 up to 10000 services, else 1).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "make_dumps.sh: needs root (ip netns add); try: sudo $0 $*" >&2
  exit 1
fi

if [ $# -gt 0 ]; then SIZES=("$@"); else SIZES=(1000 10000 30000); fi
for n in "${SIZES[@]}"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "make_dumps.sh: not a service count: $n" >&2; exit 2; }
done
SEED=${SEED:-42}
OUT=bench/out
PY=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}  # no pyenv-style shim
TIME=${TIME_BIN:-/usr/bin/time}   # GNU time; the python fallback is used when it is missing
RESTORE=iptables-nft-restore
LIST=iptables-nft
SAVE=iptables-nft-save

ns=kubechain-bench-$$
scratch=$(mktemp -d)
delete_netns() {  # (ip netns add makes /var/run/netns/NAME; `ip netns list` can be noisy mid-teardown)
  if [ -e "/var/run/netns/$ns" ] || [ -e "/run/netns/$ns" ]; then ip netns del "$ns"; fi
}
cleanup() {
  delete_netns
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # run the EXIT trap on ^C too

fresh_netns() {  # a new, empty namespace named $ns
  delete_netns
  ip netns add "$ns"
}

measure() {  # measure CMD... -> prints "<wall seconds> <peak RSS KiB>" of that one process
  if [ -x "$TIME" ]; then
    local t0 t1 rss
    t0=$(date +%s%N)
    "$TIME" -v -o "$scratch/time.log" "$@" > /dev/null
    t1=$(date +%s%N)
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$scratch/time.log")
    awk -v ns="$((t1 - t0))" -v rss="$rss" 'BEGIN { printf "%.6f %d\n", ns / 1e9, rss }'
  else
    "$PY" -I -S bench/_measure.py -- "$@" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
if d["returncode"] != 0:
    sys.exit(f"measured command failed: {d}")
print(d["wall_seconds"], d["max_rss_kb"])'
  fi
}

timing_tool() {
  if [ -x "$TIME" ]; then echo "$TIME -v (RSS), date +%s%N (wall)"; else echo "python resource"; fi
}

write_json() {  # write_json FILE N RULES RUNS_FILE LOAD_WALL LOAD_RSS
  "$PY" - "$@" "$SEED" "$(timing_tool)" "$($LIST --version)" <<'EOF'
import json, os, sys
path, n, rules, runs_file, load_wall, load_rss, seed, tool, version = sys.argv[1:]
runs = [dict(zip(("wall_seconds", "max_rss_kb"), (float(w), int(r))))
        for w, r in (line.split() for line in open(runs_file))]
out = os.path.dirname(path)
dumps = {}
for fmt in ("L", "save"):
    dump = os.path.join(out, f"svc-{n}.{fmt}.txt")
    with open(dump, "rb") as f:
        dumps[fmt] = {"path": dump, "lines": sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")),
                      "bytes": os.path.getsize(dump)}
with open(rules, "rb") as f:
    rules_lines = f.read().count(b"\n")
doc = {
    "services": int(n), "seed": int(seed), "backend": "nft", "iptables": version,
    "rules_file": rules, "rules_lines": rules_lines, "rules_bytes": os.path.getsize(rules),
    "command": f"iptables-nft-restore --test {rules} (in an empty network namespace)",
    "timing_tool": tool,
    "wall_seconds": min(r["wall_seconds"] for r in runs),   # best run
    "max_rss_kb": max(r["max_rss_kb"] for r in runs),       # worst run
    "runs": runs,
    "load": {"command": f"iptables-nft-restore -c {rules}", "wall_seconds": float(load_wall),
             "max_rss_kb": int(load_rss)},
    "dumps": dumps,
}
with open(path, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
EOF
}

mkdir -p "$OUT"
for n in "${SIZES[@]}"; do
  rules=$("$PY" bench/generate.py --services "$n" --seed "$SEED" --out "$OUT")
  runs=${RESTORE_RUNS:-$([ "$n" -le 10000 ] && echo 3 || echo 1)}
  echo "== $n services: $rules ($(wc -l < "$rules") lines)"

  fresh_netns
  : > "$scratch/runs"
  for _ in $(seq "$runs"); do
    measure ip netns exec "$ns" "$RESTORE" --test "$rules" >> "$scratch/runs"
  done
  read -r best_wall best_rss < <(sort -n "$scratch/runs" | head -1)
  echo "   iptables-restore --test: $best_wall s, $best_rss KiB (fastest of $runs)"

  load=$(measure ip netns exec "$ns" "$RESTORE" -c "$rules")
  read -r load_wall load_rss <<< "$load"
  echo "   iptables-restore -c (load): $load_wall s, $load_rss KiB"
  ip netns exec "$ns" "$LIST" -t nat -L -n -v > "$scratch/L.txt"
  ip netns exec "$ns" "$SAVE" -c > "$scratch/save.txt"
  mv "$scratch/L.txt" "$OUT/svc-$n.L.txt"
  mv "$scratch/save.txt" "$OUT/svc-$n.save.txt"
  delete_netns

  write_json "$OUT/svc-$n.restore-test.json" "$n" "$rules" "$scratch/runs" "$load_wall" "$load_rss"

  nft_rules=$("$PY" bench/generate_nft.py --services "$n" --seed "$SEED" --out "$OUT")
  fresh_netns
  read -r nft_wall nft_rss < <(measure ip netns exec "$ns" nft -f "$nft_rules")
  echo "   nft -f (load of kube-proxy's nftables mode): $nft_wall s, $nft_rss KiB"
  ip netns exec "$ns" nft list ruleset > "$scratch/nft.txt"
  ip netns exec "$ns" nft -j list ruleset > "$scratch/nft.json"
  mv "$scratch/nft.txt" "$OUT/svc-$n.nft.txt"
  mv "$scratch/nft.json" "$OUT/svc-$n.nft-json.txt"
  delete_netns
  printf '{"services": %d, "command": "nft -f %s (in an empty network namespace)", "nft": "%s", "wall_seconds": %s, "max_rss_kb": %s}\n' \
    "$n" "$nft_rules" "$(nft --version)" "$nft_wall" "$nft_rss" > "$OUT/svc-$n.nft-load.json"
  for fmt in L save nft nft-json; do
    f="$OUT/svc-$n.$fmt.txt"
    echo "   $f: $(wc -l < "$f") lines, $(awk -v b="$(stat -c %s "$f")" 'BEGIN { printf "%.1f", b / 1e6 }') MB"
  done
done

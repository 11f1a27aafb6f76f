#!/usr/bin/env bash
# Make the fleet benchmark's input: NODES node dumps of one generated cluster of SERVICES service
# ports (bench/fleet_rules.py), each loaded with the real iptables 1.8.9 (nft backend) into a
# private network namespace and printed back, odd nodes by `iptables-save -c`, even ones by
# `iptables -t nat -L -n -v`:  bench/out/fleet-SERVICES/dumps/node-NNN.txt
# Root needed. Usage: sudo bench/make_fleet.sh [SERVICES [NODES]]   (default: 1000 200)
set -euo pipefail
cd "$(dirname "$0")/.."
SERVICES=${1:-1000}
NODES=${2:-200}
OUT=bench/out/fleet-$SERVICES
ns=kubechain-fleet-bench-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 bench/fleet_rules.py --services "$SERVICES" --nodes "$NODES" --out "$OUT/rules" > /dev/null
rm -rf "$OUT/dumps"; mkdir -p "$OUT/dumps"
for rules in "$OUT"/rules/node-*.rules; do
  node=$(basename "$rules" .rules)
  cleanup; ip netns add "$ns"
  ip netns exec "$ns" iptables-nft-restore -c "$rules"
  n=${node#node-}
  if (( 10#$n % 2 )); then
    ip netns exec "$ns" iptables-nft-save -c > "$OUT/dumps/$node.txt"
  else
    ip netns exec "$ns" iptables-nft -t nat -L -n -v > "$OUT/dumps/$node.txt"
  fi
done
echo "$OUT/dumps: $(ls "$OUT/dumps" | wc -l) dumps, $(du -sh "$OUT/dumps" | cut -f1)"

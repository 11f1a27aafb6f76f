"""How fast could a reader specialised to kube-proxy's `-L -n -v` shape be? A planning probe for
issue 16, not a reader: it knows only what bench/generate.py writes (KUBE-SVC chains of statistic
jumps to KUBE-SEP chains with one DNAT, `recent --rcheck` affinity rules, KUBE-EXT chains that
jump to their KUBE-SVC) and gives each service port chain's exact endpoint shares, nothing else:
no typed model, no checks, no counters, no JSON. With --check it compares every share with
kubechain's analysis of the same dump, in the same process, and times that too.

    python bench/probe_specialised.py bench/out/svc-10000.L.txt --check

Its first version gave 1,433 of the 10k dump's 11,006 service ports wrong shares, silently: it
counted the affinity rules as jumps and did not follow KUBE-EXT chains. That is the risk of a
second reader beside the typed one.
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import kubechain  # noqa: E402
from kubechain.netfilter import statistic_threshold  # noqa: E402  (the kernel's rounding has one home)

_RULE = re.compile(r" *\S+ +\S+ +(\S+) +\S+ +\S+ +\S+ +\S+ +\S+ +\S+ *(.*)")
_PROBABILITY = re.compile(r"statistic mode random probability (\S+)")
_DNAT = re.compile(r"to:(\S+)")
BITS = 31

Shares = dict[str | None, Fraction]


def chains_of(text: str) -> dict[str, list[tuple[str, str]]]:
    """Each chain's rules as (target, the text after the columns): sections are blank-line apart."""
    chains: dict[str, list[tuple[str, str]]] = {}
    for block in text.split("\n\n"):
        header, _, body = block.partition("\n")
        rules = [(m[1], m[2]) for m in map(_RULE.match, body.split("\n")[1:]) if m is not None]
        chains[header[6:header.find(" ", 6)]] = rules
    return chains


def service_shares(chains: dict[str, list[tuple[str, str]]]) -> dict[str, Shares]:
    """Each KUBE-SVC and KUBE-EXT chain's endpoint shares by DNAT destination, in integers over
    powers of two (each threshold t matches t / 2^31 of what reaches it), as Fractions at the end."""
    thresholds: dict[str, int] = {}
    shares: dict[str, Shares] = {}
    for name, rules in chains.items():
        if not name.startswith("KUBE-SVC-"):
            continue
        remaining, depth = 1, 0  # what goes on: remaining / 2^(BITS·depth)
        found: dict[str | None, tuple[int, int]] = {}
        for target, rest in rules:
            if not target.startswith("KUBE-SEP-") or "recent: CHECK" in rest:
                continue  # a new client is in no affinity list
            m = _PROBABILITY.search(rest)
            if m is None:
                hit, hit_depth, remaining = remaining, depth, 0
            else:
                t = thresholds.get(m[1])
                if t is None:
                    t = thresholds[m[1]] = statistic_threshold(m[1])
                hit, hit_depth = remaining * t, depth + 1
                remaining, depth = remaining * ((1 << BITS) - t), depth + 1
            dnat = next((_DNAT.search(r) for tg, r in chains.get(target, ()) if tg == "DNAT"), None)
            found[dnat[1] if dnat else None] = (hit, hit_depth)
        shares[name] = {key: Fraction(n, 1 << (BITS * d)) for key, (n, d) in found.items()}
    for name, rules in chains.items():
        if name.startswith("KUBE-EXT-"):
            svc = next((target for target, _ in rules if target.startswith("KUBE-SVC-")), None)
            if svc in shares:
                shares[name] = shares[svc]
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump")
    parser.add_argument("--check", action="store_true", help="compare with kubechain and time it too")
    args = parser.parse_args()
    gc.disable()  # as kubechain's parse and analysis run
    start = time.process_time()
    with open(args.dump, encoding="utf-8") as f:
        chains = chains_of(f.read())
    read = time.process_time()
    shares = service_shares(chains)
    done = time.process_time()
    print(f"probe: read {read - start:.2f} CPU s, shares {done - read:.2f} CPU s, {len(shares):,} service port chains")
    if not args.check:
        return
    gc.enable()
    start = time.process_time()
    analysis = kubechain.analyze(kubechain.load(args.dump))
    print(f"kubechain.load + analyze: {time.process_time() - start:.2f} CPU s")
    differ = [s.chain for s in analysis.services
              if {k: v for k, v in shares.get(s.chain, {}).items() if v}
              != {e.address: e.share for e in s.endpoints if e.share}]
    print(f"{len(analysis.services):,} service ports compared with kubechain: {len(differ)} differ"
          + (f" (first: {differ[0]})" if differ else ""))
    if differ:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

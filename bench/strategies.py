"""Generation rate of the kubechain.testing strategies (examples per second, hypothesis overhead
included), printed, never asserted. Run: python bench/strategies.py [EXAMPLES]"""

from __future__ import annotations

import sys
import time

from hypothesis import HealthCheck, given, settings

from kubechain import testing as kt


def rate(label: str, strategy, examples: int) -> None:
    count = 0

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(_value):
        nonlocal count
        count += 1

    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    print(f"{label:48s} {count:5d} examples {elapsed:6.2f} s {count / elapsed:7.0f}/s")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rate("services()", kt.services(), n)
    rate("services(min_endpoints=200)", kt.services(min_endpoints=200), n)
    rate("services(min_endpoints=200) + .ruleset()", kt.services(min_endpoints=200).map(lambda s: s.ruleset()), n)
    rate("rulesets()", kt.rulesets(), n)
    rate("rulesets(max_services=20, max_endpoints=200)", kt.rulesets(max_services=20, max_endpoints=200), n // 3)
    rate("cascades()", kt.cascades(), n)
    rate("renderings()", kt.renderings(), n)


if __name__ == "__main__":
    main()

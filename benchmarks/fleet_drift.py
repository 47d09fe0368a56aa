"""Benchmark: `drift-check-fleet` over N saved stacks on the sandbox: wall time, AWS calls per
stack, and the peak Route53 request rate against a budget (AWS allows 5 requests per second per
account).

Today's sandbox seeds one cluster in one account, so every stack is on it: `--set-up K` of them
are set up for real (each on its own Ingress), the other N - K are saved but never set up (their
check reads what exists and finds the rest missing, so they cost fewer reads than a live stack).
Goal (issue "Many stacks per cluster"): 100 stacks in at most 60 s on 2 cores with the Route53
rate under the budget. Exits non-zero only when a flow crashes, never because of a goal.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):  # run as a script from anywhere: the repo's packages
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from setup_critical_path import DEFAULT_CONFIG, prefect_server  # noqa: E402

WALL_GOAL_SECONDS = 60.0


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=10, help="N saved stacks (10, 50, 100)")
    parser.add_argument("--set-up", type=int, default=2, help="how many of them are set up")
    parser.add_argument("--max-concurrent", type=int, default=8, help="stacks checked at once")
    parser.add_argument("--route53-budget", type=float, default=5.0, help="requests per second")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the base spec")
    return parser.parse_args(argv)


def _specs(base_text: str, count: int) -> list[object]:
    from core.spec import StackSpec, load_spec

    base = load_spec(base_text).model_dump(by_alias=True)
    root = base["route53"]["rootDomain"]["name"]
    specs = []
    for index in range(count):
        data = load_spec(base_text).model_dump(by_alias=True)
        data["route53"]["subDomain"]["name"] = f"team{index}.{root}"
        data["route53"]["subDomain"]["subjectAlternativeNames"] = []
        data["stack"].update(name=f"fleet-{index}", ingressName=f"kubeflow-{index}")
        specs.append(StackSpec.model_validate(data))
    return specs


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="kfalb-bench-") as scratch:
        work = Path(scratch)
        (work / "prefect").mkdir()
        with prefect_server(work / "prefect") as api_url:
            os.environ.update(PREFECT_API_URL=api_url, PREFECT_HOME=str(work / "prefect"),
                              AWS_CONFIG_FILE=str(work / "aws-config"),
                              AWS_SHARED_CREDENTIALS_FILE=str(work / "aws-credentials"))  # fmt: skip
            from core.errors import DriftDetected
            from core.state import StackAccess
            from flows.check_drift import check_drift_fleet
            from flows.setup_load_balancer import setup_load_balancer
            from sandbox.world import World, WorldOptions
            from tasks.aws.clients import api_calls, peak_rate
            from tasks.stack_block import StackStore

            specs = _specs(args.config.read_text(), args.stacks)
            options = WorldOptions(acm_delay=0.5, alb_delay=0.5, dns_delay=0.2)
            with World(work / "world", options) as world:
                os.environ.update(world.env)
                os.environ["KFALB_POLL_INTERVAL_SECONDS"] = "0.1"
                os.environ["KFALB_POLL_MAX_INTERVAL_SECONDS"] = "0.5"
                for index, spec in enumerate(specs):
                    if index < args.set_up:
                        setup_load_balancer(spec=spec)
                    store = StackStore.open(spec.name, spec.model_dump(mode="json", by_alias=True))
                    store.set_access(StackAccess(region=spec.region))
                before = {spec.name: api_calls(scope=spec.name) for spec in specs}
                started, clock = time.perf_counter(), time.monotonic()
                try:
                    results = check_drift_fleet(max_concurrent=args.max_concurrent)
                except DriftDetected as drift:
                    failed = set(drift.items)
                    results = {s.name: "drifted" if s.name in failed else "ok" for s in specs}
                wall = time.perf_counter() - started
                peak = peak_rate("route53", since=clock)
    calls = {name: api_calls(scope=name).since(earlier) for name, earlier in before.items()}
    per_stack = [c.reads + c.mutating for c in calls.values()]
    lines = [
        f"fleet drift of {args.stacks} stacks ({args.set_up} set up), "
        f"{args.max_concurrent} at a time: {wall:.1f} s "
        f"(goal: 100 stacks in <= {WALL_GOAL_SECONDS:g} s)",
        f"AWS calls per stack: min {min(per_stack)}, max {max(per_stack)}, "
        f"mean {sum(per_stack) / len(per_stack):.1f}",
        f"peak Route53 rate: {peak} requests in 1 s (budget {args.route53_budget:g}/s per account: "
        f"{'met' if peak <= args.route53_budget else 'NOT met'})",
    ]
    lines += [
        f"    {name}: {status}, {calls[name].reads} reads" for name, status in results.items()
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

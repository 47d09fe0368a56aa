"""Benchmark: the AWS API calls of each flow on the sandbox, by service (mutating / read).

Goals (issue "One model of the stack"): a first setup makes at most 16 mutating calls; setup of a
converged stack makes none and at most 30 reads; the drift check of one stack at most 30 reads,
the same number with 1, 10 or 100 stacks in the account (issue "Fleets at scale"; the other
stacks' footprints are seeded directly, tests/fleet_footprint.py).
Exits non-zero only when a flow fails, never because of a goal; the table says which are met.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (
    ROOT,
    ROOT / "benchmarks",
    ROOT / "tests",
):  # run as a script from anywhere: the repo's packages
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from setup_critical_path import DEFAULT_CONFIG, prefect_server  # noqa: E402

#: (flow, most mutating calls, most reads); None: no goal.
GOALS: dict[str, tuple[int | None, int | None]] = {
    "setup (first run)": (16, None),
    "setup (converged)": (0, 30),
    "drift check": (0, 30),
    "cleanup": (None, None),
}


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the stack spec")
    parser.add_argument("--api-url", help="use this running Prefect server instead of starting one")
    parser.add_argument("--fleet", default="1,10,100",
                        help="stacks in the account for the drift check's calls per stack")  # fmt: skip
    return parser.parse_args(argv)


def _measure(run: Callable[[], Any]) -> Any:
    from tasks.aws.clients import api_calls

    before = api_calls()
    run()
    return api_calls().since(before)


def _rows(name: str, calls: Any) -> list[str]:
    by_service: dict[str, list[int]] = {}
    for call in calls.calls:
        counts = by_service.setdefault(call.service, [0, 0])
        counts[0 if call.mutating else 1] += call.count
    most_mutating, most_reads = GOALS[name]
    met = (most_mutating is None or calls.mutating <= most_mutating) and (
        most_reads is None or calls.reads <= most_reads
    )
    goal = " / ".join(
        f"{label} <= {value}"
        for label, value in (("mutating", most_mutating), ("reads", most_reads))
        if value is not None
    )
    verdict = f"  (goal {goal}: {'met' if met else 'NOT met'})" if goal else ""
    lines = [f"{name}: {calls.mutating} mutating, {calls.reads} read{verdict}"]
    lines += [
        f"    {service:8} {counts[0]:3d} mutating {counts[1]:3d} read"
        for service, counts in sorted(by_service.items())
    ]
    lines += [f"      {call.operation} x{call.count}" for call in calls.mutating_calls()]
    if most_reads is not None:  # where a read budget applies, every read counts
        lines += [
            f"      read {call.service}:{call.operation} x{call.count}"
            for call in calls.calls
            if not call.mutating
        ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="kfalb-bench-") as scratch:
        work = Path(scratch)
        (work / "prefect").mkdir()
        server = prefect_server(work / "prefect") if not args.api_url else None
        with server if server is not None else _nothing(args.api_url) as api_url:
            os.environ.update(PREFECT_API_URL=api_url, PREFECT_HOME=str(work / "prefect"),
                              AWS_CONFIG_FILE=str(work / "aws-config"),
                              AWS_SHARED_CREDENTIALS_FILE=str(work / "aws-credentials"))  # fmt: skip
            from core.spec import load_spec
            from flows.check_drift import check_drift
            from flows.cleanup_load_balancer import cleanup_load_balancer
            from flows.setup_load_balancer import setup_load_balancer
            from sandbox.world import World, WorldOptions

            spec = load_spec(args.config.read_text(), source=args.config.name)
            options = WorldOptions(acm_delay=0.5, alb_delay=0.5, dns_delay=0.2)
            lines: list[str] = []
            with World(work / "world", options) as world:
                os.environ.update(world.env)
                os.environ["KFALB_POLL_INTERVAL_SECONDS"] = "0.1"
                os.environ["KFALB_POLL_MAX_INTERVAL_SECONDS"] = "0.5"
                runs: dict[str, Callable[[], Any]] = {
                    "setup (first run)": lambda: setup_load_balancer(spec=spec),
                    "setup (converged)": lambda: setup_load_balancer(spec=spec),
                    "drift check": lambda: check_drift(stack=spec.name),
                    "cleanup": lambda: cleanup_load_balancer(stack=spec.name),
                }
                for name, run in runs.items():
                    if name == "cleanup":  # last, once the fleet's drift checks are measured
                        sizes = [int(size) for size in args.fleet.split(",") if size]
                        lines += _per_stack(world, spec, sizes)
                    lines += _rows(name, _measure(run))
    print("\n".join(lines))


def _per_stack(world: Any, spec: Any, sizes: list[int]) -> list[str]:
    """The drift check's AWS calls for one stack with 1, 10, ... stacks in its account: the
    other stacks' footprints (zone, delegation, both certificates, ALB) seeded directly."""
    from fleet_footprint import seed_footprints

    from flows.check_drift import check_drift

    lines, present = ["drift check of one stack, by stacks in the account:"], 1
    for size in sorted(sizes):
        if size > present:
            seed_footprints(world, count=size - present, root=spec.root, first=present)
            present = size
        calls = _measure(lambda: check_drift(stack=spec.name))
        lines.append(f"    {present:5d} stacks: {calls.reads} reads, {calls.mutating} mutating")
    return lines
    return 0


class _nothing:  # noqa: N801 - a context manager yielding a given URL
    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    sys.exit(main())

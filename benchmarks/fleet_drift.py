"""Benchmark: `drift-check-fleet` over N set-up stacks on several sandbox clusters in several AWS
accounts: wall time, AWS calls per stack, and the peak Route53 request rate per account against
the budget (`--route53-budget`; AWS since 2026-07-30: 10 requests per second per account).

Each cluster's first stack is set up for real (its own zone, delegation, certificates, Ingress,
ALB and record in its cluster's account, reached with its account's AwsCredentials block and
`kube_access=eks`); every other stack is cloned from it with its own names and ids
(tests/fleet_seed.py: as a second real setup leaves it), so fleets of hundreds seed in minutes.
Seeding is not measured. The drift check then runs with the budget of `--route53-budget` and,
with `--enforce`, the sandbox refusing Route53 requests past that rate per account
(`Throttling`), as AWS does; in this process (`--workers 0`) or as shards on a work pool of
`--workers` process workers (their Route53 budget one Prefect global concurrency limit per
account). The peak rate is measured on the sandbox's side, per account. Goal (issue 20): 100
stacks in at most 60 s on 2 cores with Route53 under the budget. Exits non-zero only when a flow
crashes, never because of a goal.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):  # run as a script from anywhere: the repo's packages
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from fleet_world import FleetOptions, FleetWorld, WorldProcess  # noqa: E402
from setup_critical_path import DEFAULT_CONFIG, prefect_server  # noqa: E402

WALL_GOAL_SECONDS = 60.0
#: Besides the world's own kubeflow@123456789012: three more clusters, each in its own account.
CLUSTERS = "kubeflow-b@234567890123,kubeflow-c@345678901234,kubeflow-d@456789012345"


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--stacks",
        default="10",
        help="N stacks, or sizes measured in turn on one growing fleet: 10,50,100",
    )
    parser.add_argument("--clusters", default=CLUSTERS,
                        help="more clusters, NAME@ACCOUNT[:REGION] comma separated")  # fmt: skip
    parser.add_argument("--max-concurrent", type=int, default=8, help="stacks checked at once")
    parser.add_argument("--seed-concurrency", type=int, default=4,
                        help="clusters seeded at once (one real setup each, then clones)")  # fmt: skip
    parser.add_argument("--accounts", type=int, default=0,
                        help="N accounts (one cluster each) instead of --clusters")  # fmt: skip
    parser.add_argument("--route53-budget", type=float, default=10.0, help="requests per second")
    parser.add_argument("--enforce", action=argparse.BooleanOptionalAction, default=True,
                        help="the sandbox throttles Route53 past the budget per account")  # fmt: skip
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the base spec")
    parser.add_argument("--world", choices=("process", "thread"), default="process",
                        help="the sandbox (and the seeding) in a process of its own, as a "
                        "fleet's clouds run elsewhere; thread: in this process")  # fmt: skip
    parser.add_argument("--workers", default="0",
                        help="0: the fleet in this process; N (or 1,2 in turn): N process workers "
                        "on a work pool, one drift-check-shard run each, one Prefect Route53 "
                        "limit per account")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="kfalb-bench-") as scratch:
        work = Path(scratch)
        (work / "prefect").mkdir()
        with prefect_server(work / "prefect") as api_url:
            os.environ.update(PREFECT_API_URL=api_url, PREFECT_HOME=str(work / "prefect"),
                              AWS_CONFIG_FILE=str(work / "aws-config"),
                              AWS_SHARED_CREDENTIALS_FILE=str(work / "aws-credentials"))  # fmt: skip
            return _run(args, work)


def _run(args: argparse.Namespace, work: Path) -> int:
    # The flow's code is imported before anything is measured: a one-off cost of the process,
    # not the stacks' (the AWS sessions and clients are still made, and counted, in the check).
    import flows.check_drift  # noqa: F401
    from tasks.aws.clients import reset_sessions

    clusters = tuple(item for item in args.clusters.split(",") if item)
    if args.accounts:  # the world's own account, and N - 1 more with a cluster each
        clusters = tuple(f"kubeflow-{i}@{234567890000 + i}" for i in range(1, args.accounts))
    options = FleetOptions(clusters=clusters, config_text=args.config.read_text(),
                           seed_concurrency=args.seed_concurrency)  # fmt: skip
    world = (WorldProcess if args.world == "process" else FleetWorld)(work / "world", options)
    pool = WorkPool(work)
    try:
        started = world.start()
        # The world's endpoints, as a deployment's settings give them: AWS_ENDPOINT_URL,
        # KUBECONFIG (every cluster's context), the DNS servers, the CA bundle, the HTTPS port.
        os.environ.update(started["env"])
        os.environ.update(KFALB_POLL_INTERVAL_SECONDS="0.05", KFALB_POLL_MAX_INTERVAL_SECONDS="0.3")
        reset_sessions()
        places = started["places"]
        for size in sorted(int(item) for item in args.stacks.split(",")):
            seeded = world.seed(size)
            walls: list[tuple[int, float, float]] = []  # workers, wall time, Route53 floor
            for workers in (int(item) for item in args.workers.split(",")):
                pool.grow(workers, route53_rate=args.route53_budget)
                text, wall, floor = _measure(args, world, seeded, places, pool, workers)
                print(text, flush=True)
                walls.append((workers, wall, floor))
            if len(walls) > 1:
                print(f"{size} stacks: " + ", ".join(
                    f"{w or 'no'} worker{'s' if w != 1 else ''} {wall:.1f} s"
                    for w, wall, _ in walls) + f"; Route53 floor {walls[0][2]:.1f} s", flush=True)  # fmt: skip
    finally:
        pool.stop()
        world.stop()
    return 0


class WorkPool:
    """A process work pool `kubeflow-alb` with the drift-check-shard deployment and its
    workers, started as the fleet needs them (each runs one shard at a time)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.workers: list[subprocess.Popen[bytes]] = []
        self.storage = work / "results"

    def grow(self, count: int, *, route53_rate: float) -> None:
        prefect = str(Path(sys.executable).parent / "prefect")
        env = {**os.environ, "PWD": str(ROOT), "PYTHONPATH": str(ROOT),
               "KFALB_ROUTE53_RATE": f"{route53_rate:g}", "PREFECT_WORKER_QUERY_SECONDS": "1",
               "PREFECT_LOCAL_STORAGE_PATH": str(self.storage)}  # fmt: skip
        os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(self.storage)
        if count and not self.workers:
            for command in (["work-pool", "create", "kubeflow-alb", "--type", "process"],
                            ["deploy", "--name", "drift-check-shard"]):  # fmt: skip
                subprocess.run([prefect, "--no-prompt", *command], cwd=ROOT, env=env,
                               check=True, capture_output=True)  # fmt: skip
        while len(self.workers) < count:
            log = (self.work / f"worker-{len(self.workers)}.log").open("wb")
            self.workers.append(subprocess.Popen(
                [prefect, "worker", "start", "--pool", "kubeflow-alb", "--limit", "1",
                 "--name", f"bench-{len(self.workers)}"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip

    def cpu_seconds(self) -> float:
        """User and system CPU of the workers and the flow runs they ran (reaped children)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for worker in self.workers:
            fields = Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15]) / ticks
        return total

    def stop(self) -> None:
        for worker in self.workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)


def _measure(
    args: argparse.Namespace,
    world: FleetWorld | WorldProcess,
    seeded: dict[str, Any],
    places: list[tuple[str, str, str]],
    pool: WorkPool,
    workers: int,
) -> tuple[str, float, float]:
    """One drift check of the fleet: the report's lines, the wall time and the Route53 floor."""
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    from core.errors import DriftDetected
    from core.settings import get_settings
    from flows.check_drift import check_drift_fleet
    from tasks.aws.clients import api_calls

    stacks: list[tuple[str, str]] = seeded["stacks"]
    os.environ["KFALB_ROUTE53_RATE"] = f"{args.route53_budget:g}"
    clock = world.quiet(route53_rate=args.route53_budget if args.enforce else None)
    before = {name: api_calls(scope=name) for name, _ in stacks}
    load_before = os.getloadavg()
    separate = isinstance(world, WorldProcess)
    cpu_before, world_cpu_before = _cpu(pool), world.cpu() if separate else 0.0
    prefect_calls = _PrefectCalls(os.environ["PREFECT_API_URL"])
    started = time.perf_counter()
    try:
        with prefect_calls, temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: pool.storage}):
            results = check_drift_fleet(max_concurrent=args.max_concurrent, shards=workers)
    except DriftDetected as drift:
        failed = set(drift.items)
        results = {name: "drifted" if name in failed else "ok" for name, _ in stacks}
    wall = time.perf_counter() - started
    cpu = _cpu(pool) - cpu_before
    world_cpu = world.cpu() - world_cpu_before if separate else 0.0
    load = (load_before, os.getloadavg())
    served = world.served(clock)
    calls = {name: api_calls(scope=name).since(earlier) for name, earlier in before.items()}
    per_stack = [c.reads + c.mutating for c in calls.values()]
    if workers:  # counted in the workers' processes: here only the sandbox's side is seen
        per_stack = [served.requests // len(stacks)]
    route53 = sum(served.route53.values())
    accounts_count = len({a for _, a, _ in places})
    floor = route53 / accounts_count / args.route53_budget
    # The clients' bucket lets `burst` go at once on top of the rate: at most burst + rate in
    # any one second (AWS's holds 50; the sandbox's, when enforced, the rate).
    burst = get_settings().route53_burst
    met = all(peak <= args.route53_budget + burst for peak in served.peaks.values())
    statuses = Counter(results.values())
    where = (f"{workers} worker(s) on a work pool, {args.max_concurrent} at a time each"
             if workers else f"in one process, {args.max_concurrent} at a time")  # fmt: skip
    here = "this process and the workers" if workers else "this process"
    if separate:
        cpu_text = (f"{cpu / len(stacks):.2f} s per stack in the fleet's processes ({cpu:.0f} s: "
                    f"{here}); the sandbox's process {world_cpu / len(stacks):.2f} s per stack "
                    f"({world_cpu:.0f} s)")  # fmt: skip
    else:
        cpu_text = (
            f"{cpu / len(stacks):.2f} s per stack ({cpu:.0f} s: {here}, the sandbox included)"
        )
    lines = [
        f"fleet drift of {len(stacks)} stacks on {len(places)} clusters in "
        f"{accounts_count} accounts, {where}, the sandbox "
        + ("in its own process" if separate else "in this process")
        + f": {wall:.1f} s (goal: 100 stacks in <= {WALL_GOAL_SECONDS:g} s); Route53 floor "
        f"{floor:.1f} s; seeding {seeded['seconds']:.0f} s (not measured)",
        f"  load average {load[0][0]:.1f} before, {load[1][0]:.1f} after; CPU {cpu_text}; "
        f"Prefect API calls per stack {prefect_calls.count / len(stacks):.1f}"
        + (
            " (this process only: the fleet's run; the shards' are the workers')" if workers else ""
        ),
        f"  results: {dict(statuses)}",
        f"  AWS calls per stack: min {min(per_stack)}, max {max(per_stack)}, "
        f"mean {sum(per_stack) / len(per_stack):.1f}; Route53 per stack "
        f"{route53 / len(stacks):.1f}",
        "  peak Route53 rate per account (most requests in any 1 s, on the sandbox's side): "
        + ", ".join(f"{account} {peak}" for account, peak in sorted(served.peaks.items()))
        + f"; budget {args.route53_budget:g}/s after a burst of {burst}; {served.throttled} "
        "throttled"
        + (" (AWS's token bucket enforced)" if args.enforce else " (not enforced)")
        + ("" if met else "; a 1 s window held more than the burst and the budget"),
    ]
    lines += [f"    {name}: {status}" for name, status in results.items() if status != "ok"]
    return "\n".join(lines), wall, floor


def _cpu(pool: WorkPool) -> float:
    times = os.times()
    return times.user + times.system + pool.cpu_seconds()


class _PrefectCalls:
    """Counts this process's requests to the Prefect API (Prefect's httpx clients)."""

    def __init__(self, url: str) -> None:
        self.url, self.count = url, 0
        self._saved: list[tuple[Any, Any]] = []

    def __enter__(self) -> None:
        import httpx

        for cls in (httpx.Client, httpx.AsyncClient):
            original = cls.send
            self._saved.append((cls, original))

            def counted(client: Any, request: Any, *a: Any, _o: Any = original, **k: Any) -> Any:
                if str(request.url).startswith(self.url):
                    self.count += 1
                return _o(client, request, *a, **k)

            cls.send = counted  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        for cls, original in self._saved:
            cls.send = original


if __name__ == "__main__":
    sys.exit(main())

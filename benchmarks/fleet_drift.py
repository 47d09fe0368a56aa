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
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):  # run as a script from anywhere: the repo's packages
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

sys.path.insert(0, str(ROOT / "tests"))
from fleet_seed import Seeder  # noqa: E402
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
    parser.add_argument("--workers", default="0",
                        help="0: the fleet in this process; N (or 1,2 in turn): N process workers "
                        "on a work pool, one drift-check-shard run each, one Prefect Route53 "
                        "limit per account")  # fmt: skip
    return parser.parse_args(argv)


def _spec(base_text: str, index: int, *, cluster: str, region: str, root: str) -> Any:
    from core.spec import StackSpec, load_spec

    data = load_spec(base_text).model_dump(by_alias=True)
    data["cluster"].update(name=cluster, region=region)
    data["route53"]["rootDomain"] = {"name": root}
    data["route53"]["subDomain"] = {"name": f"team{index}.{root}", "subjectAlternativeNames": []}
    data["stack"].update(name=f"fleet-{index}", ingressName=f"kubeflow-{index}")
    return StackSpec.model_validate(data)


def _peaks(requests: list[Any]) -> dict[str, int]:
    """The most Route53 requests each account served in any one second."""
    times: dict[str, list[float]] = defaultdict(list)
    for item in requests:
        if item.service == "route53":
            times[item.account].append(item.at)
    peaks = {}
    for account, seen in times.items():
        seen.sort()
        start, peak = 0, 0
        for end, at in enumerate(seen):
            while at - seen[start] >= 1.0:
                start += 1
            peak = max(peak, end - start + 1)
        peaks[account] = peak
    return peaks


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
    from sandbox.world import World, WorldOptions
    from tasks.aws.clients import reset_sessions

    clusters = tuple(item for item in args.clusters.split(",") if item)
    if args.accounts:  # the world's own account, and N - 1 more with a cluster each
        clusters = tuple(f"kubeflow-{i}@{234567890000 + i}" for i in range(1, args.accounts))
    options = WorldOptions(acm_delay=0.3, alb_delay=0.3, dns_delay=0.1, route53_sync_delay=0.05,
                           deployment_ready_delay=0.1, poll_interval=0.2,
                           controller="preinstalled", clusters=clusters)  # fmt: skip
    with World(work / "world", options) as world:
        os.environ.update(world.env)
        os.environ.update(KFALB_POLL_INTERVAL_SECONDS="0.05", KFALB_POLL_MAX_INTERVAL_SECONDS="0.3")
        reset_sessions()
        blocks = world.save_credentials_blocks()
        places = [(options.cluster_name, options.account_id, options.region)]
        places += [(c.place.name, c.place.account, c.place.region) for c in world.clusters]
        specs: list[tuple[Any, str]] = []
        pool = WorkPool(work)
        try:
            for size in sorted(int(item) for item in args.stacks.split(",")):
                seeding = _seed(args, world, blocks, places, specs, size)
                for workers in (int(item) for item in args.workers.split(",")):
                    pool.grow(workers, route53_rate=args.route53_budget)
                    print(_measure(args, world, specs, places, seeding, pool, workers), flush=True)
        finally:
            pool.stop()
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


def _seed(
    args: argparse.Namespace,
    world: Any,
    blocks: dict[str, str],
    places: list[tuple[str, str, str]],
    specs: list[tuple[Any, str]],
    size: int,
) -> float:
    """Set up stacks until there are `size` (not measured); returns the seconds it took."""
    from flows.setup_load_balancer import setup_load_balancer

    os.environ["KFALB_ROUTE53_RATE"] = "100"  # seeding is not what is measured
    for controller in [world.controller, *(c.controller for c in world.clusters)]:
        controller.interval = 0.2
    world.aws.set_route53_rate(None)
    new = []
    for index in range(len(specs), size):
        name, account, region = places[index % len(places)]
        spec = _spec(args.config.read_text(), index, cluster=name, region=region,
                     root=world.root_domain(account))  # fmt: skip
        new.append((spec, account))
    started = time.perf_counter()

    def set_up(item: tuple[Any, str]) -> None:
        # A busy Prefect server (SQLite) may answer a block save with 503: setup resumes.
        for attempt in range(3):
            try:
                setup_load_balancer(spec=item[0], aws_credentials_block=blocks[item[1]],
                                    kube_access="eks")  # fmt: skip
                return
            except Exception as error:
                if attempt == 2:
                    raise
                print(f"setup of {item[0].name} failed ({error}); again", flush=True)

    # A cluster's first stack is set up for real (it adds the subnet tags the others find);
    # the others are clones of it (tests/fleet_seed.py), as a second setup leaves them.
    first, rest = new[: max(0, len(places) - len(specs))], new[max(0, len(places) - len(specs)) :]
    with ThreadPoolExecutor(max_workers=max(1, len(places))) as pool:
        list(pool.map(set_up, first))
    templates = {spec.cluster.name: spec.name for spec, _ in [*specs, *first][: len(places)]}
    by_cluster: dict[str, list[Any]] = defaultdict(list)
    for spec, _ in rest:
        by_cluster[spec.cluster.name].append(spec)

    def seed(cluster: str) -> None:
        Seeder(world, templates[cluster]).seed(by_cluster[cluster])

    with ThreadPoolExecutor(max_workers=max(1, args.seed_concurrency)) as pool:
        list(pool.map(seed, list(by_cluster)))
    specs.extend(new)
    return time.perf_counter() - started


def _measure(
    args: argparse.Namespace,
    world: Any,
    specs: list[tuple[Any, str]],
    places: list[tuple[str, str, str]],
    seeding: float,
    pool: WorkPool,
    workers: int,
) -> str:
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings

    from core.errors import DriftDetected
    from core.settings import get_settings
    from flows.check_drift import check_drift_fleet
    from sandbox.aws import accounts
    from tasks.aws.clients import api_calls

    os.environ["KFALB_ROUTE53_RATE"] = f"{args.route53_budget:g}"
    # This process also runs the sandbox: its controllers, polling every Ingress of their
    # cluster, and its DNS server, reading every zone 20 times a second to start propagation
    # clocks, would take the CPU the drift checks need. Drift changes nothing; let them idle
    # (a query still reads the zones as they are).
    for controller in [world.controller, *(c.controller for c in world.clusters)]:
        controller.interval = 5.0
    world.dns.poll_interval = 5.0
    if args.enforce:
        world.aws.set_route53_rate(args.route53_budget)
    throttled_before = sum(accounts.throttled.values())
    before = {spec.name: api_calls(scope=spec.name) for spec, _ in specs}
    load_before = os.getloadavg()
    cpu_before = _cpu(pool)
    prefect_calls = _PrefectCalls(os.environ["PREFECT_API_URL"])
    started, clock = time.perf_counter(), time.monotonic()
    try:
        with prefect_calls, temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: pool.storage}):
            results = check_drift_fleet(max_concurrent=args.max_concurrent, shards=workers)
    except DriftDetected as drift:
        failed = set(drift.items)
        results = {s.name: "drifted" if s.name in failed else "ok" for s, _ in specs}
    wall = time.perf_counter() - started
    cpu = _cpu(pool) - cpu_before
    load = (load_before, os.getloadavg())
    wire = accounts.seen_requests(since=clock)
    throttled = sum(accounts.throttled.values()) - throttled_before
    calls = {name: api_calls(scope=name).since(earlier) for name, earlier in before.items()}
    per_stack = [c.reads + c.mutating for c in calls.values()]
    if workers:  # counted in the workers' processes: here only the sandbox's side is seen
        per_stack = [len(wire) // len(specs)]
    route53 = Counter(item.account for item in wire if item.service == "route53")
    accounts_count = len({a for _, a, _ in places})
    floor = sum(route53.values()) / accounts_count / args.route53_budget
    peaks = _peaks(wire)
    # The clients' bucket lets `burst` go at once on top of the rate: at most burst + rate in
    # any one second (AWS's holds 50; the sandbox's, when enforced, the rate).
    burst = get_settings().route53_burst
    met = all(peak <= args.route53_budget + burst for peak in peaks.values())
    statuses = Counter(results.values())
    where = (f"{workers} worker(s) on a work pool, {args.max_concurrent} at a time each"
             if workers else f"in one process, {args.max_concurrent} at a time")  # fmt: skip
    lines = [
        f"fleet drift of {len(specs)} stacks on {len(places)} clusters in "
        f"{accounts_count} accounts, {where}: "
        f"{wall:.1f} s (goal: 100 stacks in <= {WALL_GOAL_SECONDS:g} s); Route53 floor "
        f"{floor:.1f} s; seeding {seeding:.0f} s (not measured)",
        f"  load average {load[0][0]:.1f} before, {load[1][0]:.1f} after; CPU "
        f"{cpu / len(specs):.2f} s per stack ({cpu:.0f} s: this process"
        + (" and the workers" if workers else ", the sandbox included")
        + f"); Prefect API calls per stack {prefect_calls.count / len(specs):.1f}"
        + (
            " (this process only: the fleet's run; the shards' are the workers')" if workers else ""
        ),
        f"  results: {dict(statuses)}",
        f"  AWS calls per stack: min {min(per_stack)}, max {max(per_stack)}, "
        f"mean {sum(per_stack) / len(per_stack):.1f}; Route53 per stack "
        f"{sum(route53.values()) / len(specs):.1f}",
        "  peak Route53 rate per account (most requests in any 1 s, on the sandbox's side): "
        + ", ".join(f"{account} {peak}" for account, peak in sorted(peaks.items()))
        + f"; budget {args.route53_budget:g}/s after a burst of {burst}; {throttled} throttled"
        + (" (AWS's token bucket enforced)" if args.enforce else " (not enforced)")
        + ("" if met else "; a 1 s window held more than the burst and the budget"),
    ]
    lines += [f"    {name}: {status}" for name, status in results.items() if status != "ok"]
    return "\n".join(lines)


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

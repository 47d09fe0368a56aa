"""The fleet benchmark's sandbox: a world of several clusters and accounts, its fleet seeded, and
what it served — run in the benchmark's process (`FleetWorld`) or in a process of its own
(`WorldProcess`, the same object behind a pipe), as a real fleet's AWS and Kubernetes run on
other machines than the worker checking them.

The seeder writes into the world's stores directly, so the fleet is seeded where the world runs;
the process checking the fleet reaches it only as production does: `AWS_ENDPOINT_URL`,
kubeconfig, the settings in the world's environment and the blocks saved in the Prefect API.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks", ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

#: Seconds between the DNS server's polls while seeding.
SEED_DNS_POLL = 0.25
#: The flow's polling while seeding (the setups of each cluster's first stack).
SEED_POLLING = {"KFALB_POLL_INTERVAL_SECONDS": "0.05", "KFALB_POLL_MAX_INTERVAL_SECONDS": "0.3"}


@dataclass(frozen=True)
class FleetOptions:
    """The world's clusters and how its fleet is seeded."""

    clusters: tuple[str, ...]
    config_text: str
    seed_concurrency: int = 4


@dataclass
class Served:
    """What the world served since a moment (its side of the measurement, picklable)."""

    requests: int = 0
    route53: dict[str, int] = field(default_factory=dict)  # account -> requests
    peaks: dict[str, int] = field(default_factory=dict)  # account -> most in any 1 s
    throttled: int = 0


def peaks(times: dict[str, list[float]]) -> dict[str, int]:
    """The most requests each account made in any one second (times: monotonic seconds)."""
    found = {}
    for account, seen in times.items():
        seen = sorted(seen)
        start, peak = 0, 0
        for end, at in enumerate(seen):
            while at - seen[start] >= 1.0:
                start += 1
            peak = max(peak, end - start + 1)
        found[account] = peak
    return found


def stack_spec(base_text: str, index: int, *, cluster: str, region: str, root: str) -> Any:
    """The `index`th stack of the fleet: its own names, on `cluster` under `root`."""
    from core.spec import StackSpec, load_spec

    data = load_spec(base_text).model_dump(by_alias=True)
    data["cluster"].update(name=cluster, region=region)
    data["route53"]["rootDomain"] = {"name": root}
    data["route53"]["subDomain"] = {"name": f"team{index}.{root}", "subjectAlternativeNames": []}
    data["stack"].update(name=f"fleet-{index}", ingressName=f"kubeflow-{index}")
    return StackSpec.model_validate(data)


class FleetWorld:
    """The world and its fleet, where the world runs."""

    def __init__(self, directory: Path, options: FleetOptions) -> None:
        self.directory, self.options = directory, options
        self.world: Any = None
        self.blocks: dict[str, str] = {}
        self.places: list[tuple[str, str, str]] = []  # (cluster, account, region)
        self.stacks: list[tuple[Any, str]] = []  # (spec, account)
        self._throttled_at_quiet = 0
        self._dns_poll = 0.05

    def start(self) -> dict[str, Any]:
        """Start the world, save an AwsCredentials block per account; returns the world's
        environment and its clusters."""
        from sandbox.world import World, WorldOptions
        from tasks.aws.clients import reset_sessions

        options = WorldOptions(acm_delay=0.3, alb_delay=0.3, dns_delay=0.1,
                               route53_sync_delay=0.05, deployment_ready_delay=0.1,
                               poll_interval=0.2, controller="preinstalled",
                               clusters=self.options.clusters)  # fmt: skip
        self.world = World(self.directory, options)
        self.world.start()
        self._dns_poll = self.world.dns.poll_interval
        os.environ.update(self.world.env)
        os.environ.update(SEED_POLLING)
        reset_sessions()
        self.blocks = self.world.save_credentials_blocks()
        self.places = [(options.cluster_name, options.account_id, options.region)]
        self.places += [(c.place.name, c.place.account, c.place.region)
                        for c in self.world.clusters]  # fmt: skip
        return {"env": dict(self.world.env), "places": list(self.places)}

    def seed(self, size: int) -> dict[str, Any]:
        """Set up stacks until there are `size` (not measured); returns every stack's (name,
        account) and the seconds it took."""
        from fleet_seed import Seeder

        from flows.setup_load_balancer import setup_load_balancer

        world = self.world
        os.environ["KFALB_ROUTE53_RATE"] = "100"  # seeding is not what is measured
        for controller in [world.controller, *(c.controller for c in world.clusters)]:
            controller.interval = 0.2
        # The DNS server reads every zone at each poll to start its propagation clocks (ACM
        # issues once the validation records are seen): with hundreds of zones, polling 20
        # times a second took ~40% of the seeding's CPU. Seeding is not measured.
        world.dns.poll_interval = max(self._dns_poll, SEED_DNS_POLL)
        for kube in [world.kube, *(c.kube for c in world.clusters)]:
            kube.gc.idle_interval = 1.0
        world.aws.set_route53_rate(None)
        new = []
        for index in range(len(self.stacks), size):
            name, account, region = self.places[index % len(self.places)]
            spec = stack_spec(self.options.config_text, index, cluster=name, region=region,
                              root=world.root_domain(account))  # fmt: skip
            new.append((spec, account))
        started = time.perf_counter()

        def set_up(item: tuple[Any, str]) -> None:
            # A busy Prefect server (SQLite) may answer a block save with 503: setup resumes.
            for attempt in range(3):
                try:
                    setup_load_balancer(spec=item[0], aws_credentials_block=self.blocks[item[1]],
                                        kube_access="eks")  # fmt: skip
                    return
                except Exception as error:
                    if attempt == 2:
                        raise
                    print(f"setup of {item[0].name} failed ({error}); again", flush=True)

        # A cluster's first stack is set up for real (it adds the subnet tags the others find);
        # the others are clones of it (tests/fleet_seed.py), as a second setup leaves them.
        real = max(0, len(self.places) - len(self.stacks))
        first, rest = new[:real], new[real:]
        with ThreadPoolExecutor(max_workers=max(1, len(self.places))) as pool:
            list(pool.map(set_up, first))
        templates = {spec.cluster.name: spec.name
                     for spec, _ in [*self.stacks, *first][: len(self.places)]}  # fmt: skip
        by_cluster: dict[str, list[Any]] = defaultdict(list)
        for spec, _ in rest:
            by_cluster[spec.cluster.name].append(spec)

        def seed(cluster: str) -> None:
            Seeder(world, templates[cluster]).seed(by_cluster[cluster])

        with ThreadPoolExecutor(max_workers=max(1, self.options.seed_concurrency)) as pool:
            list(pool.map(seed, list(by_cluster)))
        self.stacks.extend(new)
        return {"stacks": [(spec.name, account) for spec, account in self.stacks],
                "seconds": time.perf_counter() - started}  # fmt: skip

    def quiet(self, *, route53_rate: float | None) -> float:
        """Ready for a drift check: the controllers, the DNS server's poller and the API servers'
        garbage collectors idle (drift changes nothing; a query still reads the zones as they
        are), Route53 refused past `route53_rate` per account (None: not enforced). Returns the
        monotonic clock."""
        from sandbox.aws import accounts

        world = self.world
        for controller in [world.controller, *(c.controller for c in world.clusters)]:
            controller.interval = 5.0
        world.dns.poll_interval = 5.0
        # Each API server's garbage collector copies every object of its store once a second
        # when idle (a quarter of the world's CPU during a check of 200 stacks on 10 clusters).
        for kube in [world.kube, *(c.kube for c in world.clusters)]:
            kube.gc.idle_interval = 5.0
        world.aws.set_route53_rate(route53_rate)
        self._throttled_at_quiet = sum(accounts.throttled.values())
        return time.monotonic()

    def served(self, since: float) -> Served:
        """The requests the world's AWS served since `since` (monotonic, as `quiet` gave)."""
        from sandbox.aws import accounts

        wire = accounts.seen_requests(since=since)
        times: dict[str, list[float]] = defaultdict(list)
        for item in wire:
            if item.service == "route53":
                times[item.account].append(item.at)
        return Served(requests=len(wire),
                      route53=dict(Counter({a: len(t) for a, t in times.items()})),
                      peaks=peaks(times),
                      throttled=sum(accounts.throttled.values()) - self._throttled_at_quiet)  # fmt: skip

    def cpu(self) -> float:
        """CPU seconds of the process the world runs in (user and system)."""
        times = os.times()
        return times.user + times.system

    def stop(self) -> None:
        world, self.world = self.world, None
        if world is not None:
            world.stop()


class WorldProcess:
    """A `FleetWorld` in a process of its own (spawned: a fresh interpreter, no threads of
    ours), called through a pipe; its output goes to `<directory>/world.log`."""

    def __init__(self, directory: Path, options: FleetOptions) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        directory.mkdir(parents=True, exist_ok=True)
        self.log = directory.parent / "world.log"
        self._process = context.Process(target=_serve, args=(child, directory, options, self.log),
                                        name="fleet-world")  # fmt: skip
        self._process.start()
        child.close()

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def _call(self, method: str, **arguments: Any) -> Any:
        self._conn.send((method, arguments))
        try:
            ok, value = self._conn.recv()
        except EOFError:
            raise RuntimeError(f"the world's process ended; see {self.log}") from None
        if not ok:
            raise RuntimeError(f"the world's {method} failed (see {self.log}):\n{value}")
        return value

    def start(self) -> dict[str, Any]:
        return self._call("start")  # type: ignore[no-any-return]

    def seed(self, size: int) -> dict[str, Any]:
        return self._call("seed", size=size)  # type: ignore[no-any-return]

    def quiet(self, *, route53_rate: float | None) -> float:
        return self._call("quiet", route53_rate=route53_rate)  # type: ignore[no-any-return]

    def served(self, since: float) -> Served:
        return self._call("served", since=since)  # type: ignore[no-any-return]

    def cpu(self) -> float:
        return self._call("cpu")  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self._process.is_alive():
            try:
                self._call("stop")
            except (RuntimeError, OSError):
                pass
        self._conn.close()
        self._process.join(timeout=60)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def _serve(conn: Any, directory: Path, options: FleetOptions, log: Path) -> None:
    """The world's process: answer calls until `stop` or until the benchmark goes away."""
    with log.open("ab", buffering=0) as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    fleet = FleetWorld(directory, options)
    try:
        while True:
            try:
                method, arguments = conn.recv()
            except EOFError:  # the benchmark ended without a word: stop the world all the same
                return
            try:
                value = getattr(fleet, method)(**arguments)
            except BaseException:
                conn.send((False, traceback.format_exc()))
                continue
            conn.send((True, value))
            if method == "stop":
                return
    finally:
        fleet.stop()

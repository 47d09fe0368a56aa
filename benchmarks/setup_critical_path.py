"""Benchmark: one setup against a sandbox with real-looking delays; wall time vs the critical path.

Critical path model (the sandbox's semantics; see benchmarks/README.md):
- A certificate is ISSUED `acm` seconds after its request, once its validation records are
  visible. The delegation and the validation CNAMEs are written right before/after the request
  and propagate in `dns` seconds meanwhile, so this stage takes max(acm, dns).
- The ALB needs an ISSUED certificate (its HTTPS listener), and turns active `alb` seconds after
  the controller creates it.
- The *.<subdomain> record needs only the ALB's DNS name, known when the ALB is created, so its
  propagation can run during provisioning: this stage takes max(alb, dns).
Critical path = max(acm, dns) + max(alb, dns): 50 s with the defaults 30 / 20 / 10. A flow that
writes the record only after the ALB is active follows acm + alb + dns (60 s), also printed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the repo's packages first
    sys.path.insert(0, str(ROOT))

from core.waiting import wait_until  # noqa: E402

DEFAULT_CONFIG = ROOT / "examples" / "sandbox.yaml"
#: Where `kfalb sandbox up` keeps a world, under its working directory.
STATE_DIR = ".kfalb-sandbox"
SERVER_START_TIMEOUT = 180.0


def critical_path(acm: float, alb: float, dns: float) -> float:
    """The longest chain of delays the setup cannot overlap (the model in the docstring)."""
    return max(acm, dns) + max(alb, dns)


def sequential_path(acm: float, alb: float, dns: float) -> float:
    """ACM, then the ALB, then DNS propagation of the record, one after another."""
    return acm + alb + dns


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:  # noqa: S310 (local)
            return bool(answer.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (Debian's binaries: initdb, pg_ctl, createdb) on a free
    port of 127.0.0.1, as a team's Prefect server keeps its database; yields its URL for
    Prefect. As root, the cluster runs as the `postgres` user (PostgreSQL refuses root)."""
    tools = {name: shutil.which(name) for name in ("initdb", "pg_ctl", "createdb")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        raise SystemExit(f"--database postgres needs PostgreSQL's {', '.join(missing)} on PATH")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    directory = Path(tempfile.mkdtemp(prefix="kfalb-bench-pg-"))
    if as_user:
        shutil.chown(directory, user="postgres")
    data, port, quiet = directory / "data", _free_port(), subprocess.DEVNULL

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, stdout=quiet, stderr=quiet)

    run(str(tools["initdb"]), "-D", str(data), "-U", "prefect", "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1"
    run(str(tools["pg_ctl"]), "-D", str(data), "-o", options, "-l", str(directory / "log"), "-w",
        "start")  # fmt: skip
    try:
        run(str(tools["createdb"]), "-h", "127.0.0.1", "-p", str(port), "-U", "prefect", "prefect")
        yield f"postgresql+asyncpg://prefect@127.0.0.1:{port}/prefect"
    finally:
        run(str(tools["pg_ctl"]), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def prefect_server(home: Path, *, ui: bool = False, database: str = "") -> Iterator[str]:
    """`prefect server start` on a free port with its own PREFECT_HOME; yields the API URL
    (the UI, with `ui`, is at the same address without `/api`). `database`: the server's
    database URL (empty: SQLite in PREFECT_HOME)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1"}  # fmt: skip
    if database:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database
    env.pop("PREFECT_API_URL", None)
    if ui:  # else the UI calls the API on the default port (4200), not on --port
        env["PREFECT_UI_API_URL"] = url
    log = (home / "server.log").open("wb")
    command = [str(Path(sys.executable).parent / "prefect"), "server", "start",
               "--host", "127.0.0.1", "--port", str(port), "--analytics-off", "--ui" if ui else "--no-ui"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: server.poll() is not None or _healthy(url), bool,
                   what=f"the Prefect server at {url}", timeout=SERVER_START_TIMEOUT,
                   interval=0.5, max_interval=1.0)  # fmt: skip
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited with {server.returncode}; see {log.name}")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@contextlib.contextmanager
def _existing(url: str) -> Iterator[str]:
    yield url


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acm-delay", type=float, default=30.0, help="seconds to ISSUED")
    parser.add_argument("--alb-delay", type=float, default=20.0, help="seconds to active")
    parser.add_argument("--dns-delay", type=float, default=10.0, help="seconds of propagation")
    parser.add_argument("--poll-interval", type=float, default=0.5,
                        help="KFALB_POLL_INTERVAL_SECONDS (first delay between polls)")  # fmt: skip
    parser.add_argument("--poll-max-interval", type=float, default=1.0,
                        help="KFALB_POLL_MAX_INTERVAL_SECONDS (longest delay between polls)")  # fmt: skip
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="the stack spec")
    parser.add_argument("--quiet", action="store_true", help="no per-task timeline")
    parser.add_argument("--api-url", help="use this running Prefect server instead of starting one")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="the Prefect server's database: SQLite in its home (default), or a "
                        "throwaway PostgreSQL cluster, as a team's server runs (SQLite answers "
                        "concurrent writes with 503 'database is locked'; Prefect's client "
                        "tries again 2 s later)")  # fmt: skip
    parser.add_argument("--world", choices=("process", "thread"), default="process",
                        help="run the sandbox in a process of its own, as the cloud runs "
                        "elsewhere (default), or in threads of this process (its CPU work then "
                        "competes with the flow's)")  # fmt: skip
    return parser.parse_args(argv)


def _flow_run_cost() -> float:
    """Run an empty flow twice: the first pays Prefect's one-off start in this process (kept out
    of the timed setup); the second's wall time is the fixed cost of any flow run here."""
    from prefect import flow

    @flow(name="benchmark-empty-flow")
    def empty() -> None:
        return None

    empty()
    started = time.monotonic()
    empty()
    return time.monotonic() - started


def _run_setup(config: Path) -> tuple[Any, float, datetime]:
    """One setup run; returns its final state, wall time and when it was called."""
    from core.spec import load_spec
    from flows.setup_load_balancer import setup_load_balancer

    spec = load_spec(config.read_text(), source=config.name)
    called, started = datetime.now(UTC), time.monotonic()
    state = setup_load_balancer(spec=spec, return_state=True)
    return state, time.monotonic() - started, called


def _timeline(flow_run_id: Any, called: datetime) -> list[str]:
    """The flow run and each of its task runs: start (since the call) and duration."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    every: list[Any] = [run, *tasks]
    runs = sorted((r for r in every if r.start_time), key=lambda r: r.start_time)
    return [
        f"  {(r.start_time - called).total_seconds():7.2f}s  "
        f"+{r.total_run_time.total_seconds():6.2f}s  {r.name}"
        for r in runs
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="kfalb-bench-") as scratch:
        work = Path(scratch)
        (work / "prefect").mkdir()
        with contextlib.ExitStack() as stack:
            database = stack.enter_context(postgres()) if args.database == "postgres" else ""
            server = (_existing(args.api_url) if args.api_url
                      else prefect_server(work / "prefect", database=database))  # fmt: skip
            api_url = stack.enter_context(server)
            os.environ.update(PREFECT_API_URL=api_url, PREFECT_HOME=str(work / "prefect"),
                              AWS_CONFIG_FILE=str(work / "aws-config"),
                              AWS_SHARED_CREDENTIALS_FILE=str(work / "aws-credentials"))  # fmt: skip
            with _world(work / STATE_DIR, args) as world_env:
                os.environ.update(world_env)
                os.environ["KFALB_POLL_INTERVAL_SECONDS"] = str(args.poll_interval)
                os.environ["KFALB_POLL_MAX_INTERVAL_SECONDS"] = str(args.poll_max_interval)
                fixed = _flow_run_cost()
                state, wall, called = _run_setup(args.config)
                run_id = state.state_details.flow_run_id
                timeline = [] if args.quiet else _timeline(run_id, called)
            _drain()
    if not state.is_completed():
        print(f"setup did not complete: {state.type.value}: {state.message}", file=sys.stderr)
        return 1
    acm, alb, dns = args.acm_delay, args.alb_delay, args.dns_delay
    critical, sequential = critical_path(acm, alb, dns), sequential_path(acm, alb, dns)
    print(f"delays: ACM {acm:g}s, ALB {alb:g}s, DNS {dns:g}s; polling "
          f"{args.poll_interval:g}s up to {args.poll_max_interval:g}s; Prefect server on "
          f"{args.database}, sandbox in {'its own process' if args.world == 'process' else 'threads'}")  # fmt: skip
    if timeline:
        print("runs (start after the call, duration):", *timeline, sep="\n")
    print(f"critical path   max(ACM, DNS) + max(ALB, DNS)  {critical:6.1f}s")
    print(f"setup wall time                                {wall:6.1f}s  "
          f"(an empty flow run costs {fixed:.1f}s here)")  # fmt: skip
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"ratio           wall / critical path           {wall / critical:6.3f}  "
          f"(load average {load} on {os.cpu_count()} cores)")  # fmt: skip
    print(f"for reference   ACM + ALB + DNS in sequence    {sequential:6.1f}s  "
          f"(ratio {wall / sequential:.3f})")  # fmt: skip
    return 0


@contextlib.contextmanager
def _world(directory: Path, args: argparse.Namespace) -> Iterator[dict[str, str]]:
    """A sandbox world with the benchmark's delays; yields its environment."""
    delays = {"acm_delay": args.acm_delay, "alb_delay": args.alb_delay,
              "dns_delay": args.dns_delay}  # fmt: skip
    if args.world == "thread":
        from sandbox.world import World, WorldOptions

        with World(directory, WorldOptions(**delays)) as world:
            yield world.env
        return
    from kfalb.sandbox_cmd import ENV_FILE, start_detached, stop_detached

    start_detached(
        directory, [f"--{name.replace('_', '-')}={value}" for name, value in delays.items()]
    )
    try:
        lines = (directory / ENV_FILE).read_text().splitlines()
        pairs = (shlex.split(line.removeprefix("export "))[0] for line in lines if line)
        yield dict(pair.split("=", 1) for pair in pairs)
    finally:
        stop_detached(directory)


def _drain() -> None:
    """Send the logs and events still queued while the server runs (it stops next)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)
    EventsWorker.drain_all(timeout=30)


if __name__ == "__main__":
    sys.exit(main())

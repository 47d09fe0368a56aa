"""`kfalb sandbox up|status|down|env`: run the stand-in world in the foreground or background."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from core.errors import KfalbError, WaitTimeout
from core.waiting import wait_until

STATE_DIR = Path(".kfalb-sandbox")
PID_FILE = "pid"
ENV_FILE = "env"
LOG_FILE = "sandbox.log"


def sandbox_command(args: argparse.Namespace) -> int:
    """Dispatch a `kfalb sandbox` sub-command."""
    directory = STATE_DIR.resolve()
    command = args.sandbox_command
    if command == "up":
        return _up(args, directory)
    if command == "status":
        return _status(directory)
    if command == "down":
        return 0 if stop_detached(directory) else _report("the sandbox is not running")
    if command == "env":
        if _running_pid(directory) is None:
            raise KfalbError(
                "the sandbox is not running: start it with `kfalb sandbox up --detach`"
            )
        sys.stdout.write((directory / ENV_FILE).read_text())
        return 0
    if command == "dns":
        from kfalb.sandbox_dns import dns_command

        return dns_command(args, directory)
    raise KfalbError(f"unknown sandbox command {command!r}")


def world_arguments(args: argparse.Namespace) -> list[str]:
    """The `sandbox up` options as arguments, to start the same world in a child process."""
    return [
        f"--controller={args.controller}",
        "--root-in-route53" if args.root_in_route53 else "--no-root-in-route53",
        "--pod-identity-agent"
        if getattr(args, "pod_identity_agent", True)
        else "--no-pod-identity-agent",
        f"--acm-delay={args.acm_delay}",
        f"--alb-delay={args.alb_delay}",
        f"--dns-delay={args.dns_delay}",
        *([f"--faults={args.faults}"] if getattr(args, "faults", "") else []),
        *([f"--root-account={args.root_account}"] if getattr(args, "root_account", None) else []),
        *(
            [f"--root-external-id={args.root_external_id}"]
            if getattr(args, "root_external_id", None)
            else []
        ),
        *(f"--cluster={cluster}" for cluster in getattr(args, "clusters", [])),
        *([f"--route53-rate={args.route53_rate}"] if getattr(args, "route53_rate", None) else []),
    ]


def _up(args: argparse.Namespace, directory: Path) -> int:
    if _running_pid(directory):
        raise KfalbError(
            f"the sandbox already runs (pid file {directory / PID_FILE}); `kfalb sandbox down` first"
        )
    if args.detach:
        start_detached(directory, world_arguments(args))
        print(f"sandbox up; use it with: . {directory / ENV_FILE}")
        if getattr(args, "root_account", None):
            from sandbox.aws.seed import ROOT_DNS_ROLE

            print(
                f"root zone in account {args.root_account}; route53.rootDomain.roleArn: "
                f"arn:aws:iam::{args.root_account}:role/{ROOT_DNS_ROLE}"
            )
        return 0
    from sandbox.world import World, WorldOptions

    options = WorldOptions(
        controller=args.controller,
        root_in_route53=args.root_in_route53,
        pod_identity_agent=getattr(args, "pod_identity_agent", True),
        acm_delay=args.acm_delay,
        alb_delay=args.alb_delay,
        dns_delay=args.dns_delay,
        faults=getattr(args, "faults", ""),
        root_account_id=getattr(args, "root_account", None),
        root_external_id=getattr(args, "root_external_id", None),
        clusters=tuple(getattr(args, "clusters", [])),
        route53_rate=getattr(args, "route53_rate", None),
    )
    world = World(directory, options)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        world.start()
        (directory / PID_FILE).write_text(str(os.getpid()))
        if world.root_account is not None:
            print(
                f"root zone {options.root_domain} in account {world.root_account.account_id}; "
                f"route53.rootDomain.roleArn: {world.root_account.role_arn}",
                flush=True,
            )
        for cluster in world.clusters:
            print(
                f"cluster {cluster.place.name} in account {cluster.place.account} "
                f"({cluster.place.region}): kubeconfig context {cluster.context}, AWS profile "
                f"sandbox-{cluster.place.account}, root zone {cluster.root_domain}",
                flush=True,
            )
        print(f"sandbox up (Ctrl-C stops it); use it with: . {directory / ENV_FILE}", flush=True)
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        # Also after a failed or interrupted start: whatever began must not keep running.
        world.stop()
        (directory / PID_FILE).unlink(missing_ok=True)
    return 0


def start_detached(directory: Path, arguments: list[str], *, timeout: float = 60.0) -> None:
    """Start `kfalb sandbox up` in the background and return once its env file is written."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ENV_FILE).unlink(missing_ok=True)
    with (directory / LOG_FILE).open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kfalb", "sandbox", "up", *arguments],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=directory.parent,
        )
    try:
        wait_until(
            lambda: process.poll() is not None or _running_pid(directory) is not None,
            bool,
            what="the sandbox to start",
            timeout=timeout,
            interval=0.2,
            max_interval=0.5,
        )
    except WaitTimeout:
        process.kill()
        raise
    if process.poll() is not None:
        raise KfalbError(f"the sandbox did not start; see {directory / LOG_FILE}")


def stop_detached(directory: Path, *, timeout: float = 20.0) -> bool:
    """Stop the background sandbox started from `directory`; False when none runs."""
    pid = _running_pid(directory)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    try:
        _wait_gone(pid, timeout)
    except WaitTimeout:
        # It did not stop in time: end it (the OS closes its ports), then report.
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, timeout)
        raise KfalbError(
            f"the sandbox (pid {pid}) did not stop within {timeout:g} s and was killed; "
            f"see {directory / LOG_FILE}"
        ) from None
    finally:
        if not _alive(pid):
            (directory / PID_FILE).unlink(missing_ok=True)
            (directory / ENV_FILE).unlink(missing_ok=True)
    return True


def _wait_gone(pid: int, timeout: float) -> None:
    wait_until(
        lambda: _alive(pid),
        lambda alive: not alive,
        what=f"sandbox pid {pid} to stop",
        timeout=timeout,
        interval=0.1,
        max_interval=0.5,
    )


def _status(directory: Path) -> int:
    pid = _running_pid(directory)
    if pid is None:
        return _report("the sandbox is not running")
    print(f"the sandbox runs (pid {pid}); environment in {directory / ENV_FILE}:")
    sys.stdout.write((directory / ENV_FILE).read_text())
    return 0


def _running_pid(directory: Path) -> int | None:
    """The pid of the sandbox started from `directory`, if it still runs and is up."""
    try:
        pid = int((directory / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    if not (_alive(pid) and _is_sandbox(pid) and (directory / ENV_FILE).exists()):
        return None
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An exited child nobody has reaped yet (a zombie) is gone for every purpose here.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_sandbox(pid: int) -> bool:
    """Whether `pid` is a `kfalb sandbox up`: a stale pid file may name a reused pid."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc to ask (not Linux): trust the pid file
    named = any(arg == b"kfalb" or arg.endswith(b"/kfalb") for arg in argv)
    return named and b"sandbox" in argv and b"up" in argv


def _report(message: str) -> int:
    print(message, file=sys.stderr)
    return 1

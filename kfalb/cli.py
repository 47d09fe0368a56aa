"""Command line: plan, setup, cleanup, drift, stacks, demo, server and sandbox, all running the
same flows. Reads of saved stacks answer without a server; flows use the chosen Prefect server or
the local one kfalb keeps (kfalb.server); Ctrl-C stops at a safe point (kfalb.interrupts)."""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

from core.errors import KfalbError, SpecError, StalePlan
from core.spec import StackSpec, load_spec
from kfalb import output
from kfalb.help_text import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STALE,
    EXIT_USAGE,
)
from kfalb.interrupts import run_interruptible
from kfalb.parser import build_parser
from kfalb.parser import stack_argument as stack_argument  # kept for callers of the old place
from tasks import interrupt

EXIT_DRIFT = EXIT_CHANGES  # kept for callers of the old name
T = TypeVar("T")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `kfalb`; returns the exit status."""
    args = build_parser(HANDLERS).parse_args(argv)
    output.configure(verbose=bool(getattr(args, "verbose", False)))
    interrupt.clear()
    try:
        code = args.handler(args)
    except KfalbError as error:
        if interrupt.stop_requested():
            return _interrupted(args)
        print(f"kfalb: {error}", file=sys.stderr)
        if isinstance(error, StalePlan):
            return EXIT_STALE
        return EXIT_USAGE if isinstance(error, SpecError) else EXIT_ERROR
    except KeyboardInterrupt:  # outside a flow (a server starting, a prompt): nothing to stop
        print("\nkfalb: interrupted; nothing was changed", file=sys.stderr)
        return EXIT_INTERRUPTED
    if interrupt.stop_requested() and code != EXIT_OK:
        return _interrupted(args)
    return int(code)


def run() -> NoReturn:
    """The `kfalb` program: `main()`, then the exit handlers (Prefect's last flush of logs and
    events to its server), then exit without the interpreter's teardown of every loaded module,
    which takes seconds of a busy machine after the work is done (the last line printed)."""
    try:
        code = main()
    except SystemExit as done:  # argparse: --help, --version, usage errors
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()  # what the interpreter would wait for too
    atexit._run_exitfuncs()  # CPython's own exit handlers, run as at a normal exit
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def read_spec(path: str) -> StackSpec:
    """Load a config file into a spec; a missing file is a user error."""
    file = Path(path)
    try:
        data = file.read_bytes()  # decoded by load_spec: not UTF-8 is a SpecError there
    except OSError as error:
        raise SpecError(f"cannot read {path}: {error.strerror}") from None
    return load_spec(data, source=file.name)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _with_server(command: Callable[[], T], *, stack: str = "") -> T:
    """Run a command that runs flows: against the chosen or local Prefect server, with Ctrl-C
    stopping it at a safe point."""
    from kfalb.server import prefect_api

    at_once = (
        f"The lock of stack {stack} lapses within KFALB_LOCK_LEASE_SECONDS (default 60 s), or "
        f"`kfalb unlock --stack {stack}` frees it now; re-running resumes."
        if stack
        else "Re-running resumes."
    )
    with prefect_api(_say):
        return run_interruptible(command, at_once=at_once)


def _plan(args: argparse.Namespace) -> int:
    from kfalb.commands import plan, plan_destroy
    from kfalb.stacks import saved_spec

    if args.destroy:
        spec = read_spec(args.config) if args.config else None
        return plan_destroy(
            stack=args.stack or (spec.name if spec else ""),
            spec=spec,
            credentials_block=args.aws_credentials_block,
        )
    spec = saved_spec(args.stack) if args.stack else _checked_spec(args.config)
    return run_interruptible(
        lambda: plan(
            spec, credentials_block=args.aws_credentials_block, output=args.output, out=args.out
        )
    )


def _setup(args: argparse.Namespace) -> int:
    from kfalb.plan_file import read_plan_file

    spec = _checked_spec(args.config) if args.config else None
    approved = None
    if args.plan:  # a plan of this stack, made from this spec (else exit 2, or 4 when stale)
        spec, approved = read_plan_file(args.plan, spec)
        _check_paths(spec)
    if spec is None:
        raise SpecError("setup: give --config FILE (or --plan FILE, a plan saved by `kfalb plan`)")
    # A first line before the flows' imports (seconds; over 20 on a busy machine).
    _say(
        f"Setting up stack {spec.name}: {spec.subdomain} on EKS cluster {spec.cluster.name} "
        f"({spec.region})"
    )
    from kfalb.commands import setup

    return _with_server(
        lambda: setup(spec, credentials_block=args.aws_credentials_block, approved=approved),
        stack=spec.name,
    )


def _checked_spec(path: str) -> StackSpec:
    """The spec, with the files it names checked here too: before any AWS call or flow run."""
    return _check_paths(read_spec(path))


def _check_paths(spec: StackSpec) -> StackSpec:
    from tasks.k8s.manifests import check_manifests_path

    check_manifests_path(spec.stack.manifests_path)
    return spec


def _cleanup(args: argparse.Namespace) -> int:
    from kfalb.commands import cleanup, nothing_to_remove
    from kfalb.confirm import DestroyPreview, confirm_cleanup, destroy_preview
    from kfalb.stacks import saved_stacks

    spec = read_spec(args.config) if args.config else None
    name = args.stack or (spec.name if spec else "")
    if spec is None and name not in saved_stacks():
        return nothing_to_remove(name)

    def preview() -> DestroyPreview:
        return destroy_preview(stack=name, spec=spec, credentials_block=args.aws_credentials_block)

    if not confirm_cleanup(preview, stack=name, yes=args.yes):
        _say("Cleanup cancelled; nothing was removed.")
        return EXIT_ERROR
    _say(f"Cleaning up stack {name}")  # a first line before the flows' imports
    return _with_server(
        lambda: cleanup(
            spec=spec,
            stack=args.stack,
            credentials_block=args.aws_credentials_block,
            adopt_block=args.adopt_block,
        ),
        stack=name,
    )


def _drift(args: argparse.Namespace) -> int:
    from kfalb.commands import drift
    from kfalb.stacks import require_saved

    spec = read_spec(args.config) if args.config else None
    if args.stack and spec is None:
        require_saved(args.stack)  # a wrong name answers at once, without a server
    fleet = bool(getattr(args, "all", False))
    if args.output == "json" and fleet:
        raise SpecError("--output json takes one stack (--stack or --config), not --all")
    _say(
        "Checking every saved stack for drift"
        if fleet
        else f"Checking stack {args.stack or (spec.name if spec else '')} for drift"
    )
    return _with_server(
        lambda: drift(
            spec=spec,
            stack=args.stack,
            fleet=fleet,
            remediate=args.remediate,
            credentials_block=args.aws_credentials_block,
            output=args.output,
        ),
        stack=args.stack or (spec.name if spec else ""),
    )


def _unlock(args: argparse.Namespace) -> int:
    from core.naming import require_stack_name
    from kfalb.commands import unlock, unlock_cluster

    usage = "unlock: give --stack NAME, or --cluster NAME with --region REGION."
    if args.cluster or args.region:
        if args.stack or not (args.cluster and args.region):
            raise SpecError(usage)
        return _with_server(lambda: unlock_cluster(args.cluster, args.region))
    if not args.stack:
        raise SpecError(usage)
    stack = require_stack_name(args.stack)  # a name that is no name: before any server starts
    return _with_server(lambda: unlock(stack))


def _stacks(args: argparse.Namespace) -> int:
    from kfalb.stacks import list_stacks

    return list_stacks()


def _import(args: argparse.Namespace) -> int:
    spec = read_spec(args.config)

    def run() -> int:
        from flows.import_stack import import_stack

        rows = import_stack(
            spec=spec,
            take_ownership=args.take_ownership,
            aws_credentials_block=args.aws_credentials_block,
        )
        print("\n".join(rows) or "Nothing found to import.")
        return EXIT_OK

    return _with_server(run, stack=spec.name)


def _demo(args: argparse.Namespace) -> int:
    from kfalb.demo import run_demo

    return run_demo(keep=args.keep)


def _server(args: argparse.Namespace) -> int:
    from kfalb import server

    if args.server_command == "stop":
        print(server.stop())
    elif args.server_command == "start":
        chosen = server.configured_api_url()
        if chosen:
            print(f"kfalb uses the Prefect server at {chosen} (PREFECT_API_URL); none started.")
        else:
            print(f"Local Prefect server at {server.ensure_running(_say).ui}")
    else:
        print(server.status())
    return EXIT_OK


def _sandbox(args: argparse.Namespace) -> int:
    from kfalb.sandbox_cmd import sandbox_command

    return sandbox_command(args)


def _interrupted(args: argparse.Namespace) -> int:
    """The line after a run stopped on Ctrl-C: what to do next; exit 130."""
    name = getattr(args, "stack", None) or _config_stack(getattr(args, "config", None))
    target = f"--stack {name}" if name else "--config FILE"
    next_step = {
        "setup": f"re-run setup to resume, or `kfalb cleanup {target}` to remove",
        "cleanup": f"re-run `kfalb cleanup {target}` to finish removing the stack",
        "import": "re-run `kfalb import` to resume",
    }.get(args.command, "nothing was changed")
    if args.command == "drift" and getattr(args, "remediate", False):
        next_step = f"re-run `kfalb drift {target} --remediate` to finish the repair"
    print(f"kfalb: interrupted; {next_step}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _config_stack(path: str | None) -> str:
    try:
        return read_spec(path).name if path else ""
    except KfalbError:
        return ""


HANDLERS = {
    "plan": _plan,
    "setup": _setup,
    "cleanup": _cleanup,
    "drift": _drift,
    "unlock": _unlock,
    "stacks": _stacks,
    "import": _import,
    "demo": _demo,
    "server": _server,
    "sandbox": _sandbox,
}

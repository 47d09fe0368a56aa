"""Command line: plan, setup, cleanup, drift, demo and sandbox, all running the same flows."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import KfalbError, SpecError
from core.spec import StackSpec, load_spec

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DRIFT = 3


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `kfalb`; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "httpcore", "werkzeug", "botocore", "urllib3", "kubernetes"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except SpecError as error:
        print(f"kfalb: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KfalbError as error:
        print(f"kfalb: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("kfalb: interrupted", file=sys.stderr)
        return 130


def read_spec(path: str) -> StackSpec:
    """Load a config file into a spec; a missing file is a user error."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(f"cannot read {path}: {error.strerror}") from None
    return load_spec(text, source=file.name)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kfalb",
        description="Expose Kubeflow on EKS over an AWS ALB with HTTPS, and take it down again.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = commands.add_parser(
        "plan", help="show what setup would create, change or leave (read only)"
    )
    _config(plan, required=True)
    _credentials(plan)
    plan.set_defaults(handler=_plan)

    setup = commands.add_parser("setup", help="run the setup flow")
    _config(setup, required=True)
    _credentials(setup)
    setup.set_defaults(handler=_setup)

    cleanup = commands.add_parser("cleanup", help="run the cleanup flow")
    _target(cleanup)
    _credentials(cleanup)
    cleanup.set_defaults(handler=_cleanup)

    drift = commands.add_parser("drift", help="run the drift check (exit 3 on drift)")
    _target(drift, allow_all=True)
    _credentials(drift)
    drift.add_argument("--remediate", action="store_true", help="re-apply what drifted")
    drift.set_defaults(handler=_drift)

    imported = commands.add_parser(
        "import", help="record a stack set up by the kubeflow-manifests script (adopted)"
    )
    _config(imported, required=True)
    imported.add_argument(
        "--take-ownership",
        action="store_true",
        help="tag the imported zone, certificates and record as the stack's (cleanup removes them)",
    )
    _credentials(imported)
    imported.set_defaults(handler=_import)

    demo = commands.add_parser("demo", help="the whole job against the bundled sandbox")
    demo.add_argument("--keep", action="store_true", help="leave the sandbox and stack running")
    demo.set_defaults(handler=_demo)

    sandbox = commands.add_parser("sandbox", help="start, inspect or stop the stand-in world")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    up = sandbox_commands.add_parser("up", help="start the sandbox (foreground unless --detach)")
    up.add_argument("--detach", action="store_true", help="run in the background")
    up.add_argument("--controller", choices=("none", "preinstalled", "auto-mode"), default="none")
    up.add_argument(
        "--root-in-route53",
        dest="root_in_route53",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="host the root zone in Route53 (--no-root-in-route53: elsewhere)",
    )
    up.add_argument("--root-elsewhere", dest="root_in_route53", action="store_false")
    up.add_argument("--acm-delay", type=float, default=2.0, help="seconds until ACM validates")
    up.add_argument("--alb-delay", type=float, default=2.0, help="seconds until the ALB is active")
    up.add_argument("--dns-delay", type=float, default=1.0, help="seconds of DNS propagation")
    for name, helptext in (
        ("status", "show whether the sandbox runs"),
        ("down", "stop the sandbox"),
        ("env", "print the environment file"),
    ):
        sandbox_commands.add_parser(name, help=helptext)
    sandbox.set_defaults(handler=_sandbox)
    return parser


def _config(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--config", "-c", required=required, help="config.yaml (the guide's shape + options)"
    )


def _credentials(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--aws-credentials-block",
        default=None,
        help="name of a prefect-aws AwsCredentials block (default: the standard AWS chain)",
    )


def _target(parser: argparse.ArgumentParser, *, allow_all: bool = False) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--stack", help="name of a saved stack")
    group.add_argument("--config", "-c", help="config.yaml of the stack")
    if allow_all:
        group.add_argument("--all", action="store_true", help="every saved stack (fleet)")


def _plan(args: argparse.Namespace) -> int:
    from kfalb.commands import plan

    return plan(read_spec(args.config), credentials_block=args.aws_credentials_block)


def _setup(args: argparse.Namespace) -> int:
    from kfalb.commands import setup

    return setup(read_spec(args.config), credentials_block=args.aws_credentials_block)


def _cleanup(args: argparse.Namespace) -> int:
    from kfalb.commands import cleanup

    spec = read_spec(args.config) if args.config else None
    return cleanup(spec=spec, stack=args.stack, credentials_block=args.aws_credentials_block)


def _drift(args: argparse.Namespace) -> int:
    from kfalb.commands import drift

    spec = read_spec(args.config) if args.config else None
    return drift(
        spec=spec,
        stack=args.stack,
        fleet=bool(getattr(args, "all", False)),
        remediate=args.remediate,
        credentials_block=args.aws_credentials_block,
    )


def _import(args: argparse.Namespace) -> int:
    from flows.import_stack import import_stack

    rows = import_stack(
        spec=read_spec(args.config),
        take_ownership=args.take_ownership,
        aws_credentials_block=args.aws_credentials_block,
    )
    print("\n".join(rows) or "Nothing found to import.")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from kfalb.demo import run_demo

    return run_demo(keep=args.keep)


def _sandbox(args: argparse.Namespace) -> int:
    from kfalb.sandbox_cmd import sandbox_command

    return sandbox_command(args)

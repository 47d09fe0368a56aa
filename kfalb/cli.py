"""Command line: plan, setup, cleanup, drift, stacks, demo and sandbox, all running the same flows."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import KfalbError, SpecError, StalePlan
from core.naming import require_stack_name
from core.spec import StackSpec, load_spec
from core.version import package_version
from kfalb import output
from kfalb.help_text import (
    DESCRIPTIONS,
    EPILOGS,
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_STALE,
    EXIT_USAGE,
)

EXIT_DRIFT = EXIT_CHANGES  # kept for callers of the old name


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `kfalb`; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    output.configure(verbose=bool(getattr(args, "verbose", False)))
    # A busy machine can take well over Prefect's default 20 s to start the temporary server
    # that commands without PREFECT_API_URL use (seen: setup failing on it under load).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except RuntimeError as error:
        if "ephemeral Prefect API server" not in str(error):
            raise
        print(
            f"kfalb: {error} Raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or run a "
            "server (`prefect server start`) and set PREFECT_API_URL.",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except SpecError as error:
        print(f"kfalb: {error}", file=sys.stderr)
        return EXIT_USAGE
    except StalePlan as error:
        print(f"kfalb: {error}", file=sys.stderr)
        return EXIT_STALE
    except KfalbError as error:
        print(f"kfalb: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("kfalb: interrupted; re-running the same command resumes", file=sys.stderr)
        return 130


def read_spec(path: str) -> StackSpec:
    """Load a config file into a spec; a missing file is a user error."""
    file = Path(path)
    try:
        data = file.read_bytes()  # decoded by load_spec: not UTF-8 is a SpecError there
    except OSError as error:
        raise SpecError(f"cannot read {path}: {error.strerror}") from None
    return load_spec(data, source=file.name)


def stack_argument(value: str) -> str:
    """argparse type of --stack: a stack name, or a usage error (exit 2) before anything runs."""
    try:
        return require_stack_name(value)
    except SpecError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--stack: ")) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kfalb",
        description="Expose Kubeflow on EKS over an AWS ALB with HTTPS, and take it down again.",
        epilog="`kfalb COMMAND --help` shows each command's example and exit codes.",
    )
    parser.add_argument("--version", action="version", version=f"kfalb {package_version()}")
    _verbose(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, helptext: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=helptext,
            description=DESCRIPTIONS[name],
            epilog=EPILOGS[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _verbose(sub)
        return sub

    plan = command("plan", "show what setup would create, change or leave (read only)")
    _config(plan, required=True)
    _credentials(plan)
    _output(plan)
    plan.add_argument(
        "--out",
        metavar="FILE",
        help="also save the plan (JSON: items, digest, policy findings, cost, the spec) for "
        "`kfalb setup --plan FILE`",
    )
    plan.set_defaults(handler=_plan)

    setup = command("setup", "run the setup flow")
    _config(setup, required=False)
    setup.add_argument(
        "--plan",
        metavar="FILE",
        help="a plan saved by `kfalb plan --out`: apply only if a fresh plan is the same "
        "(else exit 4, nothing applied); --config may then be left out",
    )
    _credentials(setup)
    setup.set_defaults(handler=_setup)

    cleanup = command("cleanup", "run the cleanup flow")
    _target(cleanup)
    _credentials(cleanup)
    cleanup.add_argument(
        "--adopt-block",
        action="store_true",
        help="move a block saved in another AWS account or cluster here (forgets its old ids)",
    )
    cleanup.set_defaults(handler=_cleanup)

    drift = command("drift", "run the drift check (exit 3 on drift)")
    _target(drift, allow_all=True)
    _credentials(drift)
    _output(drift)
    drift.add_argument("--remediate", action="store_true", help="re-apply what drifted")
    drift.set_defaults(handler=_drift)

    unlock = command("unlock", "break a stack's lock by hand (when its holder is gone for good)")
    unlock.add_argument("--stack", help="name of the stack")
    unlock.add_argument("--cluster", help="an EKS cluster's name: break its cluster lock instead")
    unlock.add_argument("--region", help="the cluster's region (with --cluster)")
    unlock.set_defaults(handler=_unlock)

    stacks = command("stacks", "list the saved stacks")
    stacks.set_defaults(handler=_stacks)

    imported = command("import", "record a stack set up by the kubeflow-manifests script (adopted)")
    _config(imported, required=True)
    imported.add_argument(
        "--take-ownership",
        action="store_true",
        help="tag the imported zone, certificates and record as the stack's (cleanup removes them)",
    )
    _credentials(imported)
    imported.set_defaults(handler=_import)

    demo = command("demo", "the whole job against the bundled sandbox")
    demo.add_argument("--keep", action="store_true", help="leave the sandbox and stack running")
    demo.set_defaults(handler=_demo)

    sandbox = command("sandbox", "start, inspect or stop the stand-in world")
    from kfalb.sandbox_args import add_sandbox_commands

    add_sandbox_commands(sandbox)
    sandbox.set_defaults(handler=_sandbox)
    return parser


def _verbose(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        # On a sub-command, absent means "as given before the sub-command".
        default=False if top else argparse.SUPPRESS,
        help="show every log line (Prefect's and the libraries'), not one line per step",
    )


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


def _output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        "-o",
        choices=("text", "json"),
        default="text",
        help="json: one JSON document on stdout and nothing else (logs stay on stderr)",
    )


def _target(parser: argparse.ArgumentParser, *, allow_all: bool = False) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--stack", type=stack_argument, help="name of a saved stack (`kfalb stacks` lists them)"
    )
    group.add_argument("--config", "-c", help="config.yaml of the stack")
    if allow_all:
        group.add_argument("--all", action="store_true", help="every saved stack (fleet)")


def _plan(args: argparse.Namespace) -> int:
    from kfalb.commands import plan

    return plan(
        _checked_spec(args.config),
        credentials_block=args.aws_credentials_block,
        output=args.output,
        out=args.out,
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
    print(f"Setting up stack {spec.name}: {spec.subdomain} on EKS cluster {spec.cluster.name} "
          f"({spec.region})", file=sys.stderr, flush=True)  # fmt: skip
    from kfalb.commands import setup

    return setup(spec, credentials_block=args.aws_credentials_block, approved=approved)


def _checked_spec(path: str) -> StackSpec:
    """The spec, with the files it names checked here too: before any AWS call or flow run."""
    return _check_paths(read_spec(path))


def _check_paths(spec: StackSpec) -> StackSpec:
    from tasks.k8s.manifests import check_manifests_path

    check_manifests_path(spec.stack.manifests_path)
    return spec


def _cleanup(args: argparse.Namespace) -> int:
    from kfalb.commands import cleanup

    spec = read_spec(args.config) if args.config else None
    return cleanup(spec=spec, stack=args.stack, credentials_block=args.aws_credentials_block,
                   adopt_block=args.adopt_block)  # fmt: skip


def _drift(args: argparse.Namespace) -> int:
    from kfalb.commands import drift

    spec = read_spec(args.config) if args.config else None
    return drift(
        spec=spec,
        stack=args.stack,
        fleet=bool(getattr(args, "all", False)),
        remediate=args.remediate,
        credentials_block=args.aws_credentials_block,
        output=args.output,
    )


def _unlock(args: argparse.Namespace) -> int:
    from kfalb.commands import unlock, unlock_cluster

    if args.cluster or args.region:
        if args.stack or not (args.cluster and args.region):
            raise SpecError("unlock: give --stack NAME, or --cluster NAME with --region REGION.")
        return unlock_cluster(args.cluster, args.region)
    if not args.stack:
        raise SpecError("unlock: give --stack NAME, or --cluster NAME with --region REGION.")
    return unlock(args.stack)


def _stacks(args: argparse.Namespace) -> int:
    from kfalb.stacks import list_stacks

    return list_stacks()


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

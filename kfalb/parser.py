"""The arguments of `kfalb` and its sub-commands (argparse); each sub-command names its handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping

from core.errors import SpecError
from core.naming import require_stack_name
from core.version import package_version
from kfalb.help_text import DESCRIPTIONS, EPILOGS

Handler = Callable[[argparse.Namespace], int]


def stack_argument(value: str) -> str:
    """argparse type of --stack: a stack name, or a usage error (exit 2) before anything runs."""
    try:
        return require_stack_name(value)
    except SpecError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--stack: ")) from None


def build_parser(handlers: Mapping[str, Handler]) -> argparse.ArgumentParser:
    """The parser; `handlers` gives each sub-command's handler by name."""
    parser = argparse.ArgumentParser(
        prog="kfalb",
        description="Expose Kubeflow on EKS over an AWS ALB with HTTPS, and take it down again.",
        epilog="`kfalb COMMAND --help` shows each command's example and exit codes.",
    )
    parser.add_argument("--version", action="version", version=f"kfalb {package_version()}")
    _verbose(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, helptext: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=helptext, description=DESCRIPTIONS[name],
                                  epilog=EPILOGS[name],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        _verbose(sub)
        sub.set_defaults(handler=handlers[name])
        return sub

    _plan_and_setup(command)
    _cleanup_and_drift(command)

    unlock = command("unlock", "break a stack's lock by hand (when its holder is gone for good)")
    unlock.add_argument("--stack", help="name of the stack")
    unlock.add_argument("--cluster", help="an EKS cluster's name: break its cluster lock instead")
    unlock.add_argument("--region", help="the cluster's region (with --cluster)")

    command("stacks", "list the saved stacks")

    imported = command("import", "record a stack set up by the kubeflow-manifests script (adopted)")
    _config(imported, required=True)
    imported.add_argument(
        "--take-ownership",
        action="store_true",
        help="tag the imported zone, certificates and record as the stack's (cleanup removes them)",
    )
    _credentials(imported)

    demo = command("demo", "the whole job against the bundled sandbox")
    demo.add_argument("--keep", action="store_true", help="leave the sandbox and stack running")

    server = command("server", "show, start or stop the local Prefect server kfalb keeps")
    server.add_argument("server_command", choices=("status", "start", "stop"), nargs="?",
                        default="status", help="default: status")  # fmt: skip

    sandbox = command("sandbox", "start, inspect or stop the stand-in world")
    from kfalb.sandbox_args import add_sandbox_commands

    add_sandbox_commands(sandbox)
    return parser


def _plan_and_setup(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    plan = command("plan", "show what setup would create, change or leave (read only)")
    _target(plan)
    _credentials(plan)
    _output(plan)
    plan.add_argument(
        "--destroy", action="store_true", help="show what cleanup would remove and leave instead"
    )
    plan.add_argument(
        "--out",
        metavar="FILE",
        help="also save the plan (JSON: items, digest, policy findings, cost, the spec) for "
        "`kfalb setup --plan FILE`",
    )

    setup = command("setup", "run the setup flow")
    _config(setup, required=False)
    setup.add_argument(
        "--plan",
        metavar="FILE",
        help="a plan saved by `kfalb plan --out`: apply only if a fresh plan is the same "
        "(else exit 4, nothing applied); --config may then be left out",
    )
    _credentials(setup)


def _cleanup_and_drift(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    cleanup = command("cleanup", "show what the cleanup flow removes, ask, then run it")
    _target(cleanup)
    _credentials(cleanup)
    cleanup.add_argument(
        "--yes", "-y", action="store_true",
        help="do not ask (also KFALB_YES=1); without a terminal to ask on, one of them is needed",
    )  # fmt: skip
    cleanup.add_argument(
        "--adopt-block",
        action="store_true",
        help="move a block saved in another AWS account or cluster here (forgets its old ids)",
    )

    drift = command("drift", "run the drift check (exit 3 on drift)")
    _target(drift, allow_all=True)
    _credentials(drift)
    _output(drift)
    drift.add_argument("--remediate", action="store_true", help="re-apply what drifted")


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

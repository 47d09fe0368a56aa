"""The arguments of `kfalb sandbox up|status|down|env|dns`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    #: What `add_subparsers` returns: the sandbox's sub-commands are added to it.
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def add_sandbox_commands(sandbox: argparse.ArgumentParser) -> None:
    """Add the sandbox's sub-commands to the `kfalb sandbox` parser."""
    commands = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="COMMAND")
    _up_command(commands)
    for name, helptext in (
        ("status", "show whether the sandbox runs"),
        ("down", "stop the sandbox"),
        ("env", "print the environment file"),
    ):
        commands.add_parser(name, help=helptext)
    _dns_command(commands)


def _up_command(commands: Subcommands) -> None:
    """`kfalb sandbox up` and the world it starts."""
    up = commands.add_parser("up", help="start the sandbox (foreground unless --detach)")
    up.add_argument("--detach", action="store_true", help="run in the background")
    up.add_argument("--controller", choices=("none", "preinstalled", "auto-mode"), default="none")
    up.add_argument(
        "--root-in-route53",
        dest="root_in_route53",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="host the root zone in Route53 (--no-root-in-route53: at an external DNS provider, "
        "edited with `kfalb sandbox dns`)",
    )
    up.add_argument("--root-elsewhere", dest="root_in_route53", action="store_false")
    up.add_argument(
        "--pod-identity-agent",
        dest="pod_identity_agent",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="give the cluster the eks-pod-identity-agent add-on (--no-pod-identity-agent: "
        "without it, stack.controllerIdentity pod-identity is refused)",
    )
    up.add_argument(
        "--root-account",
        type=_account_argument,
        default=None,
        metavar="ACCOUNT",
        help="host the root zone in this second AWS account (a DNS account), with a role "
        "kfalb-root-dns there that trusts the cluster's account; set "
        "route53.rootDomain.roleArn: arn:aws:iam::ACCOUNT:role/kfalb-root-dns",
    )
    up.add_argument(
        "--root-external-id",
        default=None,
        metavar="ID",
        help="with --root-account: the role's trust policy asks for this sts:ExternalId",
    )
    up.add_argument("--acm-delay", type=float, default=2.0, help="seconds until ACM validates")
    up.add_argument("--alb-delay", type=float, default=2.0, help="seconds until the ALB is active")
    up.add_argument("--dns-delay", type=float, default=1.0, help="seconds of DNS propagation")
    _fleet_and_fault_arguments(up)


def _fleet_and_fault_arguments(up: argparse.ArgumentParser) -> None:
    """`kfalb sandbox up`'s more clusters and accounts, and the faults and limits it injects."""
    up.add_argument(
        "--faults",
        type=_faults_argument,
        default="",
        help="inject faults into kubeflow-alb's AWS requests, seeded: "
        "throttle=0.3,error5xx=0.05,drop-after-apply=0.05,seed=1; per operation: "
        "drop-after-apply=CreateRole (or =* for every write once), drop-after-apply:CreateRole=2, "
        "kill-at=CreateRole,kill-group=PGID",
    )
    up.add_argument(
        "--cluster",
        dest="clusters",
        action="append",
        type=_cluster_argument,
        default=[],
        metavar="NAME@ACCOUNT[:REGION]",
        help="one more EKS cluster (repeatable), e.g. kubeflow-b@234567890123:eu-west-1: its own "
        "VPC, Kubernetes API server (kubeconfig context: the cluster's ARN) and ALB controller; "
        "another account gets its own root zone example-<ACCOUNT>.com, and each account an AWS "
        "profile sandbox-<ACCOUNT> in .kfalb-sandbox/aws-credentials",
    )
    up.add_argument(
        "--route53-rate",
        type=float,
        default=None,
        metavar="PER_SECOND",
        help="answer Route53 requests beyond this many per second per account with Throttling "
        "(HTTP 400 'Rate exceeded'), as AWS does past 5; default: no limit",
    )


def _dns_command(commands: Subcommands) -> None:
    """`kfalb sandbox dns`: the root domain's records at an external DNS provider."""
    dns = commands.add_parser(
        "dns",
        help="add, remove or list records at the root domain's external DNS provider",
        description="The records of the root domain's zone when it is not in Route53 "
        "(`sandbox up --no-root-in-route53`): add the NS records setup prints to finish the "
        "delegation, as you would at a registrar. The running sandbox serves them at once.",
        epilog="example:\n  kfalb sandbox dns add platform.example.com NS ns-1.awsdns-00.com "
        "ns-2.awsdns-01.net\n  kfalb sandbox dns remove platform.example.com NS\n"
        "  kfalb sandbox dns list\n\nexit codes:\n  0  done\n  1  the sandbox is not running or "
        "has no external DNS\n  2  bad input (a name outside the root domain)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = dns.add_subparsers(dest="dns_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create or replace a record set")
    add.add_argument("name", help="full record name, within the root domain")
    add.add_argument("type", help="record type: NS, CNAME, A, TXT ...")
    add.add_argument("values", nargs="+", help="one or more values")
    add.add_argument("--ttl", type=int, default=300)
    remove = actions.add_parser("remove", help="delete a record set")
    remove.add_argument("name")
    remove.add_argument("type")
    actions.add_parser("list", help="the zone's record sets")


def _account_argument(value: str) -> str:
    """argparse type of --root-account: a 12-digit AWS account id."""
    if len(value) != 12 or not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not an AWS account id (12 digits)")
    return value


def _faults_argument(value: str) -> str:
    from sandbox.aws.faults import parse_faults

    try:
        parse_faults(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def _cluster_argument(value: str) -> str:
    from sandbox.clusters import parse_cluster

    try:
        parse_cluster(value, default_region="us-west-2")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value

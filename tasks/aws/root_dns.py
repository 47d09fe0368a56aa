"""The root zone's access: with `route53.rootDomain.roleArn`, its Route53 calls assume that role.

The root zone often lives in another AWS account (a DNS account owns `example.com`, the workload
account runs EKS). Every Route53 call on it (its lookup, the NS delegation, the `*.<root>`
certificate's validation records, their cleanup) takes its context from here; every other call
keeps the workload account's context.
"""

from __future__ import annotations

from core.errors import AwsError, PreflightError
from core.resources import CallerIdentity
from core.spec import StackSpec
from tasks.aws.clients import AssumedRole, AwsContext
from tasks.aws.errors import aws_task
from tasks.aws.sts import caller_identity
from tasks.logs import run_logger

#: The field named in messages about the role.
ROLE_FIELD = "route53.rootDomain.roleArn"


def session_name(spec: StackSpec) -> str:
    """The RoleSessionName: names the stack in the root account's CloudTrail."""
    return f"kfalb-{spec.name}"[:64]


def root_dns(ctx: AwsContext, spec: StackSpec) -> AwsContext:
    """The context for Route53 calls on the root zone: `ctx` itself, or `ctx` with the role of
    `route53.rootDomain.roleArn` assumed (the same credentials, region and call counts)."""
    root = spec.route53.root_domain
    if root.role_arn is None:
        return ctx
    role = AssumedRole(
        role_arn=root.role_arn, external_id=root.external_id, session_name=session_name(spec)
    )
    return ctx.model_copy(update={"assume_role": role})


def zone_access(
    ctx: AwsContext, spec: StackSpec, zone_id: str, *, root_zone_id: str | None
) -> AwsContext:
    """The context for Route53 calls on `zone_id`: the root zone's when it is the root zone."""
    return root_dns(ctx, spec) if root_zone_id is not None and zone_id == root_zone_id else ctx


@aws_task
def observe_root_refusal(ctx: AwsContext, spec: StackSpec) -> str:
    """Cleanup's check of the root zone's role: AWS's refusal to let us assume it ("" when it is
    assumed, or when there is no role). Cleanup goes on without the root zone."""
    try:
        preflight_root_dns.fn(ctx, spec)
    except PreflightError as error:
        return error.message.removeprefix(f"{ROLE_FIELD}: ").removesuffix(
            " Stopped before changing anything in AWS or Kubernetes."
        )
    return ""


@aws_task
def preflight_root_dns(ctx: AwsContext, spec: StackSpec) -> CallerIdentity | None:
    """Read only: assume `route53.rootDomain.roleArn` (when set) before anything is created, and
    say as whom the root zone is read. A role that does not exist or does not trust this
    identity stops the run here with the role and AWS's reason."""
    root = root_dns(ctx, spec)
    if root.assume_role is None:
        return None
    try:
        identity = caller_identity(root)
    except AwsError as error:
        if error.operation != "AssumeRole":
            raise
        # Setup and cleanup both look first: whichever this is, it changed nothing yet.
        raise PreflightError(
            f"{ROLE_FIELD}: {error.message} Stopped before changing anything in AWS or Kubernetes."
        ) from None
    run_logger().info(
        "Root zone %s: Route53 calls as %s (account %s)", spec.root, identity.arn, identity.account
    )
    return identity

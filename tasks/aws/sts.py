"""Who we are in AWS: the caller identity behind the credentials."""

from __future__ import annotations

from core.resources import CallerIdentity
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task
from tasks.logs import run_logger


def caller_identity(ctx: AwsContext) -> CallerIdentity:
    """The caller identity (plain function, for other task modules)."""
    found = client(ctx, "sts").get_caller_identity()
    return CallerIdentity(
        account=found["Account"], arn=found["Arn"], user_id=found.get("UserId", "")
    )


@aws_task
def observe_caller_identity(ctx: AwsContext) -> CallerIdentity:
    """Read the AWS account and identity ARN the credentials belong to (STS GetCallerIdentity)."""
    identity = caller_identity(ctx)
    run_logger().info("AWS identity %s in account %s", identity.arn, identity.account)
    return identity

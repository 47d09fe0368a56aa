"""AWS API call counts per scope: stacks checked at once in one process each get their own."""

from __future__ import annotations

from tasks.aws import clients
from tasks.aws.clients import AwsContext, api_calls


def test_calls_are_counted_per_scope_and_in_the_process_total(ctx: AwsContext) -> None:
    one = ctx.model_copy(update={"scope": "stack-one"})
    two = ctx.model_copy(update={"scope": "stack-two"})
    total, before_one, before_two = api_calls(), api_calls("stack-one"), api_calls("stack-two")
    clients.client(one, "route53").list_hosted_zones()
    clients.client(one, "ec2").describe_subnets()
    clients.client(two, "route53").list_hosted_zones()
    clients.client(ctx, "sts").get_caller_identity()  # unscoped: in the total only
    first, second = (
        api_calls("stack-one").since(before_one),
        api_calls("stack-two").since(before_two),
    )
    assert {(c.service, c.operation, c.count) for c in first.calls} == {
        ("route53", "ListHostedZones", 1),
        ("ec2", "DescribeSubnets", 1),
    }
    assert {(c.service, c.operation, c.count) for c in second.calls} == {
        ("route53", "ListHostedZones", 1)
    }
    assert api_calls().since(total).reads == 4
    assert api_calls("never-used").calls == ()

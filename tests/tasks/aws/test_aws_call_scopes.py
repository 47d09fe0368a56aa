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


def test_the_sessions_of_a_process_read_each_service_model_once(ctx: AwsContext) -> None:
    """A fleet's accounts each have a session; they share the data loader that keeps the
    service models read (EC2's alone costs about half a second of CPU per reading)."""
    other = ctx.model_copy(update={"region": "eu-west-1"})
    first, second = clients.session(ctx), clients.session(other)
    assert first is not second
    loader = first._session.get_component("data_loader")
    assert second._session.get_component("data_loader") is loader
    clients.client(ctx, "ec2")
    clients.client(other, "ec2")
    assert clients.client(other, "ec2").meta.service_model.service_name == "ec2"

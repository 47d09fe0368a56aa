"""Shared items released safely, against the strict sandbox: two stacks leaving at once never
both keep an item (remove my mark, read again, delete when none is left), and a stack writes no
mark of another stack from an earlier read (only a previous version's, found now)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core import naming, sharing
from core.desired import role_name
from core.spec import StackSpec
from tasks.aws import ec2, eks, iam, pod_identity
from tasks.aws.iam_shared import policy_item, provider_item, role_item
from tasks.shared import delete_if_unused, release_mark

ROLE = "arn:aws:iam::210987654321:role/kfalb-lbc"


def _stack(spec: StackSpec, name: str, **stack: Any) -> StackSpec:
    data = spec.model_dump(by_alias=True)
    data["stack"].update(name=name, **stack)
    return StackSpec.model_validate(data)


@pytest.fixture
def cluster(ctx, world):
    return eks.observe_cluster.fn(ctx, world.cluster_name)


def _iam_items(ctx, spec, cluster, boto) -> dict[str, Any]:
    """The cluster's IAM as stacks a and b share it, each made by a's setup then b's."""
    client = boto("iam")
    for stack in ("a", "b"):
        member = _stack(spec, stack)
        provider = iam.ensure_oidc_provider.fn(ctx, member, cluster)
        policy = iam.ensure_policy.fn(ctx, member)
        iam.ensure_role.fn(ctx, member, provider, policy_arn=policy.arn)
    return {
        "role": role_item(client, role_name(spec)),
        "policy": policy_item(client, policy.arn),
        "provider": provider_item(client, provider.arn),
    }


@pytest.mark.parametrize("kind", ["role", "policy", "provider"])
def test_two_stacks_leaving_at_once_leave_no_shared_iam_item(ctx, spec, cluster, boto, kind):
    items = _iam_items(ctx, spec, cluster, boto)
    item = items[kind]
    if kind == "policy":  # IAM refuses to delete an attached policy: the role goes first
        boto("iam").detach_role_policy(RoleName=role_name(spec), PolicyArn=item.what.split()[-1])
    assert sharing.item_users(item.read_marks() or {}) == ("a", "b")
    # Interleaved as two concurrent cleanups: both remove their mark before either decides.
    first, second = release_mark(item, "a"), release_mark(item, "b")
    kept = delete_if_unused(item, "a", first)
    assert (kept.deleted, kept.users) == (False, ("b",))  # a read b's mark: b still uses it
    last = delete_if_unused(item, "b", second)
    assert last.deleted  # b's read came after a's removal: no mark left, so b deletes it
    assert item.read_marks() is None


def test_a_previous_version_holder_keeps_its_hold_until_the_last_mark_goes(ctx, spec, boto):
    policy = iam.ensure_policy.fn(ctx, _stack(spec, "b"))
    # As the previous version left it: a's stack mark, and (since b joined) both user marks.
    boto("iam").tag_policy(PolicyArn=policy.arn, Tags=[
        {"Key": k, "Value": v} for k, v in naming.ownership_tags("a").items()
    ] + [{"Key": sharing.user_key("a"), "Value": "a"}])  # fmt: skip
    item = policy_item(boto("iam"), policy.arn)
    assert delete_if_unused(item, "a", release_mark(item, "a")).users == ("b",)
    # a's stack mark is no hold any more: b, the last user, deletes the policy.
    assert delete_if_unused(item, "b", release_mark(item, "b")).deleted


def test_a_setup_never_marks_a_user_it_saw_before_that_user_left(ctx, spec, cluster, boto):
    a, b = _stack(spec, "a"), _stack(spec, "b")
    provider = iam.ensure_oidc_provider.fn(ctx, a, cluster)
    policy = iam.ensure_policy.fn(ctx, a)
    iam.ensure_role.fn(ctx, a, provider, policy_arn=policy.arn)
    # b observed a as a user of the controller; then a's cleanup deleted role and policy.
    assert iam.delete_role.fn(ctx, a)
    assert iam.delete_policy.fn(ctx, a)
    policy = iam.ensure_policy.fn(ctx, b, users=("a",))
    role = iam.ensure_role.fn(ctx, b, provider, policy_arn=policy.arn, users=("a",))
    assert sharing.item_users(role.tags) == ("b",)
    assert sharing.item_users(policy.tags) == ("b",)


def test_a_previous_version_user_is_marked_and_its_old_role_goes_before_its_release(
    ctx, spec, cluster, boto
):
    client = boto("iam")
    tags = [{"Key": k, "Value": v} for k, v in naming.ownership_tags("a").items()]
    client.create_role(RoleName=naming.role_name("a"), AssumeRolePolicyDocument=json.dumps({}),
                       Tags=tags)  # fmt: skip
    b = _stack(spec, "b")
    provider = iam.ensure_oidc_provider.fn(ctx, b, cluster)
    policy = iam.ensure_policy.fn(ctx, b, users=("a",))
    role = iam.ensure_role.fn(ctx, b, provider, policy_arn=policy.arn, users=("a",))
    assert sharing.item_users(role.tags) == sharing.item_users(policy.tags) == ("a", "b")
    # a's cleanup: its own old role first, then its mark; b keeps the per-cluster role.
    assert not iam.delete_role.fn(ctx, _stack(spec, "a"))
    names = {r["RoleName"] for r in client.list_roles()["Roles"]}
    assert naming.role_name("a") not in names
    assert role_name(spec) in names
    # b, seeing a again, no longer takes it for a previous-version user.
    again = iam.ensure_role.fn(ctx, b, provider, policy_arn=policy.arn, users=("a",))
    assert sharing.item_users(again.tags) == ("b",)


def _pod_identity(spec: StackSpec, name: str) -> StackSpec:
    return _stack(spec, name, controllerIdentity="pod-identity")


def test_two_stacks_leaving_the_association_at_once_leave_none(ctx, spec, world):
    for name in ("a", "b"):
        pod_identity.ensure_pod_identity_association.fn(
            ctx, _pod_identity(spec, name), world.cluster_name, role_arn=ROLE
        )
    found = pod_identity.observe_pod_identity_association.fn(ctx, spec, world.cluster_name)
    assert found is not None
    item = pod_identity.association_item(
        pod_identity.client(ctx, "eks"), world.cluster_name, found.arn
    )
    first, second = release_mark(item, "a"), release_mark(item, "b")
    assert not delete_if_unused(item, "a", first).deleted
    assert delete_if_unused(item, "b", second).deleted
    assert not pod_identity.association_exists(ctx, found.arn)


def _tags(boto, subnet_id: str) -> dict[str, str]:
    found = boto("ec2").describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
    return {t["Key"]: t["Value"] for t in found.get("Tags", [])}


def test_two_cleanups_at_once_leave_no_subnet_discovery_tag(ctx, world, cluster, boto):
    every = [*world.public_subnets, *world.private_subnets]
    before = {subnet: _tags(boto, subnet) for subnet in every}
    ec2.ensure_subnet_tags.fn(ctx, cluster, stack="a")
    ec2.ensure_subnet_tags.fn(ctx, cluster, stack="b")  # holds a's tags by its own marker
    # Both cleanups survey first: each sees the other's marker, so only its own marker is its.
    seen_a = ec2.observe_added_subnet_tags.fn(ctx, "a")
    seen_b = ec2.observe_added_subnet_tags.fn(ctx, "b")
    assert {c.key for c in seen_a} == {sharing.marker_key("a")}
    assert {c.key for c in seen_b} == {sharing.marker_key("b")}
    assert ec2.delete_subnet_tags.fn(ctx, seen_b)  # b's marker goes; a's still lists the tags
    assert "kubernetes.io/role/elb" in _tags(boto, world.public_subnets[0])
    assert ec2.delete_subnet_tags.fn(ctx, seen_a)  # a reads again: no marker left, tags go
    assert {subnet: _tags(boto, subnet) for subnet in every} == before


def test_a_last_user_whose_delete_is_refused_keeps_its_mark_for_its_next_cleanup(
    ctx, spec, boto
) -> None:
    from core.errors import AwsError

    policy = iam.ensure_policy.fn(ctx, spec)
    boto("iam").create_role(RoleName="someone-else", AssumeRolePolicyDocument="{}")
    boto("iam").attach_role_policy(RoleName="someone-else", PolicyArn=policy.arn)
    with pytest.raises(AwsError, match="still attached to role someone-else"):
        iam.delete_policy.fn(ctx, spec)
    found = iam.observe_policy.fn(ctx, spec)
    assert found is not None
    assert sharing.item_users(found.tags) == (spec.name,)  # still the stack's to remove
    boto("iam").detach_role_policy(RoleName="someone-else", PolicyArn=policy.arn)
    assert iam.delete_policy.fn(ctx, spec)


def test_a_leaving_stack_takes_its_marker_and_its_tags_off_in_one_call(ctx, world, cluster, boto):
    """The marker is what ties the tags to the stack: it goes in the same DeleteTags call as the
    tags only it held, so a kill between two calls cannot leave tags no stack would remove."""
    from tasks.aws.clients import api_calls

    every = [*world.public_subnets, *world.private_subnets]
    before = {subnet: _tags(boto, subnet) for subnet in every}
    ec2.ensure_subnet_tags.fn(ctx, cluster, stack="a")
    seen = ec2.observe_added_subnet_tags.fn(ctx, "a")
    calls = api_calls()
    assert ec2.delete_subnet_tags.fn(ctx, seen)
    deletes = sum(c.count for c in api_calls().since(calls).calls if c.operation == "DeleteTags")
    # One call per set of tags (public subnets: role/elb; private: role/internal-elb).
    assert deletes == 2
    assert {subnet: _tags(boto, subnet) for subnet in every} == before

"""EKS Pod Identity tasks against the strict sandbox: the association, its owner, the agent."""

from __future__ import annotations

import json

import pytest

from core import sharing
from core.errors import OwnershipError, PreflightError
from core.identity import pod_identity_trust
from core.spec import StackSpec
from tasks.aws import iam, pod_identity

ROLE = "arn:aws:iam::210987654321:role/kfalb-lbc"
OTHER_ROLE = "arn:aws:iam::210987654321:role/other"


def _pod_identity(spec: StackSpec) -> StackSpec:
    data = spec.model_dump(by_alias=True)
    data["stack"]["controllerIdentity"] = "pod-identity"
    return StackSpec.model_validate(data)


@pytest.fixture
def spec(spec: StackSpec) -> StackSpec:
    """The association is of a pod-identity stack (an IRSA stack's ensure releases it)."""
    return _pod_identity(spec)


def test_ensure_creates_then_changes_nothing(ctx, spec, world, mutations) -> None:
    assert pod_identity.observe_pod_identity_association.fn(ctx, spec, world.cluster_name) is None
    made = pod_identity.ensure_pod_identity_association.fn(
        ctx, spec, world.cluster_name, role_arn=ROLE
    )
    assert (made.namespace, made.service_account, made.role_arn) == (
        "kube-system",
        "aws-load-balancer-controller",
        ROLE,
    )
    assert made.owned
    # the cluster's, held by reference: no one stack's ownership mark, its user mark instead
    assert made.tags == sharing.creation_marks(spec.tags, (spec.name,))
    assert made.arn.endswith(f":podidentityassociation/{world.cluster_name}/{made.association_id}")
    again = lambda: pod_identity.ensure_pod_identity_association.fn(  # noqa: E731
        ctx, spec, world.cluster_name, role_arn=ROLE
    )
    assert mutations(again) == []
    assert pod_identity.observe_pod_identity_association.fn(ctx, spec, world.cluster_name) == made


def test_a_new_role_is_associated_in_place_and_a_lost_user_mark_comes_back(
    ctx, spec, world, boto, mutations
) -> None:
    made = pod_identity.ensure_pod_identity_association.fn(
        ctx, spec, world.cluster_name, role_arn=ROLE
    )
    boto("eks").untag_resource(resourceArn=made.arn, tagKeys=[sharing.user_key(spec.name)])
    changed = mutations(
        lambda: pod_identity.ensure_pod_identity_association.fn(
            ctx, spec, world.cluster_name, role_arn=OTHER_ROLE
        )
    )
    assert sorted(changed) == ["eks:TagResource", "eks:UpdatePodIdentityAssociation"]
    found = pod_identity.observe_pod_identity_association.fn(ctx, spec, world.cluster_name)
    assert found is not None
    assert (found.association_id, found.role_arn, found.tags) == (
        made.association_id,
        OTHER_ROLE,
        sharing.creation_marks(spec.tags, (spec.name,)),
    )


def _previous_version_stack(boto, stack: str) -> None:
    """What an earlier version left of a stack: its own per-stack role, with its stack's tags."""
    from core import naming

    tags = [{"Key": k, "Value": v} for k, v in naming.ownership_tags(stack).items()]
    boto("iam").create_role(RoleName=naming.role_name(stack), AssumeRolePolicyDocument="{}",
                            Tags=tags)  # fmt: skip


def test_another_user_is_marked_only_while_it_is_of_the_previous_version(
    ctx, spec, world, boto
) -> None:
    # team2 was seen as a user of the controller, but has left since: no mark of it is written.
    made = pod_identity.ensure_pod_identity_association.fn(
        ctx, spec, world.cluster_name, role_arn=ROLE, users=("team2",)
    )
    assert sharing.item_users(made.tags) == ("platform-example-com",)
    # team2 of the previous version (its own role still there) uses it through the controller.
    _previous_version_stack(boto, "team2")
    made = pod_identity.ensure_pod_identity_association.fn(
        ctx, spec, world.cluster_name, role_arn=ROLE, users=("team2",)
    )
    assert sharing.item_users(made.tags) == ("platform-example-com", "team2")


def test_a_shared_association_goes_with_its_last_user(ctx, spec, world, boto) -> None:
    _previous_version_stack(boto, "team2")
    made = pod_identity.ensure_pod_identity_association.fn(
        ctx, spec, world.cluster_name, role_arn=ROLE, users=("team2",)
    )
    assert sharing.item_users(made.tags) == ("platform-example-com", "team2")
    # stack platform-example-com leaves: team2 still uses the controller through it
    assert pod_identity.delete_pod_identity_association.fn(ctx, spec, world.cluster_name) is False
    found = pod_identity.observe_pod_identity_association.fn(ctx, spec, world.cluster_name)
    assert found is not None
    assert sharing.item_users(found.tags) == ("team2",)
    data = spec.model_dump(by_alias=True)
    data["stack"]["name"] = "team2"
    team2 = StackSpec.model_validate(data)
    assert pod_identity.delete_pod_identity_association.fn(ctx, team2, world.cluster_name) is True
    assert not pod_identity.association_exists(ctx, made.arn)


def test_someone_elses_association_is_not_changed_or_deleted(ctx, spec, world, boto) -> None:
    boto("eks").create_pod_identity_association(
        clusterName=world.cluster_name,
        namespace="kube-system",
        serviceAccount="aws-load-balancer-controller",
        roleArn=OTHER_ROLE,
    )
    with pytest.raises(OwnershipError, match="was not made by a kubeflow-alb stack"):
        pod_identity.ensure_pod_identity_association.fn(
            ctx, spec, world.cluster_name, role_arn=ROLE
        )
    with pytest.raises(OwnershipError, match="was not made by a kubeflow-alb stack"):
        pod_identity.delete_pod_identity_association.fn(ctx, spec, world.cluster_name)
    found = pod_identity.observe_pod_identity_association.fn(ctx, spec, world.cluster_name)
    assert found is not None
    assert found.role_arn == OTHER_ROLE


def test_delete_removes_ours_and_then_finds_it_gone(ctx, spec, world) -> None:
    made = pod_identity.ensure_pod_identity_association.fn(
        ctx, spec, world.cluster_name, role_arn=ROLE
    )
    assert pod_identity.association_exists(ctx, made.arn)
    assert pod_identity.delete_pod_identity_association.fn(ctx, spec, world.cluster_name) is True
    assert pod_identity.delete_pod_identity_association.fn(ctx, spec, world.cluster_name) is False
    assert not pod_identity.association_exists(ctx, made.arn)


def test_a_cluster_that_is_gone_has_no_association(ctx, spec, world) -> None:
    assert pod_identity.observe_pod_identity_association.fn(ctx, spec, "gone") is None


def test_the_agent_add_on_is_read_and_required(ctx, spec, world, sandbox, boto) -> None:
    wanted = _pod_identity(spec)
    assert pod_identity.observe_pod_identity_agent.fn(ctx, world.cluster_name) == "ACTIVE"
    pod_identity.require_pod_identity_agent(wanted, cluster=world.cluster_name, status="ACTIVE")
    sandbox.set_addon_status("DEGRADED")
    status = pod_identity.observe_pod_identity_agent.fn(ctx, world.cluster_name)
    with pytest.raises(PreflightError, match="add-on of EKS cluster kubeflow is DEGRADED, not"):
        pod_identity.require_pod_identity_agent(wanted, cluster=world.cluster_name, status=status)
    boto("eks").delete_addon(clusterName=world.cluster_name, addonName="eks-pod-identity-agent")
    assert pod_identity.observe_pod_identity_agent.fn(ctx, world.cluster_name) is None


def test_a_pod_identity_role_trusts_the_service_not_an_oidc_provider(ctx, spec, boto) -> None:
    wanted = _pod_identity(spec)
    policy = iam.ensure_policy.fn(ctx, wanted)
    role = iam.ensure_role.fn(ctx, wanted, None, policy_arn=policy.arn)
    document = boto("iam").get_role(RoleName=role.name)["Role"]["AssumeRolePolicyDocument"]
    found = json.loads(document) if isinstance(document, str) else document
    assert found == pod_identity_trust()
    assert role.trust_matches
    assert boto("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    # The same role seen from an IRSA spec: another trust policy, to be updated.
    data = spec.model_dump(by_alias=True)
    data["stack"]["controllerIdentity"] = "irsa"
    with pytest.raises(PreflightError, match="IRSA needs the cluster's IAM OIDC provider"):
        iam.observe_role.fn(ctx, StackSpec.model_validate(data), None)

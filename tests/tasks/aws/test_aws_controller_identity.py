"""The controller's AWS identity as cleanup sees it (read only): sound as setup makes it, and
each way it breaks named (a missing role, provider or association, an untrusting role, no
policy)."""

from __future__ import annotations

import json

import pytest

from core.spec import StackSpec
from tasks.aws import eks, iam, pod_identity
from tasks.aws.controller_identity import identity_problem


@pytest.fixture
def cluster(ctx, world):
    return eks.observe_cluster.fn(ctx, world.cluster_name)


def _irsa(ctx, spec, cluster) -> str:
    provider = iam.ensure_oidc_provider.fn(ctx, spec, cluster)
    policy = iam.ensure_policy.fn(ctx, spec)
    return iam.ensure_role.fn(ctx, spec, provider, policy_arn=policy.arn).arn


def test_an_irsa_identity_as_setup_makes_it_is_sound_and_each_break_is_named(
    ctx, spec, cluster, world, boto
) -> None:
    role = _irsa(ctx, spec, cluster)
    assert identity_problem(ctx, cluster_name=world.cluster_name, role_arn=role) is None
    name = role.rsplit("/", 1)[-1]
    client = boto("iam")
    trust = client.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    other = json.dumps(trust).replace("aws-load-balancer-controller", "someone-else")
    client.update_assume_role_policy(RoleName=name, PolicyDocument=other)
    assert "does not let the controller assume it (IRSA: sts:AssumeRoleWithWebIdentity" in str(
        identity_problem(ctx, cluster_name=world.cluster_name, role_arn=role)
    )
    client.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    (attached,) = client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    client.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    assert identity_problem(ctx, cluster_name=world.cluster_name, role_arn=role) == (
        f"no policy of the controller's IAM role {role} allows "
        "elasticloadbalancing:DeleteLoadBalancer (AccessDenied)"
    )
    missing = role.replace(name, "kfalb-gone")
    assert identity_problem(ctx, cluster_name=world.cluster_name, role_arn=missing) == (
        f"the controller's IAM role {missing} (IRSA) does not exist"
    )
    for provider in client.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        client.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])
    assert "IAM OIDC provider for the cluster's issuer" in str(
        identity_problem(ctx, cluster_name=world.cluster_name, role_arn=role)
    )


def test_a_pod_identity_needs_its_association_and_a_role_eks_may_assume(ctx, spec, world) -> None:
    assert "no eks.amazonaws.com/role-arn annotation and no Pod Identity association" in str(
        identity_problem(ctx, cluster_name=world.cluster_name, role_arn=None)
    )
    data = spec.model_dump(by_alias=True)
    data["stack"]["controllerIdentity"] = "pod-identity"
    pi = StackSpec.model_validate(data)
    policy = iam.ensure_policy.fn(ctx, pi)
    role = iam.ensure_role.fn(ctx, pi, None, policy_arn=policy.arn)
    pod_identity.ensure_pod_identity_association.fn(ctx, pi, world.cluster_name, role_arn=role.arn)
    assert identity_problem(ctx, cluster_name=world.cluster_name, role_arn=None) is None

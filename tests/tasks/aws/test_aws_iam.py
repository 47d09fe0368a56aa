"""IAM tasks against moto: OIDC provider, controller policy (versions), IRSA role."""

from __future__ import annotations

import json

import pytest

from core import identity, naming, sharing
from core.desired import policy_name
from core.errors import AwsError, AwsTransientError, OwnershipError, PreflightError
from tasks.aws import eks, iam, iam_policy, owned

DOC_A = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*"}],
}
DOC_B = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["ec2:DescribeSubnets", "ec2:DescribeVpcs"], "Resource": "*"}
    ],
}


@pytest.fixture
def cluster(ctx, world):
    return eks.preflight_cluster.fn(ctx, world.cluster_name)


def _delete_provider(ctx, spec, provider) -> bool:
    """The stack's cleanup of the OIDC provider (its mark, then the provider if no mark is left)."""
    return owned.delete_owned_oidc_provider.fn(
        ctx, provider.arn, stack=spec.name, cluster_name=spec.cluster.name
    )


def test_oidc_provider_created_once_with_tags(ctx, spec, cluster, mutations):
    provider = iam.ensure_oidc_provider.fn(ctx, spec, cluster)
    assert provider.owned
    assert provider.client_ids == ("sts.amazonaws.com",)
    assert provider.arn.endswith(f":oidc-provider/{cluster.oidc_host_path}")
    assert provider.tags == sharing.creation_marks(spec.tags, (spec.name,))
    assert provider.tags["team"] == "ml"  # stack.tags of the stack that made it
    assert naming.STACK_TAG not in provider.tags  # shared: no one stack's ownership mark
    assert mutations(lambda: iam.ensure_oidc_provider.fn(ctx, spec, cluster)) == []
    assert _delete_provider(ctx, spec, provider)
    assert not _delete_provider(ctx, spec, provider)


def test_a_shared_item_goes_with_its_last_user_only(ctx, spec, cluster, boto):
    other = spec.model_copy(update={"stack": spec.stack.model_copy(update={"name": "team2"})})
    provider = iam.ensure_oidc_provider.fn(ctx, spec, cluster)
    policy = iam.ensure_policy.fn(ctx, spec)
    iam.ensure_policy.fn(ctx, other)  # adopts it: only its user mark is added
    tags = {
        t["Key"]: t["Value"] for t in boto("iam").list_policy_tags(PolicyArn=policy.arn)["Tags"]
    }
    assert sharing.item_users(tags) == (spec.name, "team2")
    assert not iam.delete_policy.fn(ctx, spec)  # team2 still uses it: only the mark goes
    tags = {
        t["Key"]: t["Value"] for t in boto("iam").list_policy_tags(PolicyArn=policy.arn)["Tags"]
    }
    assert sharing.item_users(tags) == ("team2",)
    assert iam.delete_policy.fn(ctx, other)  # the last user
    assert boto("iam").list_policies(Scope="Local")["Policies"] == []
    assert not _delete_provider(ctx, other, provider)  # not its user: left alone
    assert _delete_provider(ctx, spec, provider)


def test_pre_existing_oidc_provider_is_adopted_and_never_deleted(
    ctx, spec, cluster, boto, mutations
):
    boto("iam").create_open_id_connect_provider(
        Url=cluster.oidc_issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["0" * 40]
    )
    adopted: list = []
    assert mutations(lambda: adopted.append(iam.ensure_oidc_provider.fn(ctx, spec, cluster))) == []
    assert not adopted[0].owned
    with pytest.raises(OwnershipError):
        _delete_provider(ctx, spec, adopted[0])


def test_bundled_policy_created_once(ctx, spec, mutations):
    policy = iam.ensure_policy.fn(ctx, spec)
    assert policy.owned
    assert policy.document_matches
    assert policy.arn == f"arn:aws:iam::210987654321:policy/{policy_name(spec)}"
    assert len(iam.load_controller_policy()["Statement"]) > 10
    assert mutations(lambda: iam.ensure_policy.fn(ctx, spec)) == []


def test_policy_update_rotates_out_the_oldest_version_at_five(ctx, spec, boto):
    policy = iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    for _ in range(4):
        boto("iam").create_policy_version(PolicyArn=policy.arn, PolicyDocument=json.dumps(DOC_A))
    assert not iam.observe_policy.fn(ctx, spec, document=DOC_B).document_matches

    updated = iam.ensure_policy.fn(ctx, spec, document=DOC_B)
    versions = boto("iam").list_policy_versions(PolicyArn=policy.arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v3", "v4", "v5", "v6"]
    assert (updated.default_version, updated.document_matches) == ("v6", True)


def test_equal_documents_written_differently_match(ctx, spec, mutations):
    iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    reordered = {
        "Statement": {
            "Resource": ["*"],
            "Action": ["elasticloadbalancing:Describe*"],
            "Effect": "Allow",
        },
        "Version": "2012-10-17",
    }
    assert mutations(lambda: iam.ensure_policy.fn(ctx, spec, document=reordered)) == []


def test_policy_without_our_tags_is_refused(ctx, spec, boto):
    boto("iam").create_policy(PolicyName=policy_name(spec), PolicyDocument=json.dumps(DOC_A))
    with pytest.raises(OwnershipError, match="not changed"):
        iam.ensure_policy.fn(ctx, spec, document=DOC_B)
    with pytest.raises(OwnershipError):
        iam.delete_policy.fn(ctx, spec)


def test_role_trusts_only_the_controller_service_account(ctx, spec, cluster, boto, mutations):
    provider = iam.ensure_oidc_provider.fn(ctx, spec, cluster)
    policy = iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    role = iam.ensure_role.fn(ctx, spec, provider, policy_arn=policy.arn)
    assert role.owned
    assert role.trust_matches
    assert role.attached_policy_arns == (policy.arn,)
    trust = boto("iam").get_role(RoleName=role.name)["Role"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": provider.arn}
    assert statement["Condition"] == {
        "StringEquals": {
            f"{cluster.oidc_host_path}:sub": (
                "system:serviceaccount:kube-system:aws-load-balancer-controller"
            ),
            f"{cluster.oidc_host_path}:aud": "sts.amazonaws.com",
        }
    }
    assert mutations(lambda: iam.ensure_role.fn(ctx, spec, provider, policy_arn=policy.arn)) == []

    # Someone loosened the trust (any service account of the cluster): ensure tightens it again.
    loose = identity.irsa_trust(provider.arn, cluster.oidc_host_path)
    del loose["Statement"][0]["Condition"]["StringEquals"][f"{cluster.oidc_host_path}:sub"]
    boto("iam").update_assume_role_policy(RoleName=role.name, PolicyDocument=json.dumps(loose))
    made = mutations(lambda: iam.ensure_role.fn(ctx, spec, provider, policy_arn=policy.arn))
    assert made == ["iam:UpdateAssumeRolePolicy"]


def test_cleanup_order_role_then_policy(ctx, spec, cluster, faults):
    provider = iam.ensure_oidc_provider.fn(ctx, spec, cluster)
    policy = iam.ensure_policy.fn(ctx, spec, document=DOC_A)
    iam.ensure_role.fn(ctx, spec, provider, policy_arn=policy.arn)
    iam.ensure_policy.fn(ctx, spec, document=DOC_B)  # two versions now

    # moto would delete an attached policy; real IAM refuses, and so do we, before any change.
    with pytest.raises(AwsError, match="still attached to role") as caught:
        iam.delete_policy.fn(ctx, spec)
    assert caught.value.code == "DeleteConflict"
    assert iam.delete_role.fn(ctx, spec)
    assert not iam.delete_role.fn(ctx, spec)

    faults.fail("iam", "DeletePolicy", "DeleteConflict", status=409, times=1)
    with pytest.raises(AwsTransientError, match="cannot be deleted yet"):
        iam.delete_policy.fn(ctx, spec)
    assert iam.delete_policy.fn(ctx, spec)
    assert not iam.delete_policy.fn(ctx, spec)


def _pinned(spec, version):
    data = spec.model_dump(mode="json", by_alias=True)
    data["stack"]["controllerVersion"] = version
    return type(spec).model_validate(data)


def test_the_policy_follows_the_controller_version(ctx, spec, mutations):
    """Each version's own published file; v2.17.1's and v3.5.0's are the same document, so moving
    a stack between them writes no policy version."""
    for version in ("v2.17.1", "v3.5.0"):
        path = iam_policy.policy_file(version)
        assert (path.parent.name, path.name) == (version, "iam-policy.json")
    on_v2 = iam.ensure_policy.fn(ctx, _pinned(spec, "v2.17.1"))
    assert on_v2.document_matches
    assert iam.observe_policy.fn(ctx, _pinned(spec, "v3.5.0")).document_matches
    assert mutations(lambda: iam.ensure_policy.fn(ctx, _pinned(spec, "v3.5.0"))) == []
    with pytest.raises(PreflightError, match="choose one of v2.17.1, v3.5.0"):
        iam_policy.policy_file("v2.4.7")

"""The sandbox's EKS Pod Identity associations and add-ons (moto 5.2.5 has neither): the shapes,
codes and messages of EKS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox.aws import AwsSandbox
from sandbox.aws.server import reset_account

CLUSTER = "kubeflow"
ROLE = "arn:aws:iam::311111110051:role/r"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[AwsSandbox]:
    with AwsSandbox(account_id="311111110051") as running:
        yield running


@pytest.fixture
def eks(sandbox: AwsSandbox) -> Any:
    reset_account(sandbox.account_id)
    sandbox.seed_world(cluster_name=CLUSTER)
    return sandbox.client("eks")


def _error(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return (response["Error"]["Code"], response["Error"]["Message"],
            response["ResponseMetadata"]["HTTPStatusCode"])  # fmt: skip


def _create(eks: Any, account: str = "sa", **extra: Any) -> dict[str, Any]:
    return dict(
        eks.create_pod_identity_association(
            clusterName=CLUSTER,
            namespace="kube-system",
            serviceAccount=account,
            roleArn=ROLE,
            **extra,
        )["association"]
    )


def test_an_association_has_eks_shapes_and_one_per_service_account(eks: Any) -> None:
    made = _create(eks, tags={"team": "ml"}, clientRequestToken="token-1")
    association_id = made["associationId"]
    assert len(association_id) == 19
    assert association_id.startswith("a-")
    assert made["associationArn"] == (
        f"arn:aws:eks:us-west-2:311111110051:podidentityassociation/{CLUSTER}/{association_id}"
    )
    assert made["tags"] == {"team": "ml"}
    # The same token and request: the same association (idempotent), not a conflict.
    assert _create(eks, clientRequestToken="token-1")["associationId"] == association_id
    assert _error(lambda: _create(eks)) == (
        "ResourceInUseException", f"Association already exists: {association_id}", 409
    )  # fmt: skip
    _create(eks, "other")
    listed = eks.list_pod_identity_associations(
        clusterName=CLUSTER, namespace="kube-system", serviceAccount="sa"
    )["associations"]
    assert [item["associationId"] for item in listed] == [association_id]
    assert len(eks.list_pod_identity_associations(clusterName=CLUSTER)["associations"]) == 2


def test_update_tags_and_delete(eks: Any) -> None:
    made = _create(eks)
    eks.update_pod_identity_association(
        clusterName=CLUSTER, associationId=made["associationId"], roleArn=ROLE + "2"
    )
    eks.tag_resource(resourceArn=made["associationArn"], tags={"a": "b"})
    found = eks.describe_pod_identity_association(
        clusterName=CLUSTER, associationId=made["associationId"]
    )["association"]
    assert (found["roleArn"], found["tags"]) == (ROLE + "2", {"a": "b"})
    assert eks.list_tags_for_resource(resourceArn=made["associationArn"])["tags"] == {"a": "b"}
    gone = eks.delete_pod_identity_association(
        clusterName=CLUSTER, associationId=made["associationId"]
    )["association"]
    assert gone["associationId"] == made["associationId"]
    code, _, status = _error(
        lambda: eks.describe_pod_identity_association(
            clusterName=CLUSTER, associationId=made["associationId"]
        )
    )
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_bad_ids_and_missing_clusters_are_refused(eks: Any) -> None:
    assert _error(
        lambda: eks.describe_pod_identity_association(clusterName=CLUSTER, associationId="a-1")
    ) == (
        "InvalidParameterException",
        "The parameter associationId should be 19 characters long.",
        400,
    )
    assert _error(lambda: eks.list_pod_identity_associations(clusterName="nope")) == (
        "ResourceNotFoundException", "No cluster found for name: nope.", 404
    )  # fmt: skip


def test_the_seeded_cluster_has_the_agent_add_on(eks: Any, sandbox: AwsSandbox) -> None:
    addon = eks.describe_addon(clusterName=CLUSTER, addonName="eks-pod-identity-agent")["addon"]
    assert addon["status"] == "ACTIVE"
    assert eks.list_addons(clusterName=CLUSTER)["addons"] == ["eks-pod-identity-agent"]
    eks.delete_addon(clusterName=CLUSTER, addonName="eks-pod-identity-agent")
    assert _error(
        lambda: eks.describe_addon(clusterName=CLUSTER, addonName="eks-pod-identity-agent")
    ) == (
        "ResourceNotFoundException",
        f"No addon: eks-pod-identity-agent found in cluster: {CLUSTER}",
        404,
    )
    made = eks.create_addon(clusterName=CLUSTER, addonName="eks-pod-identity-agent")["addon"]
    assert made["status"] == "CREATING"  # and ACTIVE at the next look
    reset_account(sandbox.account_id)
    sandbox.seed_world(cluster_name=CLUSTER, pod_identity_agent=False)
    assert sandbox.client("eks").list_addons(clusterName=CLUSTER)["addons"] == []

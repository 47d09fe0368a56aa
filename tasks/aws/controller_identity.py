"""Can the controller reach AWS? Its identity as the runner sees it (read only): the IRSA role
its service account names (trusted through the cluster's OIDC provider), or the role of its Pod
Identity association (trusted by EKS Pod Identity), and a policy that lets it delete ALBs."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core import identity, naming
from tasks.aws.clients import AwsContext, client
from tasks.aws.eks import read_cluster
from tasks.aws.errors import error_code
from tasks.aws.pod_identity import read_association

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

#: What the controller must be allowed to do for an ALB's end of life.
NEEDED = "elasticloadbalancing:DeleteLoadBalancer"


def _document(raw: Any) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    return found


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(item) for item in value or []]


def _trusted_by(trust: dict[str, Any], *, principal: str, kind: str, action: str) -> bool:
    for statement in trust.get("Statement") or []:
        principals = _listed((statement.get("Principal") or {}).get(kind))
        actions = _listed(statement.get("Action"))
        if (
            statement.get("Effect") == "Allow"
            and principal in principals
            and any(fnmatchcase(action, item) for item in actions)
        ):
            return statement.get("Condition") is None or _names_account(statement)
    return False


def _names_account(statement: dict[str, Any]) -> bool:
    """An IRSA condition, when there is one, names the controller's service account."""
    conditions = json.dumps(statement.get("Condition") or {})
    return "system:serviceaccount:" not in conditions or identity.SERVICE_ACCOUNT in conditions


def _allows(iam: IAMClient, role: str, action: str) -> bool:
    documents = []
    for item in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=item["PolicyArn"])["Policy"]["DefaultVersionId"]
        found = iam.get_policy_version(PolicyArn=item["PolicyArn"], VersionId=version)
        documents.append(_document(found["PolicyVersion"]["Document"]))
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        documents.append(
            _document(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
        )
    return any(
        statement.get("Effect") == "Allow"
        and any(
            fnmatchcase(action.lower(), item.lower()) for item in _listed(statement.get("Action"))
        )
        for document in documents
        for statement in _listed_statements(document)
    )


def _listed_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement") or []
    return [found] if isinstance(found, dict) else list(found)


def identity_problem(ctx: AwsContext, *, cluster_name: str, role_arn: str | None) -> str | None:
    """Why the controller cannot act in AWS, or None when its identity looks sound.

    Args:
        ctx: the runner's AWS context (read only).
        cluster_name: the EKS cluster.
        role_arn: the `eks.amazonaws.com/role-arn` of the controller's service account (IRSA);
            None: its Pod Identity association is looked up instead.
    """
    iam = client(ctx, "iam")
    via, principal, kind, action = "IRSA", "", "Federated", "sts:AssumeRoleWithWebIdentity"
    if not role_arn:
        association = read_association(client(ctx, "eks"), cluster_name, "")
        if association is None:
            return (
                f"service account {naming.CONTROLLER_NAMESPACE}/{naming.CONTROLLER_SERVICE_ACCOUNT}"
                " has no eks.amazonaws.com/role-arn annotation and no Pod Identity association: "
                "the controller has no AWS credentials"
            )
        role_arn, via = association.role_arn, "Pod Identity"
        principal, kind, action = identity.POD_IDENTITY_SERVICE, "Service", "sts:AssumeRole"
    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as error:
        if error_code(error) == "NoSuchEntity":
            return f"the controller's IAM role {role_arn} ({via}) does not exist"
        raise
    if via == "IRSA":
        cluster = read_cluster(ctx, cluster_name)
        issuer = (cluster.oidc_host_path if cluster else None) or ""
        listed = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
        providers = [p["Arn"] for p in listed if p["Arn"].endswith(f":oidc-provider/{issuer}")]
        if not providers:
            return f"the IAM OIDC provider for the cluster's issuer {issuer} does not exist"
        principal = providers[0]
    if not _trusted_by(
        _document(role.get("AssumeRolePolicyDocument")),
        principal=principal,
        kind=kind,
        action=action,
    ):
        return (
            f"the trust policy of the controller's IAM role {role_arn} does not let the "
            f"controller assume it ({via}: {action} by {principal})"
        )
    if not _allows(iam, name, NEEDED):
        return f"no policy of the controller's IAM role {role_arn} allows {NEEDED} (AccessDenied)"
    return None

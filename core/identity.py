"""The controller's AWS identity (pure), a function of `stack.controllerIdentity`: IRSA (a role
trusted through the cluster's IAM OIDC provider, named by the service account's annotation) or
EKS Pod Identity (a role trusted by the EKS Pod Identity service, bound to the service account by
an association). What the desired model holds follows from it: the OIDC provider, the role's
trust policy, the association and the service account's annotation."""

from __future__ import annotations

from typing import Any

from core import naming
from core.spec import StackSpec

AUDIENCE = "sts.amazonaws.com"
#: The service principal of EKS Pod Identity's documented trust policy (EKS User Guide,
#: "Create IAM role with trust policy required by EKS Pod Identity").
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
POD_IDENTITY_ACTIONS = ("sts:AssumeRole", "sts:TagSession")
#: The EKS add-on that runs the Pod Identity Agent on every node.
POD_IDENTITY_AGENT = "eks-pod-identity-agent"
SERVICE_ACCOUNT = (
    f"system:serviceaccount:{naming.CONTROLLER_NAMESPACE}:{naming.CONTROLLER_SERVICE_ACCOUNT}"
)
#: The association item's key: the service account it binds.
ASSOCIATION_KEY = f"{naming.CONTROLLER_NAMESPACE}/{naming.CONTROLLER_SERVICE_ACCOUNT}"
IRSA_TRUST = "controller service account only"
POD_IDENTITY_TRUST = f"EKS Pod Identity ({POD_IDENTITY_SERVICE})"
#: The role annotation's value when the service account must carry none.
NO_ANNOTATION = "none"


def uses_pod_identity(spec: StackSpec) -> bool:
    return spec.stack.controller_identity == "pod-identity"


def needs_oidc_provider(spec: StackSpec) -> bool:
    """IRSA needs the cluster's issuer as an IAM OIDC provider; Pod Identity does not."""
    return not uses_pod_identity(spec)


def trust_policy(spec: StackSpec, *, provider_arn: str = "", host_path: str = "") -> dict[str, Any]:
    """The controller role's trust policy for the stack's identity (the provider's ARN and
    issuer host path are those of the cluster's OIDC provider; IRSA only)."""
    if uses_pod_identity(spec):
        return pod_identity_trust()
    return irsa_trust(provider_arn, host_path)


def irsa_trust(provider_arn: str, host_path: str) -> dict[str, Any]:
    """Only the controller's service account, via the cluster's OIDC provider, may assume."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host_path}:sub": SERVICE_ACCOUNT,
                        f"{host_path}:aud": AUDIENCE,
                    }
                },
            }
        ],
    }


def pod_identity_trust() -> dict[str, Any]:
    """EKS Pod Identity may assume the role and tag the session. Which service account gets it
    is decided by the association (only the stack's, see ASSOCIATION_KEY)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowEksAuthToAssumeRoleForPodIdentity",
                "Effect": "Allow",
                "Principal": {"Service": POD_IDENTITY_SERVICE},
                "Action": list(POD_IDENTITY_ACTIONS),
            }
        ],
    }


def trust_text(spec: StackSpec) -> str:
    """The role item's `trust policy` field as the plan shows it."""
    return POD_IDENTITY_TRUST if uses_pod_identity(spec) else IRSA_TRUST


def role_annotation(spec: StackSpec, role_arn: str) -> str | None:
    """The `eks.amazonaws.com/role-arn` the controller's service account must carry: the role
    for IRSA, none for Pod Identity (the association names the role)."""
    return None if uses_pod_identity(spec) else role_arn


def agent_problem(spec: StackSpec, *, cluster: str, region: str, status: str | None) -> str | None:
    """Why the cluster cannot give the controller its Pod Identity credentials (None: it can):
    the Pod Identity Agent add-on must be ACTIVE."""
    if status == "ACTIVE":
        return None
    found = "is not installed" if status is None else f"is {status}, not ACTIVE"
    return (
        f"stack.controllerIdentity is pod-identity, but the {POD_IDENTITY_AGENT} add-on of EKS "
        f"cluster {cluster} {found}: pods get no Pod Identity credentials without it. Install it "
        f"(`aws eks create-addon --cluster-name {cluster} --addon-name {POD_IDENTITY_AGENT} "
        f"--region {region}`) and wait until `aws eks describe-addon` shows ACTIVE, or use "
        "stack.controllerIdentity irsa. Nothing was created."
    )

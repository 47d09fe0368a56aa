"""Who the controller is in AWS (IRSA or EKS Pod Identity) and what it may do, with errors
worded as aws-sdk-go-v2's.

The stand-in calls moto with full rights; ``Identity.check`` stands between it and each call,
so a controller whose role is missing, untrusted or without the policy fails exactly where the
real one does, with the message the real one puts in its Warning events.

EKS Pod Identity: a pod whose service account has an association gets its credentials from the
Pod Identity Agent (the ``eks-pod-identity-agent`` add-on), which asks EKS Auth to assume the
associated role with session tags; so the role must trust ``pods.eks.amazonaws.com`` with
``sts:AssumeRole`` and ``sts:TagSession``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError

_CREDENTIALS = "get identity: get credentials: failed to refresh cached credentials, "
_WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
AUDIENCE = "sts.amazonaws.com"
_PREFIX = {"ec2": "ec2", "elbv2": "elasticloadbalancing", "wafv2": "wafv2"}


class AwsCallError(Exception):
    """An AWS call of the controller failed; ``str()`` is the Go SDK's error text."""


def request_id(*parts: str) -> str:
    # Stable for the same failure, so that repeated failures aggregate into one Event.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def sdk_message(
    service_id: str, operation: str, *, status: int, code: str, message: str, modeled: bool
) -> str:
    """``operation error <service>: <op>, https response error ...`` as aws-sdk-go-v2 prints it."""
    error = f"{code}: {message}" if modeled else f"api error {code}: {message}"
    return (
        f"operation error {service_id}: {operation}, https response error StatusCode: {status}, "
        f"RequestID: {request_id(service_id, operation, code, message)}, {error}"
    )


def from_client_error(error: ClientError, client: Any, operation: str) -> AwsCallError:
    model = client.meta.service_model
    info = error.response.get("Error", {})
    code = str(info.get("Code", "Unknown"))
    modeled = any(shape.error_code == code for shape in model.error_shapes)
    return AwsCallError(
        sdk_message(
            model.service_id,
            operation,
            status=int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)),
            code=code,
            message=str(info.get("Message", "")),
            modeled=modeled,
        )
    )


@dataclass(frozen=True)
class Identity:
    """The controller's AWS principal. ``arn`` None: unrestricted (Helm-managed or Auto Mode)."""

    arn: str | None = None
    credential_error: str | None = None
    allowed: tuple[str, ...] = ("*",)
    denied: tuple[str, ...] = ()

    def permits(self, action: str) -> bool:
        def matches(patterns: tuple[str, ...]) -> bool:
            return any(fnmatchcase(action.lower(), p.lower()) for p in patterns)

        return matches(self.allowed) and not matches(self.denied)

    def check(self, service_id: str, operation: str, action: str) -> None:
        if self.credential_error:
            raise AwsCallError(
                f"operation error {service_id}: {operation}, {self.credential_error}"
            )
        if self.arn is None or self.permits(action):
            return
        reason = (
            f"User: {self.arn} is not authorized to perform: {action} because no "
            f"identity-based policy allows the {action} action"
        )
        if action.startswith("ec2:"):
            code, reason = (
                "UnauthorizedOperation",
                f"You are not authorized to perform this operation. {reason}",
            )
        else:
            code = "AccessDenied"
        raise AwsCallError(
            sdk_message(service_id, operation, status=403, code=code, message=reason, modeled=False)
        )


UNRESTRICTED = Identity()
NO_ROLE = Identity(
    credential_error=_CREDENTIALS + "no EC2 IMDS role found, operation error ec2imds: "
    "GetMetadata, canceled, context deadline exceeded"
)


def _sts_failure(status: int, code: str, message: str, *, modeled: bool) -> Identity:
    failure = sdk_message(
        "STS",
        "AssumeRoleWithWebIdentity",
        status=status,
        code=code,
        message=message,
        modeled=modeled,
    )
    return Identity(credential_error=f"{_CREDENTIALS}failed to retrieve credentials, {failure}")


def _document(raw: Any) -> dict[str, Any]:
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, pairs in conditions.items():
        for key, wanted in dict(pairs).items():
            seen = context.get(key)
            if seen is None:
                return False
            if operator == "StringEquals" and seen not in _listed(wanted):
                return False
            if operator == "StringLike" and not any(fnmatchcase(seen, w) for w in _listed(wanted)):
                return False
            if operator not in ("StringEquals", "StringLike"):
                return False
    return True


def trusts(trust: dict[str, Any], *, provider_arn: str, host: str, subject: str) -> bool:
    """Whether a role's trust policy lets this service account's web identity assume it."""
    context = {f"{host}:sub": subject, f"{host}:aud": AUDIENCE}
    for statement in trust.get("Statement", []):
        federated = _listed((statement.get("Principal") or {}).get("Federated"))
        actions = _listed(statement.get("Action"))
        if (
            statement.get("Effect") == "Allow"
            and provider_arn in federated
            and any(fnmatchcase(_WEB_IDENTITY, a) for a in actions)
            and _conditions_hold(statement.get("Condition") or {}, context)
        ):
            return True
    return False


POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
POD_IDENTITY_AGENT = "eks-pod-identity-agent"
#: What the SDK's container credential provider reports when EKS Auth refuses the role (as seen
#: in aws/eks-pod-identity-agent issue 139), and when no agent listens on the node.
_POD_IDENTITY_REFUSED = (
    "failed to load credentials, Unauthorized Exception! EKS does not have permissions to "
    "assume the associated role., fault: client"
)
_NO_AGENT = (
    'failed to load credentials, Get "http://169.254.170.23/v1/credentials": dial tcp '
    "169.254.170.23:80: connect: connection refused"
)


def trusts_pod_identity(trust: dict[str, Any], *, session_tags: dict[str, str]) -> bool:
    """Whether EKS Pod Identity may assume the role and tag its session (conditions are read
    against the session tags Pod Identity adds)."""
    context = {f"aws:RequestTag/{key}": value for key, value in session_tags.items()}
    granted: set[str] = set()
    for statement in trust.get("Statement", []):
        services = _listed((statement.get("Principal") or {}).get("Service"))
        if (
            statement.get("Effect") == "Allow"
            and POD_IDENTITY_SERVICE in services
            and _conditions_hold(statement.get("Condition") or {}, context)
        ):
            for action in ("sts:AssumeRole", "sts:TagSession"):
                if any(fnmatchcase(action, a) for a in _listed(statement.get("Action"))):
                    granted.add(action)
    return granted == {"sts:AssumeRole", "sts:TagSession"}


def resolve_pod_identity(
    iam: Any,
    eks: Any,
    *,
    cluster: str,
    namespace: str,
    service_account: str,
    account_id: str,
    session_name: str,
) -> Identity | None:
    """The identity a pod with this service account gets through its EKS Pod Identity
    association (or the reason it fails); None when the service account has no association."""
    listed = eks.list_pod_identity_associations(
        clusterName=cluster, namespace=namespace, serviceAccount=service_account
    )["associations"]
    if not listed:
        return None
    association = eks.describe_pod_identity_association(
        clusterName=cluster, associationId=listed[0]["associationId"]
    )["association"]
    try:
        agent = eks.describe_addon(clusterName=cluster, addonName=POD_IDENTITY_AGENT)["addon"]
    except ClientError:
        agent = None
    if agent is None or agent.get("status") != "ACTIVE":
        return Identity(credential_error=_CREDENTIALS + _NO_AGENT)
    role_name = str(association["roleArn"]).rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError:
        return Identity(credential_error=_CREDENTIALS + _POD_IDENTITY_REFUSED)
    tags = {
        "eks-cluster-name": cluster,
        "kubernetes-namespace": namespace,
        "kubernetes-service-account": service_account,
    }
    if not trusts_pod_identity(_document(role["AssumeRolePolicyDocument"]), session_tags=tags):
        return Identity(credential_error=_CREDENTIALS + _POD_IDENTITY_REFUSED)
    return _granted(iam, role_name, account_id=account_id, session_name=session_name)


def _granted(iam: Any, role_name: str, *, account_id: str, session_name: str) -> Identity:
    """The assumed role's identity with what its policies allow and deny."""
    allowed: list[str] = []
    refused: list[str] = []
    for statement in _role_statements(iam, role_name):
        actions = _listed(statement.get("Action"))
        if statement.get("Effect") == "Allow":
            allowed += actions
        elif statement.get("Effect") == "Deny" and not statement.get("Condition"):
            refused += actions
    return Identity(
        arn=f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session_name}",
        allowed=tuple(allowed),
        denied=tuple(refused),
    )


def _role_statements(iam: Any, role_name: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    for policy in attached:
        version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)
        statements += _document(document["PolicyVersion"]["Document"]).get("Statement", [])
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        statements += _document(document).get("Statement", [])
    return statements


def resolve_identity(
    iam: Any,
    *,
    role_arn: str | None,
    issuer: str,
    account_id: str,
    subject: str,
    session_name: str,
) -> Identity:
    """The identity a pod with this service account gets through IRSA (or the reason it fails).

    Conditions in the permission policy are taken as met: the controller always sends the tags
    the bundled policy's conditions ask for.
    """
    if not role_arn:
        return NO_ROLE
    denied = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    role_name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError:
        return _sts_failure(403, "AccessDenied", denied, modeled=False)
    host = issuer.removeprefix("https://")
    provider_arn = f"arn:aws:iam::{account_id}:oidc-provider/{host}"
    providers = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    if provider_arn not in {p["Arn"] for p in providers}:
        message = f"No OpenIDConnect provider found in your account for {issuer}"
        return _sts_failure(400, "InvalidIdentityToken", message, modeled=True)
    trust = _document(role["AssumeRolePolicyDocument"])
    if not trusts(trust, provider_arn=provider_arn, host=host, subject=subject):
        return _sts_failure(403, "AccessDenied", denied, modeled=False)
    return _granted(iam, role_name, account_id=account_id, session_name=session_name)


class Aws:
    """The controller's AWS calls, each checked against its identity first."""

    def __init__(self, clients: dict[str, Any], identity: Identity) -> None:
        self._clients = clients
        self.identity = identity

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        client = self._clients[service]
        service_id = client.meta.service_model.service_id
        self.identity.check(service_id, operation, f"{_PREFIX[service]}:{operation}")
        try:
            return dict(getattr(client, xform_name(operation))(**params))
        except ClientError as error:
            raise from_client_error(error, client, operation) from None

    def tags(self, arns: list[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for start in range(0, len(arns), 20):
            answer = self.call("elbv2", "DescribeTags", ResourceArns=arns[start : start + 20])
            for item in answer["TagDescriptions"]:
                found[item["ResourceArn"]] = {t["Key"]: t.get("Value", "") for t in item["Tags"]}
        return found

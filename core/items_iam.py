"""Declared and observed fields of the cluster's shared prerequisites (pure): subnet discovery
tags, the IAM OIDC provider, the controller's policy and role, the Pod Identity association.
Each is held by reference (core.ownership): its users are shown, this stack's hold is declared."""

from __future__ import annotations

from core import identity, naming, ownership, sharing
from core.desired import partition_of, policy_name, role_arn, role_name, subnet_tags_wanted
from core.observation import Observation, controller_is_ours
from core.plan import PRESENT, Item
from core.spec import StackSpec
from core.state import Kind

Fields = dict[str, str]
Found = dict[tuple[Kind, str], Fields | None]

AUDIENCE = identity.AUDIENCE
ATTACHED = "attached"
AGENT = f"{identity.POD_IDENTITY_AGENT} add-on"


def oidc_key(seen: Observation) -> str:
    return (seen.cluster.oidc_host_path if seen.cluster else None) or "the cluster's OIDC issuer"


def policy_document(spec: StackSpec) -> str:
    """The controller policy's declared document: the one published for the controller version."""
    return f"the {spec.stack.controller_version} document"


def controller_role_arn(spec: StackSpec, seen: Observation) -> str:
    """The controller role's ARN (PRESENT while the account is not known)."""
    if seen.identity is None:
        return PRESENT
    return role_arn(spec, account=seen.identity.account, partition=partition_of(seen.identity.arn))


def subnet_tag_items(spec: StackSpec, seen: Observation) -> list[Item]:
    """The discovery tags each cluster subnet needs: any value, held by this stack (so that
    another stack's cleanup keeps them), whoever else uses them."""
    if seen.cluster is None:
        return [Item(Kind.SUBNET_TAG, f"subnets of cluster {spec.cluster.name}")]
    wanted = {"value": PRESENT, "held by this stack": "yes", "users": PRESENT}
    return [
        Item(Kind.SUBNET_TAG, f"{subnet_id} {key}", wanted)
        for subnet_id, tags in subnet_tags_wanted(seen.subnets, seen.cluster.name).items()
        for key in tags
    ]


def subnet_tag_found(spec: StackSpec, seen: Observation) -> Found:
    if seen.cluster is None:
        return {}
    wanted = subnet_tags_wanted(seen.subnets, seen.cluster.name)
    found: Found = {}
    for subnet in seen.subnets:
        for key in wanted.get(subnet.subnet_id, {}):
            value = subnet.tags.get(key)
            found[(Kind.SUBNET_TAG, f"{subnet.subnet_id} {key}")] = (
                None if value is None else subnet_tag_found_fields(spec, subnet.tags, key, value)
            )
    return found


def subnet_tag_found_fields(spec: StackSpec, tags: dict[str, str], key: str, value: str) -> Fields:
    return {"value": value, **ownership.subnet_tag_holders(tags, key, spec.name)}


def oidc_items(spec: StackSpec, seen: Observation) -> list[Item]:
    if not (controller_is_ours(spec, seen) and identity.needs_oidc_provider(spec)):
        return []
    fields = {"client_id": AUDIENCE, **ownership.held(seen.oidc_provider)}
    return [Item(Kind.OIDC_PROVIDER, oidc_key(seen), fields)]


def oidc_found(spec: StackSpec, seen: Observation) -> Found:
    if seen.oidc_provider is None:
        return {}
    ids = seen.oidc_provider.client_ids
    return {
        (Kind.OIDC_PROVIDER, oidc_key(seen)): {
            "client_id": AUDIENCE if AUDIENCE in ids else ", ".join(ids) or "none",
            **ownership.shared_found(seen.oidc_provider.tags, spec.name),
        }
    }


def policy_items(spec: StackSpec, seen: Observation) -> list[Item]:
    if not controller_is_ours(spec, seen):
        return []
    fields = {"document": policy_document(spec), **ownership.held(seen.policy)}
    return [Item(Kind.IAM_POLICY, policy_name(spec), fields)]


def policy_found(spec: StackSpec, seen: Observation) -> Found:
    if seen.policy is None:
        return {}
    document = (
        policy_document(spec)
        if seen.policy.document_matches
        else f"another document (default version {seen.policy.default_version})"
    )
    fields = {"document": document, **ownership.shared_found(seen.policy.tags, spec.name)}
    return {(Kind.IAM_POLICY, policy_name(spec)): fields}


def role_items(spec: StackSpec, seen: Observation) -> list[Item]:
    if not controller_is_ours(spec, seen):
        return []
    policy = policy_name(spec)
    fields = {
        "trust policy": identity.trust_text(spec),
        f"attached {policy}": ATTACHED,
        **ownership.held(seen.role),
    }
    return [Item(Kind.IAM_ROLE, role_name(spec), fields)]


def role_found(spec: StackSpec, seen: Observation) -> Found:
    if seen.role is None:
        return {}
    policy = policy_name(spec)
    attached = any(arn.endswith(f":policy/{policy}") for arn in seen.role.attached_policy_arns)
    others = ", ".join(seen.role.attached_policy_arns) or "no policy"
    trust = identity.trust_text(spec) if seen.role.trust_matches else "another trust policy"
    return {
        (Kind.IAM_ROLE, role_name(spec)): {
            "trust policy": trust,
            f"attached {policy}": ATTACHED if attached else f"not attached ({others})",
            **ownership.shared_found(seen.role.tags, spec.name),
        }
    }


def association_items(spec: StackSpec, seen: Observation) -> list[Item]:
    """The Pod Identity association of the controller's service account: declared with
    pod-identity; with irsa, one this stack holds is declared absent (the plan shows its
    removal: a stack switched back to irsa leaves nothing of the other identity)."""
    if not controller_is_ours(spec, seen):
        return []
    if not identity.uses_pod_identity(spec):
        found = seen.pod_identity
        if found is not None and found.owned and spec.name in sharing.item_users(found.tags):
            return [Item(Kind.POD_IDENTITY, identity.ASSOCIATION_KEY, absent=True)]
        return []
    fields = {
        "role": controller_role_arn(spec, seen),
        "namespace": naming.CONTROLLER_NAMESPACE,
        "service_account": naming.CONTROLLER_SERVICE_ACCOUNT,
        AGENT: "ACTIVE",
        **ownership.held(seen.pod_identity),
    }
    return [Item(Kind.POD_IDENTITY, identity.ASSOCIATION_KEY, fields)]


def association_found(spec: StackSpec, seen: Observation) -> Found:
    association = seen.pod_identity
    if association is None:
        return {}
    return {
        (Kind.POD_IDENTITY, identity.ASSOCIATION_KEY): {
            "role": association.role_arn,
            "namespace": association.namespace,
            "service_account": association.service_account,
            AGENT: seen.pod_identity_agent or "not installed",
            **ownership.shared_found(association.tags, spec.name),
        }
    }

"""The one model of a stack (pure): its desired items with the fields we declare, and the same
items' fields as observed. Setup, remediation, the drift check and `kfalb plan` all plan these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from core import identity, naming, sharing
from core.alb import alb_fields
from core.desired import dashboard_record, partition_of, policy_name, role_arn, role_name
from core.dnsnames import normalise
from core.ingress_group import member_view
from core.kubestate import ControllerState, declared_fields
from core.manifests import ALB_PREFIX
from core.observation import Observation, controller_is_ours, ingress_class
from core.plan import PRESENT, Item, Observed, Plan, plan, plan_rows
from core.resources import CertificateState, RecordSetState
from core.spec import StackSpec
from core.state import Kind
from core.webhook_ca import WEBHOOK_CA_FIELD, WEBHOOK_CA_MATCHES

#: A certificate that expires sooner than this is drift: ACM renewal has failed somewhere.
MIN_DAYS_TO_EXPIRY = 14.0
AUDIENCE = "sts.amazonaws.com"
#: The keys of the default Ingress (stack.ingressName istio-ingress); see ingress_key().
INGRESS_KEY = f"{naming.INGRESS_NAMESPACE}/{naming.INGRESS_NAME}"
LOAD_BALANCER_KEY = f"ALB of Ingress {INGRESS_KEY}"
CONTROLLER_KEY = "ALB controller"
YES, NO = "yes", "no"
TRUST = identity.IRSA_TRUST
ATTACHED = "attached"
BUNDLED = "the bundled document"
UNKNOWN = "unknown"
ALB_ADDRESSES = "the ALB's addresses"
HTTPS_OK = "200 or a redirect, valid certificate"
FieldMap = dict[str, str]
AGENT = f"{identity.POD_IDENTITY_AGENT} add-on"


def wants_aaaa(spec: StackSpec) -> bool:
    """A dualstack ALB behind an alias record gets an AAAA alias next to the A one."""
    return spec.kubeflow.alb.ip_address_type == "dualstack" and spec.stack.record_type == "alias"


def aaaa_key(spec: StackSpec) -> str:
    return f"{naming.wildcard(spec.subdomain)} AAAA"


def ingress_key(spec: StackSpec) -> str:
    """The Ingress item's key: `istio-system/<stack.ingressName>`."""
    return spec.ingress_key


def load_balancer_key(spec: StackSpec) -> str:
    """The ALB item's key: the Ingress's ALB, or the IngressGroup's shared one."""
    group = spec.stack.ingress_group
    return f"ALB of IngressGroup {group}" if group else f"ALB of Ingress {spec.ingress_key}"


def dns_answer_key(spec: StackSpec) -> str:
    return f"{spec.dashboard_host} at the resolvers"


def https_key(spec: StackSpec) -> str:
    return f"https://{spec.dashboard_host}/"


def oidc_key(seen: Observation) -> str:
    return (seen.cluster.oidc_host_path if seen.cluster else None) or "the cluster's OIDC issuer"


def desired_items(
    spec: StackSpec, seen: Observation, *, min_days: float = MIN_DAYS_TO_EXPIRY
) -> tuple[Item, ...]:
    """Every item of the stack with the fields we declare; facts not known yet become PRESENT."""
    owns = _ownership(spec, seen)
    items = [Item(Kind.HOSTED_ZONE, spec.subdomain, {"public": YES, **owns(seen.zone)})]
    if seen.root_zone is not None:  # otherwise the NS records are added by hand at the registrar
        servers = _names(seen.zone.name_servers) if seen.zone else PRESENT
        items.append(Item(Kind.DELEGATION, spec.subdomain, {"name_servers": servers}))
    for request in seen.certificate_requests:
        expiry = f"in more than {min_days:g} days"
        wanted = {"status": "ISSUED", "expiry": expiry}
        items.append(Item(Kind.CERTIFICATE, request.domain,
                          {**wanted, **owns(seen.certificates.get(request.domain))}))  # fmt: skip
    items += _validation_items(seen)
    if seen.cluster is None:
        items.append(Item(Kind.SUBNET_TAG, f"subnets of cluster {spec.cluster.name}"))
    for subnet_id, tags in seen.subnet_tags.items():
        items += [Item(Kind.SUBNET_TAG, f"{subnet_id} {key}", _subnet_tag_wanted()) for key in tags]
    ours = controller_is_ours(spec, seen)
    controller = {"usable": YES, "ingress_class": naming.INGRESS_CLASS if ours else PRESENT}
    if ours:  # one controller per cluster: its IAM is shared by the cluster's stacks
        items += _iam_items(spec, seen)
        annotation = identity.role_annotation(spec, _role_arn(spec, seen))
        controller["role annotation"] = annotation or identity.NO_ANNOTATION
        # the version we install; one in use that is not ours runs what its owner chose
        controller["version"] = spec.stack.controller_version
        controller[WEBHOOK_CA_FIELD] = WEBHOOK_CA_MATCHES  # both caBundles: the Secret's CA
        controller |= _held(seen.controller)
    items.append(Item(Kind.CONTROLLER, CONTROLLER_KEY, controller))
    items.append(
        Item(Kind.INGRESS, ingress_key(spec), seen.desired_ingress or _minimal_ingress(spec, seen))
    )
    balancer = seen.desired_alb or {"state": "active", "scheme": spec.kubeflow.alb.scheme}
    items.append(Item(Kind.LOAD_BALANCER, load_balancer_key(spec), balancer))
    items.append(Item(Kind.DNS_RECORD, naming.wildcard(spec.subdomain), _record_wanted(spec, seen)))
    if wants_aaaa(spec):
        aaaa = {**_record_wanted(spec, seen), "type": "AAAA"}
        items.append(Item(Kind.DNS_RECORD, aaaa_key(spec), aaaa))
    items.append(Item(Kind.DNS_ANSWER, dns_answer_key(spec), {"answer": ALB_ADDRESSES}))
    items.append(Item(Kind.HTTPS_ANSWER, https_key(spec), {"answer": HTTPS_OK}))
    return tuple(items)


def _iam_items(spec: StackSpec, seen: Observation) -> list[Item]:
    """The controller's IAM, as its identity needs it (core.identity): the OIDC provider for
    IRSA, the Pod Identity association otherwise; the role's trust policy either way. All of
    them are the cluster's, held by reference by each stack that uses the controller."""
    policy = policy_name(spec)
    items = []
    if identity.needs_oidc_provider(spec):
        items.append(Item(Kind.OIDC_PROVIDER, oidc_key(seen),
                          {"client_id": AUDIENCE, **_held(seen.oidc_provider)}))  # fmt: skip
    items += [
        Item(Kind.IAM_POLICY, policy, {"document": policy_document(spec), **_held(seen.policy)}),
        Item(Kind.IAM_ROLE, role_name(spec), {"trust policy": identity.trust_text(spec),
             f"attached {policy}": ATTACHED, **_held(seen.role)}),
    ]  # fmt: skip
    if identity.uses_pod_identity(spec):
        items.append(Item(Kind.POD_IDENTITY, identity.ASSOCIATION_KEY, {
            "role": _role_arn(spec, seen), "namespace": naming.CONTROLLER_NAMESPACE,
            "service_account": naming.CONTROLLER_SERVICE_ACCOUNT, AGENT: "ACTIVE",
            **_held(seen.pod_identity)}))  # fmt: skip
    elif _left_behind(spec, seen):  # of an earlier pod-identity: to remove, nothing of it stays
        items.append(Item(Kind.POD_IDENTITY, identity.ASSOCIATION_KEY, {EXISTS: NOT_WANTED}))
    return items


#: The field of an item that must not exist (the Pod Identity association of an IRSA stack).
EXISTS = "exists"
NOT_WANTED = "no (stack.controllerIdentity irsa)"


def _left_behind(spec: StackSpec, seen: Observation) -> bool:
    """A Pod Identity association of ours that an IRSA stack (switched from pod-identity) has no
    use for, and no other stack uses."""
    found = seen.pod_identity
    return found is not None and found.owned and sharing.last_user(found.tags, spec.name)


def _role_arn(spec: StackSpec, seen: Observation) -> str:
    """The controller role's ARN (PRESENT while the account is not known)."""
    if seen.identity is None:
        return PRESENT
    return role_arn(spec, account=seen.identity.account, partition=partition_of(seen.identity.arn))


class _Tagged(Protocol):
    @property
    def owned(self) -> bool: ...

    @property
    def tags(self) -> dict[str, str]: ...


def _ownership(spec: StackSpec, seen: Observation) -> Callable[[_Tagged | None], FieldMap]:
    """The tags a resource of ours must carry (`tag:<key>` fields): the stack's ownership mark
    and `stack.tags`. A pre-existing resource we adopted is not ours to tag."""

    def fields(found: _Tagged | None) -> FieldMap:
        if found is not None and not found.owned:
            return {}
        return {f"tag:{key}": value for key, value in spec.tags.items()}

    return fields


def _held(found: _Tagged | ControllerState | None) -> FieldMap:
    """A shared item of ours (made by any kubeflow-alb stack, or to be made) is held by this
    stack, whoever else uses it; a pre-existing one is only used."""
    if found is not None and not found.owned:
        return {}
    return {"held by this stack": YES, "users": PRESENT}


def _held_found(users: tuple[str, ...], stack: str, *, ours: bool = True) -> FieldMap:
    text = (",".join(users) or "none") if ours else sharing.PRE_EXISTING
    return {"held by this stack": YES if stack in users else NO, "users": text}


def _tags_found(found: _Tagged) -> FieldMap:
    return {f"tag:{key}": value for key, value in found.tags.items()}


def observed_items(
    spec: StackSpec, seen: Observation, *, min_days: float = MIN_DAYS_TO_EXPIRY
) -> Observed:
    """The same items' fields as found, normalised like the desired ones (None: missing)."""
    found: dict[tuple[Kind, str], FieldMap | None] = {}
    if seen.zone is not None:
        found[(Kind.HOSTED_ZONE, spec.subdomain)] = {
            "public": NO if seen.zone.private else YES,
            **_tags_found(seen.zone),
        }
    if seen.delegation is not None:
        found[(Kind.DELEGATION, spec.subdomain)] = {"name_servers": _names(seen.delegation.values)}
    for domain, certificate in seen.certificates.items():
        found[(Kind.CERTIFICATE, domain)] = {
            "status": certificate.status,
            "expiry": _expiry(certificate, seen.observed_at, min_days),
            **_tags_found(certificate),
        }
    for name, record in seen.validation_records.items():
        found[(Kind.VALIDATION_RECORD, name)] = (
            None if record is None else {"value": _target(record)}
        )
    for subnet in seen.subnets:
        for key in seen.subnet_tags.get(subnet.subnet_id, {}):
            value = subnet.tags.get(key)
            found[(Kind.SUBNET_TAG, f"{subnet.subnet_id} {key}")] = (
                None if value is None else _subnet_tag_found(spec, subnet.tags, key, value)
            )
    found.update(_iam_found(spec, seen))
    controller = seen.controller
    if controller is not None and (controller.ingress_class or controller.deployment):
        found[(Kind.CONTROLLER, CONTROLLER_KEY)] = {
            "usable": YES if controller.usable else NO,
            "ingress_class": controller.ingress_class or "",
            "version": controller.version or UNKNOWN,
            "role annotation": controller.role_annotation or identity.NO_ANNOTATION,
            **({WEBHOOK_CA_FIELD: controller.webhook_ca} if controller.webhook_ca else {}),
            **_held_found(controller.users, spec.name, ours=controller.owned),
        }
    if seen.ingress is not None:
        found[(Kind.INGRESS, ingress_key(spec))] = seen.ingress.fields
    if seen.load_balancer is not None:
        balancer = seen.load_balancer
        if spec.stack.ingress_group:  # a shared ALB: only our Ingress's part is ours to compare
            balancer = member_view(balancer, ingress_key=spec.ingress_key, desired=seen.desired_alb)
        found[(Kind.LOAD_BALANCER, load_balancer_key(spec))] = alb_fields(balancer)
    if seen.dashboard_record is not None:
        record = seen.dashboard_record
        found[(Kind.DNS_RECORD, naming.wildcard(spec.subdomain))] = {
            "type": record.type,
            "target": _target(record),
        }
    if seen.dashboard_aaaa is not None:
        found[(Kind.DNS_RECORD, aaaa_key(spec))] = {
            "type": seen.dashboard_aaaa.type,
            "target": _target(seen.dashboard_aaaa),
        }
    if seen.host_answers:
        like_alb = set(seen.host_answers) <= set(seen.alb_answers)
        answer = ALB_ADDRESSES if like_alb else ", ".join(seen.host_answers)
        found[(Kind.DNS_ANSWER, dns_answer_key(spec))] = {"answer": answer}
    if seen.https_ok is not None:
        answer = HTTPS_OK if seen.https_ok else seen.https_detail or "no answer"
        found[(Kind.HTTPS_ANSWER, https_key(spec))] = {"answer": answer}
    return found


def policy_document(spec: StackSpec) -> str:
    """The controller policy's declared document: the one published for the controller version."""
    return f"the {spec.stack.controller_version} document"


def drift_plan(spec: StackSpec, seen: Observation) -> Plan:
    """The one planner over this stack's items: what drifted (or, before setup, what to create)."""
    return plan(desired_items(spec, seen), observed_items(spec, seen))


def _subnet_tag_wanted() -> FieldMap:
    """A shared subnet tag: any value, held by this stack (so that another stack's cleanup
    keeps it), whoever else uses it."""
    return {"value": PRESENT, "held by this stack": YES, "users": PRESENT}


def _subnet_tag_found(spec: StackSpec, tags: dict[str, str], key: str, value: str) -> FieldMap:
    held = YES if sharing.holds(tags, key, spec.name) else NO
    return {"value": value, "held by this stack": held, "users": sharing.users_text(tags, key)}


def _validation_items(seen: Observation) -> list[Item]:
    items: dict[str, Item] = {}
    for request in seen.certificate_requests:
        certificate = seen.certificates.get(request.domain)
        if request.arn is not None and (certificate is None or not certificate.owned):
            continue  # an adopted certificate's validation records are not ours
        if certificate is None:  # its records are known once ACM has it
            key = f"for {request.domain}"
            items[key] = Item(Kind.VALIDATION_RECORD, key)
            continue
        for record in certificate.validation_records:
            if record.zone_id is not None:  # others are added by hand outside Route53
                items[record.name] = Item(
                    Kind.VALIDATION_RECORD, record.name, {"value": normalise(record.value)}
                )
    return list(items.values())


def _iam_found(spec: StackSpec, seen: Observation) -> dict[tuple[Kind, str], FieldMap | None]:
    found: dict[tuple[Kind, str], FieldMap | None] = {}
    if seen.oidc_provider is not None:
        ids = seen.oidc_provider.client_ids
        found[(Kind.OIDC_PROVIDER, oidc_key(seen))] = {
            "client_id": AUDIENCE if AUDIENCE in ids else ", ".join(ids) or "none",
            **_shared_found(seen.oidc_provider.tags, spec.name),
        }
    policy = policy_name(spec)
    if seen.policy is not None:
        document = (
            policy_document(spec)
            if seen.policy.document_matches
            else f"another document (default version {seen.policy.default_version})"
        )
        found[(Kind.IAM_POLICY, policy)] = {
            "document": document,
            **_shared_found(seen.policy.tags, spec.name),
        }
    if seen.role is not None:
        suffix = f":policy/{policy}"
        attached = any(arn.endswith(suffix) for arn in seen.role.attached_policy_arns)
        others = ", ".join(seen.role.attached_policy_arns) or "no policy"
        found[(Kind.IAM_ROLE, role_name(spec))] = {
            "trust policy": identity.trust_text(spec)
            if seen.role.trust_matches
            else "another trust policy",
            f"attached {policy}": ATTACHED if attached else f"not attached ({others})",
            **_shared_found(seen.role.tags, spec.name),
        }
    if seen.pod_identity is not None:
        association = seen.pod_identity
        found[(Kind.POD_IDENTITY, identity.ASSOCIATION_KEY)] = {
            EXISTS: YES,
            "role": association.role_arn,
            "namespace": association.namespace,
            "service_account": association.service_account,
            AGENT: seen.pod_identity_agent or "not installed",
            **_shared_found(association.tags, spec.name),
        }
    return found


def _shared_found(tags: dict[str, str], stack: str) -> FieldMap:
    return _held_found(sharing.item_users(tags), stack, ours=sharing.made_by_tool(tags))


def _minimal_ingress(spec: StackSpec, seen: Observation) -> FieldMap:
    """What we declare on the Ingress when its manifest could not be rendered."""
    annotations = {f"{ALB_PREFIX}scheme": spec.kubeflow.alb.scheme,
                   f"{ALB_PREFIX}certificate-arn": ",".join(seen.certificate_arns()) or PRESENT}  # fmt: skip
    return declared_fields(
        ingress_class(spec, seen), annotations, naming.ownership_labels(spec.name)
    )


def _record_wanted(spec: StackSpec, seen: Observation) -> FieldMap:
    if seen.load_balancer is None:
        return {"type": "CNAME" if spec.stack.record_type == "cname" else "A", "target": PRESENT}
    record = dashboard_record(spec, seen.load_balancer)
    return {"type": record.type, "target": _target(record)}


def _target(record: RecordSetState) -> str:
    """Where a record points, compared case-insensitively and without ALB `dualstack.` prefixes."""
    if record.alias is not None:
        return normalise(record.alias.dns_name).removeprefix("dualstack.")
    return _names(record.values)


def _names(values: tuple[str, ...] | list[str]) -> str:
    return ",".join(sorted({normalise(value) for value in values}))


def _expiry(certificate: CertificateState, now: datetime, min_days: float) -> str:
    days = certificate.days_to_expiry(now)
    if days is None:
        return "unknown (not issued)"
    if days > min_days:
        return f"in more than {min_days:g} days"
    return f"in {days:.0f} days" if days > 0 else "expired"


def drifted_names(result: Plan) -> tuple[str, ...]:
    """`kind key (fields)` of each drifted item, for messages and the drift event: the fact that
    differs, not only the resource."""
    names = []
    for change in result.drift:
        name = f"{change.item.kind.value} {change.item.key}"
        fields = ", ".join(difference.field for difference in change.differences)
        names.append(f"{name} ({fields})" if fields else f"{name} (missing)")
    return tuple(names)


def drift_rows(result: Plan) -> list[dict[str, str]]:
    """The drift table's rows of the drifted items only (the event's payload)."""
    return plan_rows(Plan(result.drift))

"""Cleanup's read-only survey: what of a stack exists, by the ids in its record and by its marks."""

from __future__ import annotations

from typing import Any

from prefect.futures import PrefectFuture

from core import naming, sharing
from core.alb_options import IP_ADDRESS_TYPE
from core.cleanup import (
    Survey,
    owned,
    record_lookups,
    recorded_subnet_tags,
    still_present,
    validation_candidates,
)
from core.resources import CertificateState, ValidationRecord, ValidationZones
from core.spec import StackSpec
from core.state import Kind, StackRecord
from tasks.aws.clients import AwsContext
from tasks.aws.ec2 import observe_added_subnet_tags
from tasks.aws.elbv2 import find_controller_resources
from tasks.aws.iam_policy import observe_policy
from tasks.aws.owned import (
    find_certificates,
    find_oidc_providers,
    find_role,
    find_unused_backend_security_group,
)
from tasks.aws.pod_identity import observe_pod_identity_association
from tasks.aws.root_dns import root_dns, zone_access
from tasks.aws.route53 import observe_delegation, observe_hosted_zone
from tasks.aws.route53_records import observe_record_sets
from tasks.k8s.cleanup import find_controller_objects, find_ingress_bindings
from tasks.k8s.clients import KubeTarget
from tasks.k8s.controller import observe_controller
from tasks.k8s.ingress import observe_ingress


def survey_stack(
    ctx: AwsContext,
    spec: StackSpec,
    *,
    record: StackRecord | None,
    target: KubeTarget | None,
    root_zone_id: str | None,
) -> Survey:
    """Look at everything of the stack, concurrently; changes nothing."""
    zone = observe_hosted_zone(ctx, spec)
    zones = ValidationZones(
        subdomain=spec.subdomain,
        subdomain_zone_id=zone.zone_id if zone else None,
        root=spec.root,
        root_zone_id=root_zone_id,
    )
    wildcard = naming.wildcard(spec.subdomain)
    found: dict[str, PrefectFuture[Any]] = {
        "certificates": find_certificates.submit(ctx, spec.name, zones=zones),
        "subnet_tags": observe_added_subnet_tags.submit(ctx, spec.name, recorded_subnet_tags(record)),
        "oidc_providers": find_oidc_providers.submit(ctx, spec.name),
        "policy": observe_policy.submit(ctx, spec),
        "role": find_role.submit(ctx, spec),
        # Either identity: a stack switched from pod-identity to irsa may still have one.
        "pod_identity": observe_pod_identity_association.submit(ctx, spec, spec.cluster.name),
        "legacy_policy": observe_policy.submit(ctx, spec, legacy=True),
        "legacy_role": find_role.submit(ctx, spec, legacy=True),
        "load_balancers": find_controller_resources.submit(ctx, spec),
        "backend_security_group": find_unused_backend_security_group.submit(ctx, spec.cluster.name),
    }  # fmt: skip
    if root_zone_id:
        found["delegation"] = observe_delegation.submit(
            root_dns(ctx, spec), root_zone_id, spec.subdomain
        )
    if zone:
        keys = [(wildcard, "A"), (wildcard, "CNAME")]
        if IP_ADDRESS_TYPE.of(spec.kubeflow.alb) == "dualstack":
            keys.append((wildcard, "AAAA"))
        # Records the block names as ours too: an AAAA alias of a stack since made ipv4, the old
        # script's kubeflow.<subdomain> CNAME an import took over.
        keys += [(item.name, item.details.get("type", "CNAME")) for item in
                 owned(record, Kind.DNS_RECORD) if (item.name, item.details.get("type")) not in keys]  # fmt: skip
        found["dashboard_records"] = observe_record_sets.submit(ctx, zone.zone_id, keys)
    if target is not None:
        found["controller"] = observe_controller.submit(target, spec.name)
        found["controller_objects"] = find_controller_objects.submit(target, spec.name)
        found["ingress"] = observe_ingress.submit(target, name=spec.ingress_name)
        found["ingress_bindings"] = find_ingress_bindings.submit(target, name=spec.ingress_name)
    results = {name: future.result() for name, future in found.items()}
    certificates: tuple[CertificateState, ...] = results["certificates"]
    # the cluster's: the stack's to remove only while it uses it
    for shared in ("policy", "role", "pod_identity"):
        item = results[shared]
        if item is not None and item.owned and not sharing.uses(item.tags, spec.name):
            results[shared] = None
    return Survey(
        stack=spec.name,
        zone=zone,
        root_zone_id=root_zone_id,
        validation_records=_validation_records(ctx, spec, record, certificates, root_zone_id),
        kubernetes=target is not None,
        **results,
    )


def _validation_records(
    ctx: AwsContext,
    spec: StackSpec,
    record: StackRecord | None,
    certificates: tuple[CertificateState, ...],
    root_zone_id: str | None,
) -> tuple[ValidationRecord, ...]:
    """The stack's validation CNAMEs that are still in their zones with the value it placed."""
    candidates = validation_candidates(record, certificates)
    lookups = record_lookups(candidates)
    futures = [
        observe_record_sets.submit(
            zone_access(ctx, spec, zone_id, root_zone_id=root_zone_id), zone_id, keys
        )
        for zone_id, keys in lookups.items()
    ]
    present = [found for future in futures for found in future.result()]
    return still_present(candidates, present)

"""Take over resources made the old way (the kubeflow-manifests script): read what its written-back
config names, and, on request, put the stack's ownership tags on them."""

from __future__ import annotations

from prefect import task

from core.errors import ResourceNotFound
from core.resources import CertificateState, HostedZoneState, RecordSetState, ValidationZones
from core.spec import StackSpec
from tasks.aws.acm import _sync_tags as _tag_certificate
from tasks.aws.acm import desired_certificates, read_certificate
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task
from tasks.aws.route53 import _sync_tags as _tag_zone
from tasks.aws.route53 import find_subdomain_zone
from tasks.aws.route53_records import read_record
from tasks.logs import run_logger


@aws_task
def observe_imported(
    ctx: AwsContext, spec: StackSpec, *, record_name: str
) -> tuple[HostedZoneState | None, tuple[CertificateState, ...], RecordSetState | None]:
    """The subdomain zone (by the written-back id), the given certificates (by ARN) and the
    record the script pointed at the ALB (`kubeflow.<subdomain>` CNAME). Read only."""
    r53, acm = client(ctx, "route53"), client(ctx, "acm")
    zone = find_subdomain_zone(r53, spec, spec.route53.sub_domain.hosted_zone_id)
    if zone is None and spec.route53.sub_domain.hosted_zone_id:
        raise ResourceNotFound(
            f"route53.subDomain.hostedZoneId {spec.route53.sub_domain.hosted_zone_id} was not "
            f"found; check the config the script wrote back."
        )
    zones = ValidationZones(
        subdomain=spec.subdomain, root=spec.root, subdomain_zone_id=zone.zone_id if zone else None
    )
    certificates = []
    for request in desired_certificates(spec):
        if request.arn is None:
            continue
        found = read_certificate(acm, request.arn, stack=spec.name, zones=zones)
        if found is None:
            raise ResourceNotFound(f"Certificate {request.arn} ({request.domain}) was not found.")
        certificates.append(found)
    record = read_record(r53, zone.zone_id, record_name, "CNAME") if zone else None
    return zone, tuple(certificates), record


@task
def take_ownership(
    ctx: AwsContext,
    spec: StackSpec,
    zone: HostedZoneState | None,
    certificates: tuple[CertificateState, ...],
) -> tuple[HostedZoneState | None, tuple[CertificateState, ...]]:
    """Put the stack's ownership tags on the imported zone and certificates (cleanup then
    removes them, as it removes what the stack made)."""
    r53, acm = client(ctx, "route53"), client(ctx, "acm")
    if zone is not None:
        zone = _tag_zone(r53, zone, spec)
    tagged = []
    for certificate in certificates:
        _tag_certificate(acm, certificate, spec)
        tagged.append(
            certificate.model_copy(
                update={"tags": {**certificate.tags, **spec.tags}, "owned": True}
            )
        )
    run_logger().info(
        "Tagged %d imported resources for stack %s", len(tagged) + bool(zone), spec.name
    )
    return zone, tuple(tagged)

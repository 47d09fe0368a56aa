"""ACM certificates: look up ours, else request them; place their DNS validation records; delete."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from core import naming
from core.desired import certificate_requests
from core.dnsnames import normalise
from core.errors import AwsTransientError, OwnershipError, ResourceNotFound
from core.observation import place
from core.resources import (
    CertificateRequest,
    CertificateState,
    RecordChange,
    ValidationRecord,
    ValidationZones,
)
from core.settings import Settings, get_settings
from core.spec import StackSpec
from core.waits import WAITS
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task, error_code, error_message
from tasks.logs import run_logger
from tasks.waits import wait_for

if TYPE_CHECKING:
    from mypy_boto3_acm import ACMClient
    from mypy_boto3_acm.literals import CertificateStatusType
    from mypy_boto3_acm.type_defs import TagTypeDef

#: Certificates worth reusing; FAILED, EXPIRED or REVOKED ones are never picked up again.
USABLE_STATUSES: list[CertificateStatusType] = ["ISSUED", "PENDING_VALIDATION"]


#: The stack's certificate requests (core.desired.certificate_requests).
desired_certificates = certificate_requests


def _records(found: dict[str, Any], zones: ValidationZones) -> tuple[ValidationRecord, ...]:
    # A wildcard and its base name share one record: merge them, keeping the domains it proves.
    merged: dict[tuple[str, str, str], list[str]] = {}
    for option in found.get("DomainValidationOptions", []):
        record = option.get("ResourceRecord")
        if record:
            key = (normalise(record["Name"]), record["Type"], record["Value"])
            merged.setdefault(key, []).append(option["DomainName"])
    placed = []
    for (name, type_, value), domains in merged.items():
        zone_id, zone_name = place(zones, name)
        placed.append(
            ValidationRecord(
                domains=tuple(domains),
                name=name,
                type=type_,
                value=value,
                zone_id=zone_id,
                zone_name=zone_name,
            )
        )
    return tuple(placed)


def read_certificate(
    acm: ACMClient, arn: str, *, stack: str, zones: ValidationZones
) -> CertificateState | None:
    """DescribeCertificate plus tags as a state; None when the certificate does not exist."""
    try:
        found: dict[str, Any] = dict(acm.describe_certificate(CertificateArn=arn)["Certificate"])
        raw_tags = acm.list_tags_for_certificate(CertificateArn=arn).get("Tags", [])
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise
    tags = {tag["Key"]: tag.get("Value", "") for tag in raw_tags}
    domain = found["DomainName"]
    return CertificateState(
        arn=arn,
        domain=domain,
        sans=tuple(name for name in found.get("SubjectAlternativeNames", []) if name != domain),
        status=found["Status"],
        validation_records=_records(found, zones),
        in_use_by=tuple(found.get("InUseBy", [])),
        not_after=found.get("NotAfter"),
        failure_reason=found.get("FailureReason"),
        owned=naming.is_owned(tags, stack),
        tags=tags,
    )


def _matches(state: CertificateState, request: CertificateRequest) -> bool:
    names = frozenset(normalise(name) for name in (state.domain, *state.sans))
    return state.owned and names == request.names


def find_certificate(
    acm: ACMClient, spec: StackSpec, request: CertificateRequest, zones: ValidationZones
) -> CertificateState | None:
    """Our certificate with exactly the requested names (ISSUED preferred), if any."""
    return _search(acm, spec, (request,), zones).get(request.domain)


def _read_recorded(
    acm: ACMClient, arn: str, *, stack: str, zones: ValidationZones
) -> CertificateState | None:
    """A recorded ARN read; one ACM refuses as malformed is no better than a missing one."""
    try:
        return read_certificate(acm, arn, stack=stack, zones=zones)
    except ClientError as error:
        if error_code(error) in ("InvalidArnException", "ValidationException"):
            return None
        raise


def _search(
    acm: ACMClient,
    spec: StackSpec,
    requests: Sequence[CertificateRequest],
    zones: ValidationZones,
) -> dict[str, CertificateState]:
    """Our certificate for each request, from one listing of the account's: every certificate
    of a requested domain is read, and only those with the stack's mark and exactly the
    requested names count (ISSUED preferred)."""
    wanted = {normalise(request.domain): request for request in requests}
    candidates: dict[str, list[CertificateState]] = {}
    pages = acm.get_paginator("list_certificates").paginate(CertificateStatuses=USABLE_STATUSES)
    for page in pages:
        for summary in page["CertificateSummaryList"]:
            request = wanted.get(normalise(summary.get("DomainName", "")))
            if request is None:
                continue
            state = read_certificate(acm, summary["CertificateArn"], stack=spec.name, zones=zones)
            if state is not None and _matches(state, request):
                candidates.setdefault(request.domain, []).append(state)
    return {
        domain: min(found, key=lambda state: (state.status != "ISSUED", state.arn))
        for domain, found in candidates.items()
    }


def _has_all_records(state: CertificateState) -> bool:
    proven = {domain for record in state.validation_records for domain in record.domains}
    return state.status != "PENDING_VALIDATION" or proven >= {state.domain, *state.sans}


@aws_task
def observe_certificate(
    ctx: AwsContext,
    spec: StackSpec,
    request: CertificateRequest,
    *,
    zones: ValidationZones,
    arn: str | None = None,
) -> CertificateState | None:
    """Find this stack's certificate for the requested names (or read the given ARN)."""
    acm = client(ctx, "acm")
    if arn:
        return read_certificate(acm, arn, stack=spec.name, zones=zones)
    return find_certificate(acm, spec, request, zones)


@aws_task
def observe_certificates(
    ctx: AwsContext,
    spec: StackSpec,
    requests: Sequence[CertificateRequest],
    *,
    zones: ValidationZones,
    recorded: Mapping[str, str] | None = None,
) -> dict[str, CertificateState]:
    """Find this stack's certificate for each request (by its domain): by the ARN its record
    gives (`recorded`, by domain) when that certificate is still ours and ISSUED, else from
    one listing of the account's for all the others.

    A recorded ARN costs two calls, however many certificates the account holds; the listing
    is searched only for the requests without a record, or whose recorded certificate is gone,
    no longer ours, for other names or not ISSUED (the search prefers an ISSUED one).
    """
    acm = client(ctx, "acm")
    found: dict[str, CertificateState] = {}
    for request in requests:
        arn = (recorded or {}).get(normalise(request.domain))
        state = _read_recorded(acm, arn, stack=spec.name, zones=zones) if arn else None
        if state is not None and state.status == "ISSUED" and _matches(state, request):
            found[request.domain] = state
    rest = [request for request in requests if request.domain not in found]
    return {**found, **(_search(acm, spec, rest, zones) if rest else {})}


@aws_task
def ensure_certificate(
    ctx: AwsContext,
    spec: StackSpec,
    request: CertificateRequest,
    *,
    zones: ValidationZones,
    settings: Settings | None = None,
    search: bool = True,
    seen: CertificateState | None = None,
) -> CertificateState:
    """Reuse this stack's certificate for the requested names, or request it (DNS validation).
    With `search` off, `seen` is what an observation a moment ago found (None: nothing), so
    the account's certificates are not listed again on the way to the request (a request the
    observation missed is still one: its idempotency token gives the same certificate back).

    Returns it with its validation records, each placed in the zone that must hold it.
    """
    acm, log, settings = client(ctx, "acm"), run_logger(), settings or get_settings()
    state = find_certificate(acm, spec, request, zones) if search else seen
    if state is not None:
        _sync_tags(acm, state, spec)
        arn = state.arn
    else:
        arn = acm.request_certificate(
            DomainName=request.domain,
            SubjectAlternativeNames=[request.domain, *request.sans],
            ValidationMethod="DNS",
            IdempotencyToken=naming.certificate_idempotency_token(
                spec.name, request.domain, request.sans
            ),
            Tags=[{"Key": key, "Value": value} for key, value in spec.tags.items()],
        )["CertificateArn"]
        log.info("Requested certificate %s for %s", arn, request.domain)
    if state is not None and _has_all_records(state):
        return state

    def fetch() -> CertificateState:
        found = read_certificate(acm, arn, stack=spec.name, zones=zones)
        if found is None:
            raise ResourceNotFound(f"Certificate {arn} disappeared while being set up.")
        return found

    # ACM fills in the validation records a few seconds after the request.
    return wait_for(
        WAITS.acm_records.of(arn),
        fetch,
        until=_has_all_records,
        settings=settings,
        describe=lambda found: f"{len(found.validation_records) if found else 0} records so far",
    )


def _sync_tags(acm: ACMClient, state: CertificateState, spec: StackSpec) -> None:
    missing: list[TagTypeDef] = [
        {"Key": key, "Value": value}
        for key, value in spec.tags.items()
        if state.tags.get(key) != value
    ]
    if missing:
        acm.add_tags_to_certificate(CertificateArn=state.arn, Tags=missing)


def validation_changes(
    certificates: Iterable[CertificateState],
) -> dict[str, tuple[RecordChange, ...]]:
    """UPSERTs of the validation CNAMEs, grouped by Route53 zone (one change batch per zone)."""
    by_zone: dict[str, dict[RecordChange, None]] = {}
    for certificate in certificates:
        for record in certificate.validation_records:
            if record.zone_id is not None:
                change = RecordChange(action="UPSERT", record=record.as_record())
                by_zone.setdefault(record.zone_id, {})[change] = None
    return {zone: tuple(changes) for zone, changes in by_zone.items()}


def manual_validation_records(
    certificates: Iterable[CertificateState],
) -> tuple[ValidationRecord, ...]:
    """Validation records that no Route53 zone of ours can hold: to be added by hand."""
    found = {
        (record.name, record.value): record
        for certificate in certificates
        for record in certificate.validation_records
        if record.zone_id is None
    }
    return tuple(found.values())


@aws_task
def delete_certificate(ctx: AwsContext, arn: str, *, stack: str) -> bool:
    """Delete a certificate this stack requested; False when it is already gone.

    While a load balancer still uses it the task fails with a retryable error naming the user.
    """
    acm = client(ctx, "acm")
    zones = ValidationZones(subdomain="invalid", root="invalid")
    state = read_certificate(acm, arn, stack=stack, zones=zones)
    if state is None:
        return False
    if not state.owned:
        raise OwnershipError(
            f"Certificate {arn} ({state.domain}) does not carry stack {stack}'s tags; "
            "it is left as it is."
        )
    try:
        acm.delete_certificate(CertificateArn=arn)
    except ClientError as error:
        code = error_code(error)
        if code == "ResourceNotFoundException":
            return False
        if code == "ResourceInUseException":
            users = ", ".join(state.in_use_by) or "a load balancer"
            raise AwsTransientError(
                f"Certificate {arn} ({state.domain}) is still in use by {users}; it can be "
                f"deleted once that load balancer is gone. ({error_message(error)})",
                code=code,
                operation="DeleteCertificate",
            ) from error
        raise
    run_logger().info("Deleted certificate %s (%s)", arn, state.domain)
    return True

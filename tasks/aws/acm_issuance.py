"""Wait for ACM certificates to be ISSUED, all at once, and explain any that are not."""

from __future__ import annotations

from collections.abc import Sequence

from core import naming
from core.errors import AwsError, ResourceNotFound, WaitTimeout
from core.resources import CertificateState, ValidationRecord, ValidationZones
from core.settings import Settings, get_settings
from core.waits import WAITS
from tasks.aws.acm import read_certificate
from tasks.aws.acm_progress import certificates_progress, zone_name_servers
from tasks.aws.clients import AwsContext, client
from tasks.aws.errors import aws_task
from tasks.aws.route53_records import read_record
from tasks.logs import run_logger
from tasks.waits import wait_for

#: Statuses a certificate never leaves by itself.
FINAL_FAILURES = frozenset({"FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE"})


def _settled(states: list[CertificateState]) -> bool:
    return all(state.status == "ISSUED" or state.status in FINAL_FAILURES for state in states)


def record_problem(ctx: AwsContext, record: ValidationRecord) -> str | None:
    """What is wrong with a validation record in Route53, or None when it is in place."""
    where = f"{record.name} CNAME {record.value}"
    if record.zone_id is None:
        zone = f" (zone {record.zone_name})" if record.zone_name else ""
        return f"{where}: not in Route53{zone}; add it at your DNS provider"
    found = read_record(client(ctx, "route53"), record.zone_id, record.name, record.type)
    in_zone = f"zone {record.zone_name} ({record.zone_id})"
    if found is None:
        return f"{where}: missing from {in_zone}"
    if not found.same_as(found.model_copy(update={"values": (record.value,)})):
        return f"{where}: {in_zone} has {', '.join(found.values) or found.alias} instead"
    return None


def explain(ctx: AwsContext, states: Sequence[CertificateState], zones: ValidationZones) -> str:
    """One paragraph per unissued certificate: its status and each validation record's problem."""
    lines = []
    for state in states:
        if state.status == "ISSUED":
            continue
        reason = f" ({state.failure_reason})" if state.failure_reason else ""
        lines.append(f"- {state.domain} {state.arn}: {state.status}{reason}")
        problems = [
            problem for r in state.validation_records if (problem := record_problem(ctx, r))
        ]
        for problem in problems:
            lines.append(f"    validation record {problem}")
        if not problems and state.validation_records:
            lines.append(
                "    its validation records are in Route53; ACM reads public DNS, so check that "
                f"{zones.subdomain} is delegated from {zones.root} (NS records) and resolves"
            )
        if not state.validation_records:
            lines.append("    ACM has not published its validation records yet")
    return "\n".join(lines)


@aws_task
def wait_for_certificates(
    ctx: AwsContext,
    certificates: Sequence[CertificateState],
    *,
    zones: ValidationZones,
    settings: Settings | None = None,
) -> tuple[CertificateState, ...]:
    """Wait until every certificate is ISSUED, polling them together, bounded by the ACM timeout.

    On FAILED or timeout, fail with each certificate's status and the validation records that
    are missing or wrong in Route53.
    """
    acm, settings = client(ctx, "acm"), settings or get_settings()
    last: list[CertificateState] = list(certificates)

    def fetch() -> list[CertificateState]:
        states = []
        for certificate in certificates:
            # Ownership is re-derived from the certificate's own stack tag.
            stack = certificate.tags.get(naming.STACK_TAG, "")
            state = read_certificate(acm, certificate.arn, stack=stack, zones=zones)
            if state is None:
                raise ResourceNotFound(
                    f"Certificate {certificate.arn} was deleted while waited for."
                )
            states.append(state)
        last[:] = states
        return states

    names = ", ".join(certificate.domain for certificate in certificates)
    name_servers = zone_name_servers(ctx)
    try:
        states = wait_for(
            WAITS.acm_issued.of(names),
            fetch,
            until=_settled,
            settings=settings,
            describe=lambda _: ", ".join(f"{s.domain}={s.status}" for s in last),
            observe=lambda _: certificates_progress(
                last, settings=settings, name_servers=name_servers
            ),
        )
    except WaitTimeout:
        raise WaitTimeout(
            f"Certificates not ISSUED after {settings.acm_timeout_seconds:g}s "
            "(KFALB_ACM_TIMEOUT_SECONDS; re-running setup resumes the wait):\n"
            + explain(ctx, last, zones)
        ) from None
    if any(state.status != "ISSUED" for state in states):
        raise AwsError(
            "ACM did not issue every certificate:\n" + explain(ctx, states, zones),
            code="CertificateNotIssued",
        )
    run_logger().info("Certificates ISSUED: %s", names)
    return tuple(states)

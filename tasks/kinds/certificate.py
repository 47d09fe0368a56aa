"""The stack's ACM certificates: requested first (ACM validation is the longest wait), settled
once ISSUED; one given by ARN (route53.*.certARN) is only used."""

from __future__ import annotations

from functools import partial
from typing import Any

from core.desired import certificate_requests
from core.errors import KfalbError, ResourceNotFound
from core.observation import validation_zones
from core.resources import CertificateRequest, CertificateState
from core.state import Kind
from tasks.aws.acm import delete_certificate, ensure_certificate, observe_certificate
from tasks.aws.acm import observe_certificates as find_ours
from tasks.aws.acm_issuance import wait_for_certificates
from tasks.concurrent import together
from tasks.kinds.base import Env, Got, Look, Verbs, recorded_in


def observe(look: Look) -> dict[str, Any]:
    """The stack's certificate for each request: read by the ARN its record gives, else found
    by its names and marks (one listing); or read by the ARN the spec gives."""
    spec, found = look.spec, look.found
    zones = validation_zones(spec, found.zone, found.root_zone)
    requests = certificate_requests(spec)
    certificates: dict[str, CertificateState] = find_ours.fn(
        look.ctx, spec, [r for r in requests if not r.arn], zones=zones,
        recorded=recorded_in(look, Kind.CERTIFICATE),
    )  # fmt: skip
    for request in requests:
        if request.arn and (
            given := observe_certificate.fn(look.ctx, spec, request, zones=zones, arn=request.arn)
        ):
            certificates[request.domain] = given
    return {"certificates": certificates}


def current(env: Env) -> tuple[CertificateState, ...]:
    """The certificates found, in request order (the subdomain's is the Ingress's default)."""
    found = (env.seen.certificates.get(r.domain) for r in certificate_requests(env.spec))
    return tuple(state for state in found if state is not None)


def ensure(env: Env, got: Got) -> tuple[CertificateState, ...]:
    """Request the planned certificates, together; the others are taken as found. ACM needs
    no zone for a request: a subdomain zone made in this run places the records later."""
    zones = validation_zones(env.spec, env.seen.zone, env.seen.root_zone)
    renew = env.fixing(Kind.CERTIFICATE)

    def one(request: CertificateRequest) -> CertificateState | None:
        seen = env.seen.certificates.get(request.domain)
        if request.arn is not None or request.domain not in renew:
            return seen
        # The observation just looked: no second listing of the account's certificates.
        state: CertificateState = ensure_certificate.fn(
            env.ctx, env.spec, request, zones=zones, search=False, seen=seen
        )
        return state

    requests = certificate_requests(env.spec)
    made = together([partial(one, request) for request in requests])
    return tuple(state for state in made if state is not None)


def check(env: Env) -> None:
    """A certificate given by ARN is never requested: one that is missing stops setup first,
    with what to do (one still pending is waited for, like ours)."""
    renew = env.fixing(Kind.CERTIFICATE)
    for request in certificate_requests(env.spec):
        if request.arn is None or request.domain not in renew:
            continue
        if env.seen.certificates.get(request.domain) is None:
            where = "subDomain" if request.role == "subdomain" else "rootDomain"
            raise ResourceNotFound(
                f"Certificate {request.arn} (route53.{where}.certARN) was not found in "
                f"{env.spec.region}; it is used, never requested: fix the ARN, or remove it to "
                f"have {request.domain} requested."
            )


def settle(env: Env, made: tuple[CertificateState, ...], got: Got) -> tuple[CertificateState, ...]:
    """Wait until every certificate is ISSUED (its records placed, the subdomain delegated)."""
    if all(certificate.status == "ISSUED" for certificate in made):
        return made
    zones = validation_zones(env.spec, got[Kind.HOSTED_ZONE], env.seen.root_zone)
    issued: tuple[CertificateState, ...] = wait_for_certificates.fn(env.ctx, made, zones=zones)
    return issued


def delete(env: Env) -> str:
    """Delete every certificate carrying the stack's mark (now that no load balancer uses them);
    each is tried, the first failure is raised after."""
    mine = [c for c in (env.seen.sweep.certificates if env.seen.sweep else ()) if c.owned]
    errors: list[KfalbError] = []

    def one(certificate: CertificateState) -> bool:
        try:
            return bool(delete_certificate.fn(env.ctx, certificate.arn, stack=env.spec.name))
        except KfalbError as error:
            errors.append(error)
            return False

    done = together([partial(one, c) for c in mine])
    if errors:
        raise errors[0]
    deleted = [c.domain for c, gone in zip(mine, done, strict=True) if gone]
    return f"deleted certificates {', '.join(deleted)}" if deleted else ""


VERBS = Verbs(
    observe=observe,
    observe_after=(Kind.HOSTED_ZONE,),
    current=current,
    ensure=ensure,
    settle=settle,
    delete=delete,
    check=check,
)

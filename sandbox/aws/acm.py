"""ACM certificates that are issued only once their DNS validation records can be seen.

moto issues every certificate after a fixed wait and gives all of them the same validation
record. Here a certificate requested through the sandbox stays PENDING_VALIDATION until
``acm_validation_delay`` seconds have passed and every domain's CNAME is visible (asked of
``dns_check`` when given, else read from Route53 following delegations); without
``ValidationMethod='DNS'`` it is an EMAIL certificate that is never issued here. Describe
lists names in request order, each record per domain, InUseBy from ELBv2 listeners, and no
validity dates before issuance. DeleteCertificate refuses a certificate in use. RequestCertificate
refuses names that break ACM's length and pattern constraints with ValidationException.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from moto.acm.models import AWSCertificateManagerBackend, CertBundle
from moto.acm.responses import AWSCertificateManagerResponse
from moto.core.utils import utcnow

from sandbox.aws import dns_view, elbv2
from sandbox.aws.acm_validation import (
    ValidationRecord,
    base_domain,
    is_validated,
    ordered_domains,
    should_issue,
    validation_record,
)
from sandbox.aws.errors import AcmResourceInUse, AcmValidationException
from sandbox.aws.hooks import Realism, hook

_REQUEST = "_kfalb_request"
_PENDING_ONLY_ABSENT = ("NotBefore", "NotAfter", "IssuedAt", "Serial")


@dataclass
class CertificateRequest:
    """What was asked for, kept on moto's certificate object."""

    domains: list[str]
    validation_method: str
    requested_at: float
    issued_at: float | None = None


def _arn_parts(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[4], parts[3]  # account id, region


def check_not_in_use(arn: str, using: list[str]) -> None:
    if using:
        account_id = _arn_parts(arn)[0]
        raise AcmResourceInUse(f"Certificate {arn} in account {account_id} is in use.")


def _visible(realism: Realism, account_id: str, record: ValidationRecord) -> bool:
    if realism.dns_check is not None:
        return realism.dns_check(record.name, "CNAME", record.value)
    return dns_view.is_visible(account_id, record.name, "CNAME", record.value)


#: RequestCertificate's DomainName pattern in the ACM API reference.
DOMAIN_PATTERN = (
    r"^(\*\.)?(((?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9])\.)+((?!-)[A-Za-z0-9-]{1,62}[A-Za-z0-9])$"
)
_DOMAIN = re.compile(DOMAIN_PATTERN)
MAX_NAME = 253
#: RFC 5280's upper bound of a Common Name, which ACM applies to DomainName.
MAX_FIRST_NAME = 64


def check_request_names(domain: str, sans: list[str] | None) -> None:
    """Refuse what ACM refuses, with its message texts (moto fails with an HTML 500 when
    cryptography cannot put an over-long name into the certificate)."""
    for field, value in (
        ("domainName", domain),
        *(("subjectAlternativeNames", n) for n in sans or []),
    ):
        if len(value) > MAX_NAME:
            raise AcmValidationException(
                f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_NAME}"
            )
        if not _DOMAIN.match(value):
            raise AcmValidationException(
                f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
                f"constraint: Member must satisfy regular expression pattern: {DOMAIN_PATTERN}"
            )
    if len(domain) > MAX_FIRST_NAME:
        raise AcmValidationException(
            f"The first domain name can be no longer than {MAX_FIRST_NAME} characters."
        )


def _around_request_certificate(
    realism: Realism, original: Any, response: AWSCertificateManagerResponse
) -> Any:
    check_request_names(
        response._get_param("DomainName") or "", response._get_param("SubjectAlternativeNames")
    )
    backend = response.acm_backend
    token = response._get_param("IdempotencyToken")
    entry = backend._idempotency_tokens.get(token) if token else None
    if entry is not None and entry["arn"] not in backend._certificates:
        # moto fails with a KeyError when the token's certificate was deleted since.
        del backend._idempotency_tokens[token]
    result = original(response)
    certificate = backend._certificates[result.result["CertificateArn"]]
    if _REQUEST not in certificate.__dict__:
        domains = ordered_domains(
            response._get_param("DomainName"), response._get_param("SubjectAlternativeNames")
        )
        method = response._get_param("ValidationMethod") or "EMAIL"
        setattr(certificate, _REQUEST, CertificateRequest(domains, method, time.monotonic()))
    return result


def _around_check(realism: Realism | None, original: Any, certificate: CertBundle) -> None:
    request: CertificateRequest | None = certificate.__dict__.get(_REQUEST)
    if request is None:
        original(certificate)
        return
    if realism is None or certificate.type != "AMAZON_ISSUED" or request.validation_method != "DNS":
        return
    account_id = _arn_parts(certificate.arn)[0]
    if should_issue(
        status=certificate.status,
        elapsed=time.monotonic() - request.requested_at,
        delay=realism.acm_validation_delay,
        validated=lambda: is_validated(
            account_id, request.domains, lambda record: _visible(realism, account_id, record)
        ),
    ):
        certificate.status = "ISSUED"
        request.issued_at = utcnow().timestamp()


def _validation_option(account_id: str, domain: str, method: str, status: str) -> dict[str, Any]:
    option: dict[str, Any] = {
        "DomainName": domain,
        "ValidationDomain": domain,
        "ValidationStatus": "SUCCESS" if status == "ISSUED" else status,
        "ValidationMethod": method,
    }
    if method == "DNS":
        option["ResourceRecord"] = validation_record(account_id, domain).as_resource_record()
    else:
        base = base_domain(domain)
        option["ValidationEmails"] = [
            f"{box}@{base}" for box in ("admin", "administrator", "webmaster")
        ]
    return option


def _around_describe(
    realism: Realism | None, original: Any, certificate: CertBundle
) -> dict[str, Any]:
    described: dict[str, Any] = original(certificate)
    request: CertificateRequest | None = certificate.__dict__.get(_REQUEST)
    if request is None:
        return described
    account_id, region = _arn_parts(certificate.arn)
    shown = described["Certificate"]
    shown["DomainName"] = request.domains[0]
    shown["SubjectAlternativeNames"] = list(request.domains)
    shown["InUseBy"] = elbv2.load_balancers_using(account_id, region, certificate.arn)
    if certificate.type == "AMAZON_ISSUED":
        shown["DomainValidationOptions"] = [
            _validation_option(account_id, domain, request.validation_method, certificate.status)
            for domain in request.domains
        ]
    if certificate.status != "ISSUED":
        for field in _PENDING_ONLY_ABSENT:
            shown.pop(field, None)
    elif request.issued_at is not None:
        shown["IssuedAt"] = request.issued_at
    return described


def _around_delete_certificate(
    realism: Realism, original: Any, backend: AWSCertificateManagerBackend, arn: str
) -> None:
    if arn in backend._certificates:
        check_not_in_use(
            arn, elbv2.load_balancers_using(backend.account_id, backend.region_name, arn)
        )
    original(backend, arn)


def install() -> None:
    hook(AWSCertificateManagerResponse, "request_certificate", _around_request_certificate)
    hook(CertBundle, "check", _around_check, always=True)
    hook(CertBundle, "describe", _around_describe, always=True)
    hook(AWSCertificateManagerBackend, "delete_certificate", _around_delete_certificate)

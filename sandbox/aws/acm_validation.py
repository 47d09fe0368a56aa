"""ACM DNS validation, pure: which CNAME proves a domain, and when a certificate is issued.

As in real ACM, the record depends only on the account and the domain, so every
certificate for the same domain shares one record, and ``*.example.com`` uses the record of
``example.com``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationRecord:
    """The CNAME that ACM looks up to validate one domain."""

    name: str
    value: str

    def as_resource_record(self) -> dict[str, str]:
        return {"Name": self.name, "Type": "CNAME", "Value": self.value}


def base_domain(domain: str) -> str:
    """The name that is validated for ``domain``: a wildcard validates its parent."""
    domain = domain.strip().lower().rstrip(".")
    return domain[2:] if domain.startswith("*.") else domain


def validation_record(account_id: str, domain: str) -> ValidationRecord:
    """``_<32 hex>.<domain>.`` -> ``_<32 hex>.<10 letters>.acm-validations.aws.``."""
    base = base_domain(domain)
    digest = hashlib.sha256(f"{account_id}/{base}".encode()).hexdigest()
    label = "".join(chr(ord("a") + int(digest[i : i + 2], 16) % 26) for i in range(0, 20, 2))
    return ValidationRecord(
        name=f"_{digest[:32]}.{base}.",
        value=f"_{digest[32:]}.{label}.acm-validations.aws.",
    )


def ordered_domains(domain_name: str, alternative_names: Iterable[str] | None) -> list[str]:
    """The certificate's names as ACM lists them: DomainName first, then SANs, once each."""
    domains: list[str] = []
    for name in [domain_name, *(alternative_names or [])]:
        if name not in domains:
            domains.append(name)
    return domains


def is_validated(
    account_id: str, domains: Iterable[str], visible: Callable[[ValidationRecord], bool]
) -> bool:
    """True once every domain's validation record is visible in public DNS."""
    records = {validation_record(account_id, domain) for domain in domains}
    return all(visible(record) for record in records)


def should_issue(
    *, status: str, elapsed: float, delay: float, validated: Callable[[], bool]
) -> bool:
    """Issue a pending certificate after the delay, once its records are visible."""
    return status == "PENDING_VALIDATION" and elapsed >= delay and validated()

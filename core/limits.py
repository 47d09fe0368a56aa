"""Limits of ACM and Route53 the spec's names must fit, checked before any AWS call."""

from __future__ import annotations

from core import naming
from core.dnsnames import MAX_NAME

#: ACM RequestCertificate: "the length of the domain name (technically, the Common Name) ...
#: cannot exceed 64 octets (characters), including periods" (RFC 5280's ub-common-name).
#: SubjectAlternativeNames may have up to 253.
ACM_DOMAIN_NAME_MAX = 64
#: ACM's DNS validation record is `_<32 hex digits>.<name without "*.">`: 34 characters more.
ACM_RECORD_PREFIX = 34
MAX_PATH = 4096


def certificate_names_problem(subdomain: str, *, sans: tuple[str, ...]) -> str | None:
    """Why the certificates this spec asks for would be refused by ACM or Route53, or None."""
    # The subdomain is under the root, so `*.<root>` fits whenever `*.<subdomain>` does.
    name = naming.wildcard(subdomain)
    if len(name) > ACM_DOMAIN_NAME_MAX:
        return (
            f"route53.subDomain.name: the certificate name {name!r} has {len(name)} characters; "
            f"ACM allows at most {ACM_DOMAIN_NAME_MAX} for a certificate's domain name (RFC 5280 "
            "Common Name); use a shorter subdomain."
        )
    for name in (subdomain, *sans):
        base = name.removeprefix("*.")
        if len(base) + ACM_RECORD_PREFIX > MAX_NAME:
            return (
                f"route53.subDomain.subjectAlternativeNames: {name!r} is too long for its ACM "
                f"validation record (_<32 hex>.{base[:20]}... would have "
                f"{len(base) + ACM_RECORD_PREFIX} characters; Route53 allows {MAX_NAME})."
            )
    return None


def path_shape(value: str | None) -> str | None:
    """A manifests path as given, or ValueError when it cannot be a path at all.

    Whether it exists and renders is checked on the machine that runs the flow
    (tasks.k8s.manifests.check_manifests_path), still before any AWS call.
    """
    if value is None:
        return None
    if not value.strip():
        raise ValueError("is empty; leave it out to use the bundled Ingress")
    if "\x00" in value or "\n" in value or len(value) > MAX_PATH:
        raise ValueError("is not a directory path")
    return value

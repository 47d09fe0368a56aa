"""The values of the ALB options: their checks as the spec validates them, and the texts and
normalisations the option table (core/alb_options.py) uses (pure)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from pydantic import Field, field_validator

from core.alb_facts import NONE
from core.spec_model import SpecModel

PARTITION = r"aws(?:-cn|-us-gov|-iso(?:-[a-z])?)?"
REGION = r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d"
_WAF_ACL_ARN = re.compile(
    rf"^arn:{PARTITION}:wafv2:{REGION}:\d{{12}}:regional/webacl/[A-Za-z0-9_-]{{1,128}}/"
    r"[0-9a-f-]{36}$"
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SSL_POLICY = re.compile(r"^ELBSecurityPolicy-[A-Za-z0-9-]{1,100}$")


class AccessLogs(SpecModel):
    """ALB access logs to S3 (the bucket's policy must let ELB write; see the AWS docs)."""

    bucket: str = Field(description="S3 bucket for the ALB's access logs.")
    prefix: str = Field(default="", description="Key prefix within the bucket (may be empty).")

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if (
            not _BUCKET.fullmatch(value)
            or ".." in value
            or value.startswith("xn--")
            or value.endswith("-s3alias")
            or _is_ip(value)
        ):
            raise ValueError(
                f"{value!r} is not an S3 bucket name (3-63 lower-case letters, digits, '.' and "
                "'-', starting and ending with a letter or digit, not an IP address)"
            )
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip("/")
        if "AWSLogs" in value or len(value) > 512 or any(c in value for c in ",= "):
            raise ValueError(
                f"{value!r}: the prefix may not contain 'AWSLogs', ',', '=' or spaces "
                "(at most 512 characters)"
            )
        return value


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def empty_is_none(value: object) -> object:
    """An empty text means "not set"."""
    return None if value == "" else value


def none_is_empty(value: object) -> object:
    """A null list means "no items"."""
    return () if value is None else value


def ssl_policy(value: str | None) -> str | None:
    if value is not None and not _SSL_POLICY.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an ELB security policy name (like ELBSecurityPolicy-TLS13-1-2-2021-06)"
        )
    return value


def waf_acl_arn(value: str | None) -> str | None:
    if value is not None and not _WAF_ACL_ARN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a regional WAFv2 web ACL ARN (like arn:aws:wafv2:us-west-2:"
            "123456789012:regional/webacl/<name>/<id>)"
        )
    return value


def cidrs(value: tuple[str, ...]) -> tuple[str, ...]:
    found = []
    for item in value:
        try:
            network = ipaddress.ip_network(item.strip(), strict=True)
        except ValueError as error:
            raise ValueError(f"{item!r} is not a CIDR block ({error})") from None
        found.append(str(network))
    if len(found) > 50:
        raise ValueError(f"has {len(found)} CIDRs; a security group allows at most 60 rules")
    return tuple(dict.fromkeys(found))


def cidrs_field(raw: str) -> str:
    """The inbound-cidrs annotation's blocks as AWS reports them, sorted and joined."""
    found = []
    for item in (part.strip() for part in raw.split(",")):
        if item:
            try:
                found.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                found.append(item)  # compared as written; the controller refuses it
    return joined(found)


def joined(values: Iterable[str]) -> str:
    """Values sorted and comma-joined; `none` for no value."""
    return ",".join(sorted(values)) or NONE


def boolean(value: bool) -> str:
    return "true" if value else "false"


def lowered(value: str) -> str:
    return value.strip().lower()


def integer(value: str) -> str:
    """`0060` and ` 60` are the 60 AWS reports."""
    text = value.strip()
    return str(int(text)) if text.isdigit() else text


def text_or_boolean(value: str) -> str:
    """Booleans in any case as AWS reports them; other texts (bucket, prefix) exactly."""
    text = value.strip()
    return text.lower() if text.lower() in ("true", "false") else text

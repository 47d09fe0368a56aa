"""The spec's value types (pure): each a type with its check, so a field says what it holds
(`role_arn: RoleArn`) and no model repeats a validator. An empty string reads as "not set"."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field

from core import limits, naming
from core.alb_option_values import PARTITION, REGION
from core.controller_versions import bundled_version_problem
from core.dnsnames import name_problem, normalise
from core.regions import REGIONS

T = TypeVar("T")

_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
_CERTIFICATE_ARN = re.compile(
    rf"^arn:{PARTITION}:acm:{REGION}:\d{{12}}:certificate/[0-9a-f-]{{36}}$"
)
_POLICY_ARN = re.compile(rf"^arn:{PARTITION}:iam::\d{{12}}:policy/[\w+=,.@/-]{{1,512}}$")
#: IAM role ARN: an optional path (`/a/b/`) and a name of 1-64 characters.
_ROLE_ARN = re.compile(
    rf"^arn:(?P<partition>{PARTITION}):iam::\d{{12}}:role/(?:[\w+=,.@-]+/){{0,32}}[\w+=,.@-]{{1,64}}$"
)
#: sts:AssumeRole ExternalId: 2-1224 characters of this set (AWS STS API reference).
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_RESERVED_TAG_PREFIXES = ("aws:", "kubernetes.io/", "elbv2.k8s.aws/", "ingress.k8s.aws/")


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return check


def _unless_none(check: Callable[[T], T]) -> Callable[[T | None], T | None]:
    return lambda value: None if value is None else check(value)


def dns_name(value: str, *, allow_wildcard: bool = False) -> str:
    name = normalise(value)
    problem = name_problem(name, allow_wildcard=allow_wildcard)
    if problem:
        raise ValueError(f"{value!r} {problem}")
    return name


def hosted_zone_id(value: str | None) -> str | None:
    """A Route53 hosted zone id without its `/hostedzone/` prefix, or None for an empty value."""
    if value is None or value == "":
        return None
    zone_id = value.removeprefix("/hostedzone/")
    if not _ZONE_ID.fullmatch(zone_id):
        raise ValueError(f"{value!r} is not a Route53 hosted zone id (like Z0123456789ABCDEFGHIJ)")
    return zone_id


def certificate_arn(value: str | None) -> str | None:
    """An ACM certificate ARN (any partition), or None for an empty value."""
    if value is None or value == "":
        return None
    return _matching(
        _CERTIFICATE_ARN,
        "an ACM certificate ARN (like arn:aws:acm:us-west-2:123456789012:certificate/<uuid>)",
    )(value)


def _region(value: str) -> str:
    if value not in REGIONS:
        raise ValueError(f"{value!r} is not an AWS region (for example us-west-2)")
    return value


def _external_id(value: str) -> str:
    if not _EXTERNAL_ID.fullmatch(value):  # the value itself is never echoed
        raise ValueError("is not an sts:ExternalId (2-1224 letters, digits and any of _+=,.@:/-)")
    return value


def _sans(value: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(dns_name(item, allow_wildcard=True) for item in value))
    if len(names) > 9:
        raise ValueError(f"has {len(names)} names; ACM allows 10 names per certificate in all")
    return names


def _problem(find: Callable[[Any], str | None]) -> Callable[[T], T]:
    def check(value: T) -> T:
        problem = find(value)
        if problem:
            raise ValueError(problem)
        return value

    return check


def _controller_version(value: str) -> str:
    value = value.strip()
    if value[:1].isdigit():  # 3.5.0, as release notes write it
        value = f"v{value}"
    return _problem(bundled_version_problem)(value)


def _tags(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 40:
        raise ValueError(f"has {len(value)} tags; at most 40 (AWS allows 50 with ours)")
    for key, item in value.items():
        if not 1 <= len(key) <= 128 or len(item) > 256:
            raise ValueError(f"tag {key[:40]!r}: keys have 1-128 characters, values at most 256")
        if key in (naming.STACK_TAG, naming.MANAGED_BY_TAG) or key.startswith(
            _RESERVED_TAG_PREFIXES
        ):
            raise ValueError(f"tag {key!r} is reserved (by AWS, Kubernetes or kubeflow-alb)")
    return value


EmptyIsNone = BeforeValidator(lambda value: None if value == "" else value)
NoneIsEmpty = BeforeValidator(lambda value: () if value is None else value)

ClusterName = Annotated[str, AfterValidator(_matching(_CLUSTER_NAME, "an EKS cluster name (1-100 "
                        "letters, digits, '-' or '_', starting with a letter or digit)"))]  # fmt: skip
Region = Annotated[str, AfterValidator(_region)]
DnsName = Annotated[str, AfterValidator(dns_name)]
Sans = Annotated[tuple[str, ...], NoneIsEmpty, AfterValidator(_sans)]
ZoneId = Annotated[str | None, AfterValidator(hosted_zone_id)]
CertificateArn = Annotated[str | None, AfterValidator(certificate_arn)]
RoleArn = Annotated[str | None, EmptyIsNone, AfterValidator(_unless_none(_matching(
    _ROLE_ARN, "an IAM role ARN (like arn:aws:iam::210987654321:role/name)")))]  # fmt: skip
PolicyArn = Annotated[str | None, EmptyIsNone, AfterValidator(_unless_none(_matching(
    _POLICY_ARN, "an IAM policy ARN (like arn:aws:iam::123456789012:policy/name)")))]  # fmt: skip
ExternalId = Annotated[str | None, EmptyIsNone, AfterValidator(_unless_none(_external_id))]
ObjectName = Annotated[str, AfterValidator(_problem(naming.object_name_problem))]
GroupName = Annotated[
    str | None, EmptyIsNone, AfterValidator(_unless_none(_problem(naming.group_name_problem)))
]
StackName = Annotated[str | None, AfterValidator(_unless_none(_problem(naming.stack_name_problem)))]
ControllerVersion = Annotated[str, AfterValidator(_controller_version)]
ManifestsPath = Annotated[str | None, AfterValidator(limits.path_shape)]
Tags = Annotated[dict[str, str], AfterValidator(_tags)]


def certificate_arn_field(names: str) -> Any:
    """A domain's `certARN` key (the key the kubeflow-manifests script writes back): a
    certificate of the user's for `names` (e.g. `*.<subdomain>`), used instead of ours."""
    return Field(
        default=None,
        alias="certARN",
        description=f"An existing ACM certificate for {names} to use instead of requesting "
        "one (the key the kubeflow-manifests script writes back). Used, never deleted.",
    )


def region_partition(region: str) -> str:
    """The AWS partition of a region: `aws-cn` for China, `aws-us-gov` for GovCloud, else `aws`."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"

"""Deletion protection as the controller honours it (since v2.2, its PR #2172).

- An Ingress being deleted whose ``load-balancer-attributes`` annotation says
  ``deletion_protection.enabled=true`` fails its group's model build: "deletion_protection is
  enabled, cannot delete the ingress: <name>" (a ``FailedBuildModel`` Warning event); nothing is
  deleted and the finalizer stays, until the annotation says false.
- When a load balancer is to go (its Ingresses are gone, or a scheme change replaces it) and AWS
  refuses with ``OperationNotPermitted`` ... "deletion protection", the controller turns the
  protection off (ModifyLoadBalancerAttributes) and deletes it again: protection set any other
  way than the annotation (the console, IngressClassParams: its issue #4325) does not keep it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.albcontroller.access import Aws, AwsCallError
from sandbox.albcontroller.model import ANNOTATION, BuildError, parse_tags

KEY = "deletion_protection.enabled"
_TRUE = ("1", "t", "true")  # what Go's strconv.ParseBool reads as true (case aside)


def protected(ingress: dict[str, Any]) -> bool:
    """The Ingress's attributes annotation enables deletion protection."""
    annotations = ingress["metadata"].get("annotations") or {}
    raw = annotations.get(ANNOTATION + "load-balancer-attributes", "")
    value = parse_tags(raw, "load-balancer-attributes").get(KEY, "false")
    return value.strip().lower() in _TRUE


def refuse_protected_deletion(leaving: Iterable[dict[str, Any]]) -> None:
    """The model build's first check, over the group's Ingresses that are being deleted."""
    for ingress in leaving:
        if ingress["metadata"].get("deletionTimestamp") and protected(ingress):
            raise BuildError(
                "deletion_protection is enabled, cannot delete the ingress: "
                f"{ingress['metadata']['name']}"
            )


def delete_load_balancer(aws: Aws, arn: str) -> None:
    """DeleteLoadBalancer; refused for its deletion protection, the protection is turned off
    and the delete made again."""
    try:
        aws.call("elbv2", "DeleteLoadBalancer", LoadBalancerArn=arn)
    except AwsCallError as error:
        if "OperationNotPermitted" not in str(error) or "deletion protection" not in str(error):
            raise
        aws.call(
            "elbv2",
            "ModifyLoadBalancerAttributes",
            LoadBalancerArn=arn,
            Attributes=[{"Key": KEY, "Value": "false"}],
        )
        aws.call("elbv2", "DeleteLoadBalancer", LoadBalancerArn=arn)

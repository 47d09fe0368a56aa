"""The ALB controller stand-in's IngressGroups: members in order, one merged model, conflicts."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sandbox.albcontroller import groups
from sandbox.albcontroller.model import BuildError, build_model

SERVICE = {
    "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system", "uid": "u1"},
    "spec": {"ports": [{"port": 80, "targetPort": 8080}]},
}


def _ingress(name: str, *, host: str, cert: str, group: str | None = "shared",
             order: str | None = None, tags: str = "team=ml", scheme: str = "internet-facing",
             deleting: bool = False) -> dict[str, Any]:  # fmt: skip
    annotations = {
        "alb.ingress.kubernetes.io/scheme": scheme,
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP":80},{"HTTPS":443}]',
        "alb.ingress.kubernetes.io/ssl-redirect": "443",
        "alb.ingress.kubernetes.io/certificate-arn": cert,
        "alb.ingress.kubernetes.io/tags": tags,
    }
    if group:
        annotations[groups.GROUP_ANNOTATION] = group
    if order:
        annotations[groups.ORDER_ANNOTATION] = order
    meta: dict[str, Any] = {"name": name, "namespace": "istio-system", "annotations": annotations}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    backend = {"service": {"name": "istio-ingressgateway", "port": {"number": 80}}}
    rule = {
        "host": host,
        "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
    }
    return {"metadata": meta, "spec": {"ingressClassName": "alb", "rules": [rule]}}


def _model(ingress: dict[str, Any]) -> Any:
    return build_model(ingress, {"istio-ingressgateway": SERVICE}, cluster="kubeflow")


def test_members_are_the_live_ones_of_the_group_by_order_then_key() -> None:
    a = _ingress("a", host="*.a.example.com", cert="arn:a")
    b = _ingress("b", host="*.b.example.com", cert="arn:b", order="-1")
    gone = _ingress("c", host="*.c.example.com", cert="arn:c", deleting=True)
    alone = _ingress("d", host="*.d.example.com", cert="arn:d", group=None)
    found = groups.members([a, b, gone, alone], "shared")
    assert [item["metadata"]["name"] for item in found] == ["b", "a"]
    assert groups.group_of(alone) is None


def test_merge_makes_one_alb_with_every_members_certificates_rules_and_groups() -> None:
    a = _model(_ingress("a", host="*.a.example.com", cert="arn:a"))
    b = _model(_ingress("b", host="*.b.example.com", cert="arn:b"))
    merged = groups.merge("shared", [a, b], cluster="kubeflow")
    assert merged.stack_id == "shared"
    assert re.fullmatch(r"k8s-shared-[0-9a-f]{10}", merged.lb_name)
    https = next(listener for listener in merged.listeners if listener.protocol == "HTTPS")
    assert https.certificates == ("arn:a", "arn:b")  # the first member's is the default
    assert [(rule.priority, rule.host) for rule in merged.rules] == [
        (1, "*.a.example.com"),
        (2, "*.b.example.com"),
    ]
    assert {group.resource_id for group in merged.target_groups} == {
        "istio-system/a-istio-ingressgateway:80",
        "istio-system/b-istio-ingressgateway:80",
    }
    # Without b the group keeps its name: the same ALB, with a's part only.
    assert groups.merge("shared", [a], cluster="kubeflow").lb_name == merged.lb_name


def test_members_that_disagree_do_not_build() -> None:
    a = _model(_ingress("a", host="*.a.example.com", cert="arn:a", tags="owner=a"))
    b = _model(_ingress("b", host="*.b.example.com", cert="arn:b", tags="owner=b"))
    with pytest.raises(BuildError, match=re.escape("conflicting tag owner: a | b")):
        groups.merge("shared", [a, b], cluster="kubeflow")
    internal = _model(_ingress("c", host="*.c.example.com", cert="arn:c", scheme="internal"))
    with pytest.raises(BuildError, match="conflicting scheme"):
        groups.merge("shared", [a, internal], cluster="kubeflow")

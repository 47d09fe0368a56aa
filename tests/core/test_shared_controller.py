"""The stacks of a cluster share one controller (pure): the owner check refuses a stack that
would downgrade it, or switch its identity, under its other users."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.kubestate import ControllerState
from core.manifests import LBC_CONTROLLER
from core.observation import Observation
from core.owners import conflicts
from core.spec import StackSpec, parse_spec
from core.webhook_ca import WEBHOOK_CA_MATCHES

ROLE = "arn:aws:iam::1:role/kfalb-kubeflow-0123abcd-lbc"


def _spec(**stack: Any) -> StackSpec:
    return parse_spec({"cluster": {"name": "kubeflow", "region": "us-west-2"},
                       "route53": {"rootDomain": {"name": "example.com"},
                                   "subDomain": {"name": "team2.example.com"}},
                       "stack": {"name": "team2", "ingressName": "team2", **stack}})  # fmt: skip


def _seen(*users: str, version: str = "v3.5.0", annotation: str | None = ROLE) -> Observation:
    controller = ControllerState(ingress_class="alb", class_controller=LBC_CONTROLLER,
                                 deployment="kube-system/aws-load-balancer-controller",
                                 ready_replicas=1, owned=True, users=users, version=version,
                                 role_annotation=annotation,
                                 webhook_ca=WEBHOOK_CA_MATCHES)  # fmt: skip
    return Observation(observed_at=datetime(2026, 12, 2, tzinfo=UTC), controller=controller)


def test_a_stack_may_not_downgrade_the_controller_its_other_users_run() -> None:
    (found,) = conflicts(_spec(controllerVersion="v2.17.1"), _seen("a", "b"))
    assert found.startswith("The cluster's ALB controller runs v3.5.0 for stack(s) a, b; ")
    assert "Set stack.controllerVersion v3.5.0" in found
    assert conflicts(_spec(controllerVersion="v3.5.0"), _seen("a")) == ()
    # a newer version upgrades it for every user; alone, the stack may choose any
    assert conflicts(_spec(controllerVersion="v3.5.0"), _seen("a", version="v2.17.1")) == ()
    assert conflicts(_spec(controllerVersion="v2.17.1"), _seen("team2")) == ()
    # an untagged image's version is not known: nothing to compare
    assert conflicts(_spec(controllerVersion="v2.17.1"), _seen("a", version="latest")) == ()


def test_a_stack_may_not_switch_the_identity_its_other_users_share() -> None:
    (irsa,) = conflicts(_spec(controllerIdentity="pod-identity"), _seen("a"))
    assert irsa.startswith("The cluster's ALB controller uses irsa for stack(s) a; ")
    (pods,) = conflicts(_spec(), _seen("a", annotation=None))
    assert "Set stack.controllerIdentity pod-identity" in pods
    assert conflicts(_spec(controllerIdentity="pod-identity"), _seen("a", annotation=None)) == ()
    assert conflicts(_spec(controllerIdentity="pod-identity"), _seen("team2")) == ()

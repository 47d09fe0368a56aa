"""Plan invariants, property-style over combinations of tampering with a set-up stack: the plan
lists exactly the tampered items (plus the checks that follow from them), and nothing else."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest

from core import naming
from core.kinds import CHECKED
from core.kinds import stack_plan as drift_plan
from core.observation import Observation
from core.spec import StackSpec, parse_spec
from core.state import Kind
from tests.core.test_drift import ready

Tamper = Callable[[Observation], Observation]


def _spec() -> StackSpec:
    return parse_spec({
        "cluster": {"name": "kubeflow", "region": "us-west-2"},
        "route53": {"rootDomain": {"name": "example.com"},
                    "subDomain": {"name": "platform.example.com"}},
    })  # fmt: skip


def _untag(found: object) -> object:
    tags = dict(getattr(found, "tags"))  # noqa: B009 - any tagged state
    tags.pop(naming.MANAGED_BY_TAG)
    return found.model_copy(update={"tags": tags})  # type: ignore[attr-defined]


def _zone_untagged(seen: Observation) -> Observation:
    return seen.model_copy(update={"zone": _untag(seen.zone)})


def _certificate_untagged(seen: Observation) -> Observation:
    sub = "*.platform.example.com"
    return seen.model_copy(
        update={"certificates": {**seen.certificates, sub: _untag(seen.certificates[sub])}}
    )


def _role_detached(seen: Observation) -> Observation:
    return seen.model_copy(
        update={"role": seen.role.model_copy(update={"attached_policy_arns": ()})}  # type: ignore[union-attr]
    )


def _role_untrusted(seen: Observation) -> Observation:
    return seen.model_copy(
        update={"role": seen.role.model_copy(update={"trust_matches": False})}  # type: ignore[union-attr]
    )


def _policy_changed(seen: Observation) -> Observation:
    return seen.model_copy(
        update={"policy": seen.policy.model_copy(update={"document_matches": False})}  # type: ignore[union-attr]
    )


def _provider_untagged(seen: Observation) -> Observation:
    return seen.model_copy(update={"oidc_provider": _untag(seen.oidc_provider)})


def _subnet_untagged(seen: Observation) -> Observation:
    bare = seen.subnets[0].model_copy(update={"tags": {"kubernetes.io/cluster/kubeflow": "shared"}})
    return seen.model_copy(update={"subnets": (bare,)})


def _delegation_changed(seen: Observation) -> Observation:
    other = seen.delegation.model_copy(update={"values": ("ns-9.example.net",)})  # type: ignore[union-attr]
    return seen.model_copy(update={"delegation": other})


def _validation_changed(seen: Observation) -> Observation:
    name = "_x.platform.example.com"
    record = seen.validation_records[name]
    assert record is not None
    other = record.model_copy(update={"values": ("_other.acm-validations.aws.",)})
    return seen.model_copy(update={"validation_records": {**seen.validation_records, name: other}})


def _record_gone(seen: Observation) -> Observation:
    return seen.model_copy(update={"dashboard_record": None})


def _ingress_annotation(seen: Observation) -> Observation:
    ingress = seen.ingress
    assert ingress is not None
    annotations = {**ingress.annotations, "alb.ingress.kubernetes.io/scheme": "internal"}
    return seen.model_copy(
        update={"ingress": ingress.model_copy(update={"annotations": annotations})}
    )


def _balancer_internal(seen: Observation) -> Observation:
    balancer = seen.load_balancer.model_copy(update={"scheme": "internal"})  # type: ignore[union-attr]
    return seen.model_copy(update={"load_balancer": balancer})


#: Each tampering and the one item it must show as drifted.
TAMPERINGS: dict[str, tuple[Tamper, Kind]] = {
    "zone tag removed": (_zone_untagged, Kind.HOSTED_ZONE),
    "NS delegation changed": (_delegation_changed, Kind.DELEGATION),
    "certificate tag removed": (_certificate_untagged, Kind.CERTIFICATE),
    "validation record changed": (_validation_changed, Kind.VALIDATION_RECORD),
    "subnet tag removed": (_subnet_untagged, Kind.SUBNET_TAG),
    "OIDC provider tag removed": (_provider_untagged, Kind.OIDC_PROVIDER),
    "policy document changed": (_policy_changed, Kind.IAM_POLICY),
    "role policy detached": (_role_detached, Kind.IAM_ROLE),
    "role trust widened": (_role_untrusted, Kind.IAM_ROLE),
    "Ingress annotation changed": (_ingress_annotation, Kind.INGRESS),
    "ALB scheme changed": (_balancer_internal, Kind.LOAD_BALANCER),
    "dashboard record deleted": (_record_gone, Kind.DNS_RECORD),
}


def _drifted(spec: StackSpec, seen: Observation) -> set[Kind]:
    return {change.item.kind for change in drift_plan(spec, seen).drift} - CHECKED


def test_the_untouched_stack_plans_nothing() -> None:
    spec = _spec()
    assert drift_plan(spec, ready(spec)).converged


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_each_tampering_is_planned_alone(name: str) -> None:
    spec = _spec()
    tamper, kind = TAMPERINGS[name]
    assert _drifted(spec, tamper(ready(spec))) == {kind}


def test_any_combination_is_planned_as_exactly_its_parts() -> None:
    spec, rng = _spec(), random.Random(8)
    names = sorted(TAMPERINGS)
    combos = [c for size in (2, 3, 5) for c in itertools.combinations(names, size)]
    for combo in rng.sample(combos, 60):
        seen = ready(spec)
        for name in combo:
            seen = TAMPERINGS[name][0](seen)
        assert _drifted(spec, seen) == {TAMPERINGS[name][1] for name in combo}, combo

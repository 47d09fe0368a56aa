"""The walk's graph: what apply runs for a plan, and what each node waits for (no run)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.kinds import TABLE
from core.observation import Observation
from core.plan import Action, Change, Item, Plan
from core.spec import parse_spec
from core.state import Kind
from flows.walk import MADE, SETTLED, _graph
from tasks.aws.clients import AwsContext
from tasks.kinds import Env

pytestmark = pytest.mark.unit

SPEC = parse_spec({"cluster": {"name": "kubeflow", "region": "us-west-2"},
                   "route53": {"rootDomain": {"name": "example.com"},
                               "subDomain": {"name": "platform.example.com"}}})  # fmt: skip


def _env(*kinds: Kind) -> Env:
    todo = Plan(tuple(Change(Item(kind, kind.value), Action.CREATE) for kind in kinds))
    seen = Observation(observed_at=datetime.now(UTC))
    return Env(spec=SPEC, ctx=AwsContext(region="us-west-2"), target=None, cluster=None,
               seen=seen, todo=todo)  # fmt: skip


def test_nothing_to_fix_runs_nothing() -> None:
    assert _graph(_env()) == {}


#: The kinds of the Gateway front door (an Ingress stack plans none of them).
GATEWAY = {Kind.GATEWAY, Kind.GATEWAY_API}


def _first_setup(*other_door: Kind) -> list[Kind]:
    return [k for k in TABLE if TABLE[k].policy.value != "checked" and k not in other_door]


def test_a_first_setup_requests_the_certificates_beside_the_zone() -> None:
    graph = _graph(_env(*_first_setup(*GATEWAY)))
    assert graph[(Kind.CERTIFICATE, MADE)] == ()
    assert graph[(Kind.HOSTED_ZONE, MADE)] == ()
    # its records wait for both: they go into the zone made in this run
    assert set(graph[(Kind.VALIDATION_RECORD, MADE)]) == {
        (Kind.CERTIFICATE, MADE),
        (Kind.HOSTED_ZONE, MADE),
    }
    # ISSUED once its records are placed and the subdomain is delegated
    assert set(graph[(Kind.CERTIFICATE, SETTLED)]) == {
        (Kind.CERTIFICATE, MADE),
        (Kind.VALIDATION_RECORD, MADE),
        (Kind.DELEGATION, SETTLED),
    }
    # the controller's prerequisites do not wait for DNS
    assert set(graph[(Kind.CONTROLLER, MADE)]) == {
        (Kind.IAM_ROLE, MADE),
        (Kind.POD_IDENTITY, MADE),
        (Kind.SUBNET_TAG, MADE),
    }
    assert set(graph[(Kind.INGRESS, MADE)]) == {
        (Kind.CONTROLLER, MADE),
        (Kind.CERTIFICATE, SETTLED),
    }
    # the record is written while the ALB provisions (the check through the ALB before a
    # record moves waits only for the ALB to be found); the answers wait for both
    assert set(graph[(Kind.DNS_RECORD, MADE)]) == {
        (Kind.LOAD_BALANCER, MADE),
        (Kind.HOSTED_ZONE, MADE),
        (Kind.ALB_ANSWER, SETTLED),
    }
    assert graph[(Kind.ALB_ANSWER, SETTLED)] == ((Kind.LOAD_BALANCER, MADE),)
    assert set(graph[(Kind.DNS_ANSWER, SETTLED)]) == {
        (Kind.DNS_RECORD, MADE),
        (Kind.LOAD_BALANCER, SETTLED),
    }
    assert graph[(Kind.HTTPS_ANSWER, SETTLED)] == ((Kind.DNS_ANSWER, SETTLED),)  # fmt: skip


def test_a_first_gateway_setup_installs_the_crds_before_the_controller() -> None:
    graph = _graph(_env(*_first_setup(Kind.INGRESS)))
    assert (Kind.GATEWAY_API, MADE) in set(graph[(Kind.CONTROLLER, MADE)])
    assert set(graph[(Kind.GATEWAY, MADE)]) == {
        (Kind.CONTROLLER, MADE),
        (Kind.GATEWAY_API, MADE),
        (Kind.CERTIFICATE, SETTLED),
    }
    assert graph[(Kind.GATEWAY, SETTLED)] == ((Kind.GATEWAY, MADE),)
    # the ALB is looked for once the Gateway is programmed
    assert (Kind.GATEWAY, SETTLED) in set(graph[(Kind.LOAD_BALANCER, MADE)])


def test_a_drifted_record_alone_is_rewritten_then_verified_end_to_end() -> None:
    graph = _graph(_env(Kind.DNS_RECORD))
    assert set(graph) == {(Kind.DNS_RECORD, MADE), (Kind.ALB_ANSWER, SETTLED),
                          (Kind.DNS_ANSWER, SETTLED), (Kind.HTTPS_ANSWER, SETTLED)}  # fmt: skip
    # the ALB and the zone are as observed; a record that moves is checked through the ALB
    assert graph[(Kind.DNS_RECORD, MADE)] == ((Kind.ALB_ANSWER, SETTLED),)
    assert graph[(Kind.ALB_ANSWER, SETTLED)] == ()
    assert graph[(Kind.DNS_ANSWER, SETTLED)] == ((Kind.DNS_RECORD, MADE),)


def test_an_ingress_change_waits_for_its_certificates_to_be_issued() -> None:
    graph = _graph(_env(Kind.INGRESS))
    # the certificates are in place: their wait is a look, which waits for nothing
    assert graph[(Kind.CERTIFICATE, SETTLED)] == ()
    assert set(graph[(Kind.INGRESS, MADE)]) == {(Kind.CERTIFICATE, SETTLED)}
    assert (Kind.LOAD_BALANCER, MADE) in graph  # the ALB follows its front door


def test_a_new_certificate_waits_for_the_delegation_even_when_it_is_added_by_hand() -> None:
    graph = _graph(_env(Kind.HOSTED_ZONE, Kind.CERTIFICATE))
    assert (Kind.DELEGATION, SETTLED) in graph  # on demand: the delegation is not marked
    assert (Kind.DELEGATION, MADE) not in graph
    assert graph[(Kind.DELEGATION, SETTLED)] == ((Kind.HOSTED_ZONE, MADE),)


def test_a_switch_removes_the_old_front_door_only_once_the_dashboard_answers_through_the_new() -> (
    None
):
    graph = _graph(_env(Kind.GATEWAY, Kind.LOAD_BALANCER, Kind.DNS_RECORD, Kind.FORMER_FRONT_DOOR))
    assert set(graph[(Kind.FORMER_FRONT_DOOR, MADE)]) == {
        (Kind.DNS_ANSWER, SETTLED),
        (Kind.HTTPS_ANSWER, SETTLED),
    }
    assert (Kind.DNS_RECORD, MADE) in set(graph[(Kind.DNS_ANSWER, SETTLED)])
    assert (Kind.LOAD_BALANCER, MADE) in set(graph[(Kind.DNS_RECORD, MADE)])
    # the record moves only after the dashboard answered through the new ALB's own address
    assert (Kind.ALB_ANSWER, SETTLED) in set(graph[(Kind.DNS_RECORD, MADE)])
    assert graph[(Kind.ALB_ANSWER, SETTLED)] == ((Kind.LOAD_BALANCER, MADE),)


def test_a_switch_resumed_with_the_new_alb_in_place_still_checks_it_before_the_move() -> None:
    """A run that stopped after the new ALB existed, before the record moved: the next run
    marks only the record and the former front door, and the move still waits for the check
    through the ALB (the ALB is taken as observed)."""
    graph = _graph(_env(Kind.DNS_RECORD, Kind.FORMER_FRONT_DOOR))
    assert graph[(Kind.DNS_RECORD, MADE)] == ((Kind.ALB_ANSWER, SETTLED),)
    assert graph[(Kind.ALB_ANSWER, SETTLED)] == ()

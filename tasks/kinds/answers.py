"""The checked facts, verified and never made: the dashboard over HTTPS through the ALB's own
address before the record moves to it, the dashboard's name resolving to the ALB at the
resolvers, and the dashboard answering over HTTPS with a valid certificate."""

from __future__ import annotations

from typing import Any

from core.items_dns import record_moves
from core.resources import LoadBalancerState
from core.settings import get_settings
from core.state import Kind
from tasks.aws.elbv2 import wait_for_load_balancer
from tasks.dns import answers, wait_for_dns
from tasks.https import HttpsAnswer, observe_dashboard, wait_for_dashboard
from tasks.kinds.base import Env, Got, Look, Verbs


def settle_alb(env: Env, made: Any, got: Got) -> HttpsAnswer | None:
    """When the record is to move to this ALB from elsewhere (a switch of front door, in this
    run or in one that stopped half way), wait until the ALB is active and the dashboard
    answers through its own address, with the dashboard's name as SNI: only then may the
    record move. Nothing to wait for when the record is new or stays."""
    balancer: LoadBalancerState | None = got.get(Kind.LOAD_BALANCER)
    if balancer is None or not env.changes(Kind.DNS_RECORD):
        return None
    if not record_moves(env.spec, env.seen, balancer):
        return None
    active = wait_for_load_balancer.fn(env.ctx, balancer.arn, seen=balancer)
    answer: HttpsAnswer = wait_for_dashboard.fn(env.spec.dashboard_host, via=active.dns_name)
    return answer


def observe_dns(look: Look) -> dict[str, Any]:
    settings, balancer = get_settings(), look.found.load_balancer
    return {
        "host_answers": answers(look.spec.dashboard_host, "A", settings),
        "alb_answers": answers(balancer.dns_name, "A", settings) if balancer else (),
    }


def settle_dns(env: Env, made: Any, got: Got) -> tuple[str, ...]:
    """Wait until the name resolves like the ALB: at the subdomain's servers, then anywhere."""
    zone, balancer = got[Kind.HOSTED_ZONE], got[Kind.LOAD_BALANCER]
    found: tuple[str, ...] = wait_for_dns.fn(
        env.spec.dashboard_host, balancer.dns_name, zone_name_servers=zone.name_servers
    )
    return found


def observe_https(look: Look) -> dict[str, Any]:
    if not look.found.host_answers:
        return {"https_ok": None, "https_detail": ""}
    answer = observe_dashboard.fn(look.spec.dashboard_host)
    return {"https_ok": answer.ok, "https_detail": answer.describe()}


def settle_https(env: Env, made: Any, got: Got) -> HttpsAnswer:
    answer: HttpsAnswer = wait_for_dashboard.fn(env.spec.dashboard_host)
    return answer


ALB = Verbs(observe=lambda look: {}, settle=settle_alb)
DNS = Verbs(observe=observe_dns, observe_after=(Kind.LOAD_BALANCER,), settle=settle_dns)
HTTPS = Verbs(observe=observe_https, observe_after=(Kind.DNS_ANSWER,), settle=settle_https)

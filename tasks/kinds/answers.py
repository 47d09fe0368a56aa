"""The checked facts, verified and never made: the dashboard's name resolving to the ALB at the
resolvers, and the dashboard answering over HTTPS with a valid certificate."""

from __future__ import annotations

from typing import Any

from core.settings import get_settings
from core.state import Kind
from tasks.dns import answers, wait_for_dns
from tasks.https import HttpsAnswer, observe_dashboard, wait_for_dashboard
from tasks.kinds.base import Env, Got, Look, Verbs


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


DNS = Verbs(observe=observe_dns, observe_after=(Kind.LOAD_BALANCER,), settle=settle_dns)
HTTPS = Verbs(observe=observe_https, observe_after=(Kind.DNS_ANSWER,), settle=settle_https)

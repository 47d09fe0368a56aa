"""The table of waits: what each awaits, the setting that bounds it and how often it looks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from core.settings import Settings

# The Settings fields that bound waits (each is KFALB_<FIELD> in the environment).
ACM = "acm_timeout_seconds"
ALB = "alb_timeout_seconds"
CLEANUP = "cleanup_timeout_seconds"
CONTROLLER = "controller_timeout_seconds"
DELEGATION = "delegation_timeout_seconds"
DNS = "dns_timeout_seconds"
GATEWAY = "gateway_timeout_seconds"
HTTPS = "https_timeout_seconds"
INGRESS = "ingress_timeout_seconds"
LOCK = "lock_timeout_seconds"
ROUTE53 = "route53_timeout_seconds"


def setting_name(field: str) -> str:
    """The environment variable of a Settings field, e.g. KFALB_ACM_TIMEOUT_SECONDS."""
    return f"KFALB_{field.upper()}"


@dataclass(frozen=True)
class Wait:
    """One kind of wait, declared as botocore declares a waiter.

    Attributes:
        phrase: what is awaited; its `{}` slots take the names the call site gives `of`.
        bound: the Settings field of the timeout.
        poll: a Settings field of a steady delay between looks; by default the delay starts at
            KFALB_POLL_INTERVAL_SECONDS and grows to KFALB_POLL_MAX_INTERVAL_SECONDS.
        first_poll_cap: the first delay is at most this many seconds (an answer that comes fast).
        first_seen: the start line also says what the first look saw (e.g. who holds a lock).
    """

    phrase: str
    bound: str
    poll: str = ""
    first_poll_cap: float | None = None
    first_seen: bool = False

    def __post_init__(self) -> None:
        for name in filter(None, (self.bound, self.poll)):
            if not name.endswith("_seconds") or name not in Settings.model_fields:
                raise TypeError(f"{name} is not a wait bound of Settings")

    @property
    def setting(self) -> str:
        """The environment variable of the bound, e.g. KFALB_ACM_TIMEOUT_SECONDS."""
        return setting_name(self.bound)

    def of(self, *names: str, note: str = "") -> Awaited:
        """This wait for the named resources; `note` is said after the phrase, in parentheses
        or as its own words (" through the ALB")."""
        return Awaited(self, self.phrase.format(*names) + note)

    def timeout(self, settings: Settings) -> float:
        """The bound, in seconds."""
        return float(getattr(settings, self.bound))

    def cadence(self, settings: Settings) -> tuple[float, float]:
        """The first and the longest delay between looks, in seconds."""
        if self.poll:
            steady = float(getattr(settings, self.poll))
            return steady, steady
        first = settings.poll_interval_seconds
        if self.first_poll_cap is not None:
            first = min(first, self.first_poll_cap)
        return first, settings.poll_max_interval_seconds


class Awaited(NamedTuple):
    """A wait for named resources: its kind, and what it awaits in words."""

    wait: Wait
    what: str


@dataclass(frozen=True)
class Waits:
    """Every wait of the project, one entry a kind."""

    acm_records: Wait = Wait("ACM to publish the validation records of {}", ACM)
    acm_issued: Wait = Wait("ACM certificates {} to be ISSUED", ACM)
    route53_insync: Wait = Wait("Route53 change {} to be INSYNC", ROUTE53)
    delegation_at_root: Wait = Wait("the root zone's name servers to delegate {} to {}", DELEGATION)
    delegation_public: Wait = Wait("public DNS to show the delegation of {} to {}", DELEGATION)
    record_at_servers: Wait = Wait("{} at the subdomain's name servers to answer {}", DNS)
    record_at_resolvers: Wait = Wait("{} to resolve to {} at the resolvers", DNS)
    https_answer: Wait = Wait("https://{}/ to answer", HTTPS)
    kinds_served: Wait = Wait(
        "custom resource kinds to be served: {}", CONTROLLER, first_poll_cap=1.0
    )
    controller_ready: Wait = Wait(
        "Deployment {} to be ready and Service {} to have endpoints", CONTROLLER
    )
    ingress_address: Wait = Wait("an ALB address on Ingress {}", INGRESS)
    gateway_programmed: Wait = Wait("the ALB controller to program Gateway {}", GATEWAY)
    alb_active: Wait = Wait("load balancer {} to be active", ALB)
    alb_as_declared: Wait = Wait("load balancer {} to be as the Ingress declares it", ALB)
    alb_unprotected: Wait = Wait(
        "the deletion protection of load balancer {} to be lifted ({})", ALB
    )
    deleted: Wait = Wait("{} to be deleted", CLEANUP)
    gateway_class_deleted: Wait = Wait(
        "GatewayClass {} to be deleted (its controller removes its finalizer)", CLEANUP
    )
    deleted_by_controller: Wait = Wait(
        "Ingress {} to be deleted by its controller (the ALB, its target groups and security "
        "group go first)",
        CLEANUP,
    )
    deletable: Wait = Wait("{} to be deletable", CLEANUP)
    lock: Wait = Wait("{}", LOCK, poll="lock_poll_seconds", first_seen=True)


WAITS = Waits()

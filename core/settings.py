"""Runtime settings (environment variables KFALB_*), with bounds: where to resolve, how long to wait."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import SpecError

Seconds = Annotated[float, Field(ge=0.01, le=86_400)]


class Settings(BaseSettings):
    """Knobs that are not part of a stack's desired state: endpoints for checks and wait bounds."""

    model_config = SettingsConfigDict(env_prefix="KFALB_", frozen=True, extra="ignore")

    dns_nameservers: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Resolvers to check public DNS answers at, as host[:port], comma separated. "
        "Empty: the system resolver.",
    )
    ca_bundle: Path | None = Field(
        default=None, description="PEM bundle to verify the dashboard's HTTPS certificate with."
    )
    authoritative_dns_port: int = Field(
        default=53, ge=1, le=65535, description="Port of authoritative name servers (53)."
    )
    https_port: int = Field(default=443, ge=1, le=65535, description="Port of the HTTPS check.")
    kube_context: str | None = Field(default=None, description="kubeconfig context to use.")
    kube_discovery_miss_seconds: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="Seconds a kind the Kubernetes API did not serve is taken as not served "
        "without asking its discovery again (a fleet's checks of one cluster ask once, not per "
        "read); a refresh after CRDs are applied forgets it. 0: ask every time.",
    )
    poll_interval_seconds: Seconds = Field(default=5.0, description="First delay between polls.")
    poll_max_interval_seconds: Seconds = Field(
        default=10.0, description="Longest delay between polls (bounds the overshoot of a wait)."
    )
    progress_interval_seconds: Seconds = Field(
        default=20.0, description="Seconds between the progress lines of a long wait."
    )
    acm_timeout_seconds: Seconds = Field(
        default=2700.0, description="Wait for ISSUED certificates."
    )
    delegation_timeout_seconds: Seconds = Field(
        default=3600.0, description="Wait for the subdomain delegation to show in public DNS."
    )
    route53_timeout_seconds: Seconds = Field(default=600.0, description="Wait for INSYNC changes.")
    controller_timeout_seconds: Seconds = Field(
        default=600.0, description="Wait for the controller."
    )
    ingress_timeout_seconds: Seconds = Field(default=900.0, description="Wait for the ALB address.")
    alb_timeout_seconds: Seconds = Field(
        default=900.0, description="Wait for the ALB to be active."
    )
    gateway_timeout_seconds: Seconds = Field(
        default=900.0,
        description="Wait for the ALB controller to program a Gateway (its ALB active).",
    )
    gateway_failure_grace_seconds: Seconds = Field(
        default=120.0,
        description="How long a Gateway may show a failure the controller retries (its Warning "
        "events say why, e.g. AccessDenied while IAM changes propagate) before the wait stops.",
    )
    dns_timeout_seconds: Seconds = Field(
        default=900.0, description="Wait for the record to resolve."
    )
    https_timeout_seconds: Seconds = Field(
        default=600.0, description="Wait for the dashboard HTTPS."
    )
    cleanup_timeout_seconds: Seconds = Field(default=900.0, description="Wait for deletions.")
    prefect_api_retry_seconds: Seconds = Field(
        default=2.0,
        le=600,
        description="A fleet's check of a stack (or its table) that the Prefect API failed is "
        "tried again after this delay, then 5 and 15 times it.",
    )
    webhook_timeout_seconds: Seconds = Field(
        default=300.0,
        description="Wait for the ALB controller's admission webhooks to answer Ingress writes.",
    )
    lock_lease_seconds: Seconds = Field(
        default=60.0,
        le=3600,
        description="Lease of a stack's lock: a holder that stops renewing it (killed) blocks "
        "other runs of the stack at most this long.",
    )
    lock_poll_seconds: Seconds = Field(
        default=2.0, description="Delay between looks at a stack's lock while waiting for it."
    )
    route53_rate: float = Field(
        default=10.0,
        ge=0.1,
        le=100.0,
        description="Route53 requests per second per AWS account that kubeflow-alb's clients "
        "share (AWS since 2026-07-30: a token bucket per account refilled at 10 per second, "
        "50 at most; lower it when other tools share the account).",
    )
    route53_burst: int = Field(
        default=5,
        ge=1,
        le=50,
        description="Route53 requests per account that may go at once before the rate applies "
        "(AWS's bucket holds 50; a stack's observation reads a few names at once; 1 keeps every "
        "second under the rate).",
    )
    route53_budget: Literal["process", "prefect"] = Field(
        default="process",
        description="Where each account's Route53 budget is kept: in this process, or in a "
        "Prefect global concurrency limit (kfalb-route53-<account>, slot decay = the rate) "
        "that every worker of a fleet shares.",
    )
    lock_timeout_seconds: Seconds = Field(
        default=3600.0, description="Wait for another run of the stack to release its lock."
    )
    approval_timeout_seconds: Seconds = Field(
        default=86_400.0, description="Wait for a reviewer to approve or reject a plan."
    )
    approval_poll_seconds: Seconds = Field(
        default=10.0, description="How often a run that keeps its process checks for the answer."
    )
    server_start_timeout_seconds: Seconds = Field(
        default=180.0,
        description="Wait for the local Prefect server kfalb starts on first use to answer.",
    )

    @field_validator("dns_nameservers", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("dns_nameservers")
    @classmethod
    def _check_nameservers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            nameserver_address(item)
        return value


def nameserver_address(item: str) -> tuple[str, int]:
    """Split `host[:port]` (or `[v6]:port`) into host and port, default port 53."""
    host, port = item, "53"
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif item.count(":") == 1:
        host, port = item.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SpecError(f"KFALB_DNS_NAMESERVERS: {item!r} is not host[:port]")
    return host, int(port)


def get_settings() -> Settings:
    """The settings, read from the environment now (cheap; tests change the environment)."""
    return Settings()

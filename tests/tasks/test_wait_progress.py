"""Waits in tasks log progress (what is awaited, the bound's setting, what was last seen)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from core.errors import WaitTimeout
from core.resources import CertificateState, ValidationRecord
from core.settings import Settings
from sandbox.dns import DnsServer, Record, StaticZoneSource, Zone
from tasks.aws.acm_progress import certificates_progress, visibility
from tasks.dns import wait_for_dns
from tasks.waits import PROGRESS_MARK

ROOT_NS = ("ns-1.awsdns-01.com",)
SUB_NS = ("ns-3.awsdns-03.org",)
ALB = "k8s-istio-abc-123.us-west-2.elb.amazonaws.com"
CNAME = ValidationRecord(
    domains=("*.platform.example.com",),
    name="_abc.platform.example.com.",
    value="_xyz.acm-validations.aws.",
    zone_id="ZSUB",
    zone_name="platform.example.com.",
)


@pytest.fixture
def zones() -> StaticZoneSource:
    root = Zone("ZROOT", "example.com.", name_servers=ROOT_NS)
    sub = Zone("ZSUB", "platform.example.com.", name_servers=SUB_NS)
    return StaticZoneSource([root, sub])


@pytest.fixture
def settings(zones: StaticZoneSource, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with DnsServer(zones, alb_exists=lambda name: name.rstrip(".").endswith(ALB)) as server:
        env = {
            "KFALB_DNS_NAMESERVERS": server.nameserver,
            "KFALB_AUTHORITATIVE_DNS_PORT": str(server.address[1]),
            "KFALB_POLL_INTERVAL_SECONDS": "0.02",
            "KFALB_POLL_MAX_INTERVAL_SECONDS": "0.05",
            "KFALB_DNS_TIMEOUT_SECONDS": "0.3",
            "KFALB_PROGRESS_INTERVAL_SECONDS": "0.01",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield Settings()


def test_validation_record_visibility_at_the_zone_servers_and_the_resolvers(
    zones: StaticZoneSource, settings: Settings
) -> None:
    zones.upsert("ZROOT", Record("platform.example.com.", "NS", 300, (SUB_NS[0] + ".",)))
    assert visibility(CNAME, SUB_NS, settings).endswith("name servers: no, at the resolvers: no")
    zones.upsert("ZSUB", Record(CNAME.name, "CNAME", 300, ("_other.acm-validations.aws.",)))
    assert visibility(CNAME, SUB_NS, settings).endswith("name servers: no, at the resolvers: no")
    zones.upsert("ZSUB", Record(CNAME.name, "CNAME", 300, (CNAME.value,)))
    assert visibility(CNAME, SUB_NS, settings).endswith("name servers: yes, at the resolvers: yes")


def test_certificate_progress_names_status_and_each_record(settings: Settings) -> None:
    pending = CertificateState(arn="arn:aws:acm:us-west-2:1:certificate/a", domain="*.platform.example.com",
                               status="PENDING_VALIDATION", validation_records=(CNAME,))  # fmt: skip
    issued = pending.model_copy(update={"domain": "*.example.com", "status": "ISSUED"})
    line = certificates_progress(
        [pending, issued], settings=settings, name_servers=lambda *_: SUB_NS
    )
    assert line == (
        "*.platform.example.com PENDING_VALIDATION (_abc.platform.example.com. at the zone's name "
        "servers: no, at the resolvers: no); *.example.com ISSUED"
    )


def test_a_dns_wait_logs_its_bound_and_what_it_saw(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO), pytest.raises(WaitTimeout):
        wait_for_dns.fn("kubeflow.platform.example.com", ALB, zone_name_servers=SUB_NS)
    progress = [r.getMessage() for r in caplog.records if getattr(r, PROGRESS_MARK, False)]
    assert progress[0].startswith("Waiting for kubeflow.platform.example.com at the subdomain's")
    assert progress[0].endswith("(up to 0.3s; KFALB_DNS_TIMEOUT_SECONDS changes this)")
    assert any(line.startswith("Still waiting for kubeflow.platform") for line in progress[1:])
    assert all(": none" in line for line in progress[1:])

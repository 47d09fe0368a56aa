"""The whole sandbox world: real clients work from its environment, and stop() closes it all."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import boto3
import dns.rdatatype
import dns.resolver
import pytest

from sandbox.ca import SandboxCA
from sandbox.world import ENV_FILE, World, WorldOptions

KUBECTL = Path(sys.executable).parent / "kubectl"
FAST = {"acm_delay": 0.0, "alb_delay": 0.3, "dns_delay": 0.2, "deployment_ready_delay": 0.05}
T = TypeVar("T")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    options = WorldOptions(account_id="311111110051", controller="preinstalled", **FAST)
    with World(tmp_path_factory.mktemp("world"), options) as started:
        yield started


def eventually(check: Callable[[], T], timeout: float = 20.0) -> T:
    """Poll until `check` returns something truthy (a bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout} s")


def resolver(env: dict[str, str]) -> dns.resolver.Resolver:
    host, port = env["KFALB_DNS_NAMESERVERS"].split(",")[0].rsplit(":", 1)
    answer = dns.resolver.Resolver(configure=False)
    answer.nameservers, answer.port, answer.lifetime = [host], int(port), 2.0
    return answer


def a_records(env: dict[str, str], name: str) -> list[str]:
    try:
        return sorted(r.to_text() for r in resolver(env).resolve(name, "A"))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []


def test_the_env_file_exports_what_start_returned(world: World) -> None:
    lines = (world.directory / ENV_FILE).read_text().splitlines()
    exported = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert {key: value.strip("'") for key, value in exported.items()} == world.env
    for key in ("AWS_ENDPOINT_URL", "KUBECONFIG", "KFALB_DNS_NAMESERVERS", "KFALB_CA_BUNDLE"):
        assert world.env[key]


def test_a_shell_with_the_env_file_reaches_kubectl_boto3_and_dns(world: World) -> None:
    probe = (
        "import boto3, json, dns.resolver, os; "
        "host, port = os.environ['KFALB_DNS_NAMESERVERS'].rsplit(':', 1); "
        "r = dns.resolver.Resolver(configure=False); r.nameservers = [host]; r.port = int(port); "
        "print(json.dumps({'account': boto3.client('sts').get_caller_identity()['Account'], "
        "'www': [a.to_text() for a in r.resolve('www.example.com', 'A')]}))"
    )
    script = f'. "{world.directory / ENV_FILE}" && "{KUBECTL}" get ns -o name && "{sys.executable}" -c "{probe}"'
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG", "KFALB_"))
    }
    done = subprocess.run(
        ["bash", "-c", script], env=clean, capture_output=True, text=True, timeout=60, check=True
    )
    *namespaces, last = done.stdout.strip().splitlines()
    assert {"namespace/istio-system", "namespace/kubeflow", "namespace/kube-system"} <= set(
        namespaces
    )
    assert json.loads(last) == {"account": "311111110051", "www": ["192.0.2.10"]}


def test_dns_answers_for_a_subdomain_only_once_it_is_delegated(world: World) -> None:
    env = world.env
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    route53: Any = session.client("route53", endpoint_url=env["AWS_ENDPOINT_URL"])
    root = world.seeded.root_zone_id if world.seeded else None
    sub = route53.create_hosted_zone(Name="team.example.com", CallerReference="team-1")
    record = {
        "Name": "app.team.example.com",
        "Type": "A",
        "TTL": 60,
        "ResourceRecords": [{"Value": "192.0.2.7"}],
    }
    change = {"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    route53.change_resource_record_sets(HostedZoneId=sub["HostedZone"]["Id"], ChangeBatch=change)
    assert a_records(env, "app.team.example.com") == []

    servers = [{"Value": ns} for ns in sub["DelegationSet"]["NameServers"]]
    delegation = {"Name": "team.example.com", "Type": "NS", "TTL": 300, "ResourceRecords": servers}
    route53.change_resource_record_sets(
        HostedZoneId=root,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": delegation}]},
    )
    assert eventually(lambda: a_records(env, "app.team.example.com")) == ["192.0.2.7"]


def test_kubectl_applied_ingress_gets_an_alb_that_turns_active(
    world: World, tmp_path: Path
) -> None:
    assert world.aws is not None
    acm = world.aws.client("acm")
    ca = SandboxCA()
    cert, key = ca.issue(["*.team.example.com"])
    arn = acm.import_certificate(Certificate=cert.encode(), PrivateKey=key.encode())[
        "CertificateArn"
    ]
    manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "web",
            "namespace": "istio-system",
            "annotations": {
                "alb.ingress.kubernetes.io/scheme": "internet-facing",
                "alb.ingress.kubernetes.io/target-type": "ip",
                "alb.ingress.kubernetes.io/certificate-arn": arn,
            },
        },
        "spec": {
            "ingressClassName": "alb",
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {
                                        "name": "istio-ingressgateway",
                                        "port": {"number": 80},
                                    }
                                },
                            }
                        ]
                    }
                }
            ],
        },
    }
    path = tmp_path / "ingress.json"
    path.write_text(json.dumps(manifest))
    env = {**os.environ, **world.env}
    subprocess.run(
        [str(KUBECTL), "apply", "-f", str(path)],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    wait = [
        str(KUBECTL),
        "-n",
        "istio-system",
        "wait",
        "ingress/web",
        "--for=jsonpath={.status.loadBalancer.ingress[0].hostname}",
        "--timeout=30s",
    ]
    subprocess.run(wait, env=env, check=True, capture_output=True, timeout=60)
    elbv2 = world.aws.client("elbv2")
    (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]
    assert eventually(
        lambda: elbv2.describe_load_balancers()["LoadBalancers"][0]["State"]["Code"] == "active"
    )
    assert balancer["Scheme"] == "internet-facing"


def _closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_stop_closes_every_port_and_removes_the_env_file(tmp_path: Path) -> None:
    world = World(tmp_path, WorldOptions(account_id="311111110052", **FAST))
    world.start()
    assert world.kube is not None
    assert world.aws is not None
    assert world.dns is not None
    assert world.https is not None
    tcp = [
        int(world.kube.url.rsplit(":", 1)[1]),
        world.aws.port,
        world.https.port,
        world.dns.address[1],
    ]
    assert not any(_closed(port) for port in tcp)
    world.stop()
    assert all(_closed(port) for port in tcp)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", tcp[-1]))  # the DNS server's UDP port is free again
    assert not (tmp_path / ENV_FILE).exists()
    assert world.controller is not None
    assert not world.controller._thread  # noqa: SLF001 - the stand-in's loop has ended

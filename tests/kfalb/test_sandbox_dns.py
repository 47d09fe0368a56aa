"""`kfalb sandbox dns`: another process edits the running sandbox's external DNS, so a setup with
the root domain outside Route53 finishes once the printed records are added there."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sandbox.yaml"


def _kfalb(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kfalb", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def _artifact(key: str, stop: threading.Event) -> str | None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    with get_client(sync_client=True) as client:
        while not stop.wait(0.1):
            found = client.read_latest_artifacts(
                artifact_filter=ArtifactCollectionFilter(
                    key=ArtifactCollectionFilterKey(any_=[key])
                )
            )
            if found:
                return str(found[0].data)
    return None


@pytest.fixture
def sandbox_dir(sandbox_world: Callable[..., Any], tmp_path: Path) -> tuple[Any, Path]:
    """A world with the root elsewhere, found by the command as `.kfalb-sandbox` in `tmp_path`."""
    world = sandbox_world(root_in_route53=False)
    (tmp_path / ".kfalb-sandbox").symlink_to(world.directory)
    return world, tmp_path


def test_dns_add_list_remove_from_another_process(sandbox_dir: tuple[Any, Path]) -> None:
    world, cwd = sandbox_dir
    added = _kfalb(
        cwd, "sandbox", "dns", "add", "team.example.com", "TXT", '"hello"', "--ttl", "60"
    )
    assert added.returncode == 0, added.stderr
    assert any(
        r.name == "team.example.com." and r.type == "TXT" for r in world.external_dns.records()
    )
    listed = _kfalb(cwd, "sandbox", "dns", "list")
    assert 'team.example.com.  60  TXT  "hello"' in listed.stdout
    assert _kfalb(cwd, "sandbox", "dns", "remove", "team.example.com", "TXT").returncode == 0
    assert not any(r.name == "team.example.com." for r in world.external_dns.records())
    outside = _kfalb(cwd, "sandbox", "dns", "add", "other.org", "A", "192.0.2.1")
    assert outside.returncode == 2
    assert "not within example.com." in outside.stderr
    assert "Traceback" not in outside.stderr


def test_root_elsewhere_setup_finishes_after_sandbox_dns_add(sandbox_dir: tuple[Any, Path]) -> None:
    from flows.setup_load_balancer import setup_load_balancer

    world, cwd = sandbox_dir
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"].update(name="root-at-registrar")
    spec = StackSpec.model_validate(data)
    stop, results = threading.Event(), []

    def person_at_the_registrar() -> None:
        delegation = _artifact(f"{spec.name}-delegation", stop)
        if delegation is None:
            return
        servers = re.findall(r"^(\S+)\s+\d+\s+IN\s+NS\s+(\S+)$", delegation, re.M)
        results.append(_kfalb(cwd, "sandbox", "dns", "add", servers[0][0], "NS",
                              *(value for _, value in servers)))  # fmt: skip
        validation = _artifact(f"{spec.name}-validation-records", stop)
        for name, value in re.findall(r"^(\S+)\s+CNAME\s+(\S+)$", validation or "", re.M):
            results.append(_kfalb(cwd, "sandbox", "dns", "add", name, "CNAME", value))

    person = threading.Thread(target=person_at_the_registrar, daemon=True)
    person.start()
    try:
        outputs = setup_load_balancer(spec=spec)
    finally:
        stop.set()
        person.join(timeout=30)
    assert outputs["stack"] == spec.name
    assert [r.returncode for r in results] == [0] * len(results)
    assert len(results) == 2  # the NS set, and the *.example.com validation record
    route53 = world.aws.client("route53")
    (zone,) = route53.list_hosted_zones()["HostedZones"]
    name_servers = route53.get_hosted_zone(Id=zone["Id"])["DelegationSet"]["NameServers"]
    (ns,) = [
        r for r in world.external_dns.records() if r.type == "NS" and r.name.startswith("platform")
    ]
    assert {value.rstrip(".") for value in ns.values} == set(name_servers)

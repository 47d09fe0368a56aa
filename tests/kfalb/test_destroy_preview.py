"""`kfalb plan --destroy` on a set-up stack: what cleanup would delete, let go of (shared, still
used by another stack) and leave, read from the world; cleanup on a terminal removes only after
"yes"."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.spec import StackSpec, load_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sandbox.yaml"

pytestmark = pytest.mark.slow


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _spec(name: str, subdomain: str, **stack: Any) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(mode="json", by_alias=True)
    data["route53"]["subDomain"]["name"] = subdomain
    data["stack"] = {**data["stack"], "name": name, **stack}
    return load_spec(yaml.safe_dump(data))


def test_the_preview_deletes_the_stacks_own_releases_the_shared_and_no_means_nothing(
    sandbox_world: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.setup_load_balancer import setup_load_balancer
    from kfalb import confirm
    from kfalb.cli import main
    from tasks.stack_block import load_record

    world = sandbox_world()
    first = _spec("stack-a", "platform.example.com")
    second = _spec("stack-b", "team2.example.com", ingressName="team2")
    setup_load_balancer(spec=first)
    setup_load_balancer(spec=second)  # shares the cluster's controller, role and policy

    assert main(["plan", "--destroy", "--stack", first.name]) == 3
    out = capsys.readouterr().out
    zone = world.aws.client("route53").list_hosted_zones_by_name(DNSName=first.subdomain)
    zone_id = zone["HostedZones"][0]["Id"].removeprefix("/hostedzone/")
    assert f"delete   hosted-zone {zone_id} (platform.example.com): the stack's" in out
    assert "delete   ingress istio-system/istio-ingress: the stack's" in out
    # The cluster's role is still used by stack-b: cleanup of stack-a only lets go of it.
    assert "release  iam-role arn:aws:iam::" in out
    assert "shared: stays for stack-b" in out
    assert "0 to delete" not in out

    monkeypatch.delenv(confirm.YES_ENV, raising=False)
    monkeypatch.setattr("sys.stdin", _Terminal("no\n"))
    assert main(["cleanup", "--stack", first.name]) == 1
    err = capsys.readouterr().err
    assert "Cleanup of stack stack-a would:" in err
    assert "Cleanup cancelled; nothing was removed." in err
    assert load_record(first.name) is not None
    monkeypatch.setattr("sys.stdin", _Terminal("yes\n"))
    assert main(["cleanup", "--stack", first.name]) == 0
    assert load_record(first.name) is None

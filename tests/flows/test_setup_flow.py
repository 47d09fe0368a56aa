"""The setup flow against the sandbox: from nothing to HTTPS, then a re-run that changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.kinds import CHECKED
from core.spec import StackSpec, load_spec
from core.state import Kind

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"


@pytest.fixture
def spec() -> StackSpec:
    return load_spec(EXAMPLE.read_text())


def test_setup_from_nothing_to_https_then_a_rerun_changes_nothing(
    sandbox_world: Callable[..., Any], spec: StackSpec
) -> None:
    from core.settings import get_settings
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls
    from tasks.https import probe
    from tasks.stack_block import load_record

    world = sandbox_world()
    outputs = setup_load_balancer(spec=spec)

    answer = probe(spec.dashboard_host, get_settings())
    assert answer.ok
    assert answer.status == 302
    assert "/dex/auth" in answer.location
    assert "*.platform.example.com" in answer.certificate_names
    record = load_record(spec.name)
    assert record is not None
    assert record.phase == "ready"
    kinds = {item.kind for item in record.resources}
    gateway = {Kind.GATEWAY, Kind.GATEWAY_API, Kind.FORMER_FRONT_DOOR}  # other front door
    made = set(Kind) - CHECKED - {Kind.POD_IDENTITY} - gateway  # irsa: no association
    assert kinds == made, f"missing from the block: {made - kinds}"
    assert outputs["url"].startswith("https://kubeflow.platform.example.com:")
    # The default controller version, from scratch: v3.5.0's image and AdmissionReview v1.
    deployment = world.kube.store.get(
        "apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system"
    )
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"].endswith(":v3.5.0")
    webhooks = world.kube.store.get(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "aws-load-balancer-webhook",
    )
    assert {v for hook in webhooks["webhooks"] for v in hook["admissionReviewVersions"]} == {"v1"}

    route53 = world.aws.client("route53")
    zones = [
        z
        for z in route53.list_hosted_zones()["HostedZones"]
        if z["Name"] == "platform.example.com."
    ]
    assert len(zones) == 1

    before = _versions(world.kube.store)
    calls = api_calls()
    setup_load_balancer(spec=spec)
    assert api_calls().since(calls).mutating_calls() == ()
    after = _versions(world.kube.store)
    assert after == before


def _versions(store: Any) -> dict[tuple[str, str, str], str]:
    """resourceVersion of every object setup writes or makes the controllers write."""
    kinds = (("networking.k8s.io/v1", "Ingress"), ("apps/v1", "Deployment"), ("v1", "Secret"))
    return {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o["metadata"][
            "resourceVersion"
        ]
        for kind in kinds
        for o in store.list(*kind)
    }

"""The drift check against the sandbox: plan before setup, a clean check, tampering, remediation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from core.plan import Action
from core.spec import StackSpec, load_spec
from tests.tamper import CERTIFICATE_ARN, INGRESS, delete_dashboard_record, keep_first_certificate

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
SUB = "platform.example.com"
ELB_TAG = "kubernetes.io/role/elb"


def _spec(name: str) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"]["name"] = name  # artifact keys and blocks of this test only
    return StackSpec.model_validate(data)


def _versions(world: Any) -> dict[tuple[str, str | None, str], str]:
    """resourceVersion of every object of the kinds the stack touches."""
    kinds = [("networking.k8s.io/v1", "Ingress"), ("networking.k8s.io/v1", "IngressClass"),
             ("apps/v1", "Deployment"), ("v1", "Secret"), ("v1", "ServiceAccount")]  # fmt: skip
    return {
        (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]): obj["metadata"][
            "resourceVersion"
        ]
        for kind in kinds
        for obj in world.kube.store.list(*kind)
    }


def _events(name: str, stack: str, *, at_least: int) -> list[Any]:
    """Events of this name about the stack, as the Prefect server stored them (automations see
    these); waits, bounded, for the events worker to deliver them."""
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
    from prefect.events.worker import EventsWorker

    from core.waiting import wait_until

    EventsWorker.drain_all()
    wanted = EventFilter(
        event=EventNameFilter(name=[name]),
        resource=EventResourceFilter(id=[f"kubeflow-alb.stack.{stack}"]),
    )

    def fetch() -> list[Any]:
        with get_client(sync_client=True) as client:
            return list(client.read_events(filter=wanted, limit=50).events)

    return wait_until(fetch, lambda found: len(found) >= at_least, what=f"{name} events",
                      timeout=20, interval=0.1, max_interval=0.5)  # fmt: skip


def _artifacts(flow_run_id: UUID | None) -> dict[str, Any]:
    """The table artifacts of one flow run: key -> rows."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    tables = [artifact for artifact in found if artifact.key and artifact.type == "table"]
    return {artifact.key: json.loads(str(artifact.data)) for artifact in tables}


def test_plan_setup_check_tamper_detect_remediate(sandbox_world: Callable[..., Any]) -> None:
    from core.errors import DriftDetected
    from flows.check_drift import (
        DRIFT_EVENT,
        REMEDIATED_EVENT,
        check_drift,
        check_drift_fleet,
        observe_plan,
    )
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls

    world = sandbox_world()
    spec = _spec("drift-check")

    before = observe_plan(spec)[1]
    assert {change.action for change in before.changes} == {Action.CREATE}
    kinds = {change.item.kind.value for change in before.changes}
    assert {"iam-role", "controller", "ingress", "dns-record", "ns-delegation"} <= kinds

    with pytest.raises(DriftDetected) as nothing:  # no block yet: the spec alone is enough
        check_drift(spec=spec)
    assert len(nothing.value.items) == len(before.changes)

    setup_load_balancer(spec=spec)
    after = observe_plan(spec)[1]
    assert after.converged, [f"{c.item.key}: {c.differences}" for c in after.drift]
    assert len(after.changes) == len(before.changes)

    calls, objects = api_calls(), _versions(world)
    outputs = check_drift(stack=spec.name, kube_access="eks")  # token from STS, endpoint from EKS
    assert outputs == {"stack": spec.name, "drifted": [], "status": "ok", "repaired": []}
    assert api_calls().since(calls).mutating_calls() == ()
    assert _versions(world) == objects

    subnet = world.seeded.public_subnet_ids[0]
    world.aws.client("ec2").delete_tags(Resources=[subnet], Tags=[{"Key": ELB_TAG}])
    delete_dashboard_record(world, spec.subdomain)
    kept = keep_first_certificate(world)

    calls = api_calls()
    state = check_drift(stack=spec.name, return_state=True)
    assert state.is_failed()
    with pytest.raises(DriftDetected) as raised:
        state.result()
    assert api_calls().since(calls).mutating_calls() == ()
    named = {  # each names the fact, not only the resource
        f"subnet-tag {subnet} {ELB_TAG} (missing)",
        "ingress istio-system/istio-ingress (annotation:certificate-arn)",
        f"dns-record *.{SUB} (missing)",
        # What the missing record makes visible: nothing answers for the dashboard any more.
        f"dns-answer kubeflow.{SUB} at the resolvers (missing)",
        f"https-answer https://kubeflow.{SUB}/ (missing)",
    }
    # The controller may already have carried the Ingress's change to the ALB.
    carried = {"load-balancer ALB of Ingress istio-system/istio-ingress (listener HTTPS:443 "
               "sni-certificates)"}  # fmt: skip
    assert named <= set(raised.value.items) <= named | carried
    table = _artifacts(state.state_details.flow_run_id)[f"{spec.name}-drift"]
    statuses = {(row["item"], row["field"]): row["status"] for row in table}
    assert statuses[(f"dns-record *.{SUB}", "")] == "create"
    assert (
        statuses[("ingress istio-system/istio-ingress", "annotation:certificate-arn")] == "update"
    )
    assert statuses[(f"hosted-zone {SUB}", "")] == "ok"
    assert table[0]["status"] != "ok"  # the drifted rows come first
    event, _ = _events(DRIFT_EVENT, spec.name, at_least=2)  # newest first; one per failed check
    assert event.resource["prefect.resource.name"] == spec.name
    drifted_rows = {(row["item"], row["field"]) for row in event.payload["drifted"]}
    assert ("ingress istio-system/istio-ingress", "annotation:certificate-arn") in drifted_rows
    assert "istio-system/istio-ingress" in event.payload["summary"]  # readable notification text
    assert world.kube.store.get(*INGRESS)["metadata"]["annotations"][CERTIFICATE_ARN] == kept

    with pytest.raises(DriftDetected) as fleet:
        check_drift_fleet()
    assert fleet.value.items == (spec.name,)

    state = check_drift(stack=spec.name, remediate=True, return_state=True)
    repaired = state.result()
    assert repaired["status"] == "repaired"
    report = _artifacts(state.state_details.flow_run_id)[f"{spec.name}-drift-remediation"]
    assert [row["repair"] for row in report] == repaired["repaired"]
    (_,) = _events(REMEDIATED_EVENT, spec.name, at_least=1)
    # In apply order; the ALB too when the controller had carried the Ingress's change to it.
    assert [kind for kind in repaired["repaired"] if kind != "load-balancer"] == [
        "subnet-tag", "ingress", "dns-record", "dns-answer", "https-answer"
    ]  # fmt: skip
    annotation = world.kube.store.get(*INGRESS)["metadata"]["annotations"][CERTIFICATE_ARN]
    assert annotation.startswith(kept + ",")

    calls = api_calls()
    assert check_drift_fleet() == {spec.name: "ok"}
    assert api_calls().since(calls).mutating_calls() == ()

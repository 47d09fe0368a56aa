"""A first setup makes exactly what the guide needs, records it all and reports it; a re-run is idle."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote
from uuid import UUID

import pytest

from core.kinds import CHECKED
from core.spec import StackSpec, load_spec
from core.state import Kind

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
SUB, ROOT = "platform.example.com", "example.com"


def _spec() -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"]["name"] = "first-run"  # artifact keys of this test only
    return StackSpec.model_validate(data)


def _artifacts(flow_run_id: UUID | None) -> dict[str, Any]:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    assert flow_run_id is not None
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {artifact.key: artifact for artifact in found if artifact.key}


def _zone(route53: Any, name: str) -> list[dict[str, Any]]:
    zones = route53.list_hosted_zones()["HostedZones"]
    return [zone for zone in zones if zone["Name"] == name + "."]


def _records(world: Any, zone_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["Name"], r["Type"]): r for r in world.aws.record_sets(zone_id)}


def _kubernetes_tags(subnet: dict[str, Any]) -> dict[str, str]:
    """The tags the controller reads (our own bookkeeping tags aside)."""
    tags = {tag["Key"]: tag["Value"] for tag in subnet.get("Tags", [])}
    return {key: value for key, value in tags.items() if key.startswith("kubernetes.io/")}


def test_first_setup_makes_records_and_reports_everything_then_a_rerun_is_idle(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls
    from tasks.stack_block import load_record

    world = sandbox_world()
    spec = _spec()
    state = setup_load_balancer(spec=spec, return_state=True)
    outputs = state.result()
    aws, seeded = world.aws, world.seeded

    # One subdomain zone, delegated from the root zone with exactly its name servers.
    route53 = aws.client("route53")
    (zone,) = _zone(route53, SUB)
    zone_id = zone["Id"].rsplit("/", 1)[-1]
    name_servers = route53.get_hosted_zone(Id=zone_id)["DelegationSet"]["NameServers"]
    root_records = _records(world, seeded.root_zone_id)
    delegation = root_records[(SUB + ".", "NS")]
    assert {r["Value"].rstrip(".") for r in delegation["ResourceRecords"]} == set(name_servers)

    # Two ISSUED certificates, each validation record in the zone of its domain.
    acm = aws.client("acm")
    arns = [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]]
    certificates = {
        c["DomainName"]: c
        for c in (acm.describe_certificate(CertificateArn=a)["Certificate"] for a in arns)
    }
    assert set(certificates) == {f"*.{SUB}", f"*.{ROOT}"}
    assert {c["Status"] for c in certificates.values()} == {"ISSUED"}
    sub_records = _records(world, zone_id)
    for domain, records in ((f"*.{SUB}", sub_records), (f"*.{ROOT}", root_records)):
        (option,) = certificates[domain]["DomainValidationOptions"]
        wanted = option["ResourceRecord"]
        found = records[(wanted["Name"], "CNAME")]
        assert [r["Value"] for r in found["ResourceRecords"]] == [wanted["Value"]]

    # Subnet role tags: public for internet-facing ALBs, private for internal ones.
    ec2 = aws.client("ec2")
    roles = {s["SubnetId"]: _kubernetes_tags(s) for s in ec2.describe_subnets()["Subnets"]}
    cluster_tag = {"kubernetes.io/cluster/kubeflow": "shared"}
    for subnet_id in seeded.public_subnet_ids:
        assert roles[subnet_id] == {"kubernetes.io/role/elb": "1", **cluster_tag}
    for subnet_id in seeded.private_subnet_ids:
        assert roles[subnet_id] == {"kubernetes.io/role/internal-elb": "1", **cluster_tag}

    # IAM: the OIDC provider, the policy, and a role only the controller's account may assume.
    iam = aws.client("iam")
    issuer = seeded.oidc_issuer.removeprefix("https://")
    (provider,) = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    provider_arn = provider["Arn"]
    assert provider_arn.endswith(f":oidc-provider/{issuer}")
    # One per cluster (shared by its stacks), named by cluster and a digest of region and name.
    (policy,) = [p for p in iam.list_policies(Scope="Local")["Policies"]
                 if re.fullmatch(r"kfalb-kubeflow-[0-9a-f]{8}-AWSLoadBalancerController",
                                 p["PolicyName"])]  # fmt: skip
    (role,) = [r for r in iam.list_roles()["Roles"]
               if re.fullmatch(r"kfalb-kubeflow-[0-9a-f]{8}-lbc", r["RoleName"])]  # fmt: skip
    role = iam.get_role(RoleName=role["RoleName"])["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(unquote(trust)) if isinstance(trust, str) else trust
    assert trust == {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{issuer}:aud": "sts.amazonaws.com",
                f"{issuer}:sub": "system:serviceaccount:kube-system:aws-load-balancer-controller",
            }},
        }],
    }  # fmt: skip
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [policy["Arn"]]

    # Our controller was installed (no controller in a `none` world).
    deployment = world.kube.store.get(
        "apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system"
    )
    assert deployment["metadata"]["labels"]["kubeflow-alb/stack"] == "first-run"

    # The block holds every one of them, by the ids AWS gave.
    record = load_record("first-run")
    assert record is not None
    assert record.phase == "ready"
    ids = {kind: {r.id for r in record.of_kind(kind)} for kind in Kind}
    assert ids[Kind.HOSTED_ZONE] == {zone_id}
    assert len(ids[Kind.DELEGATION]) == 1
    assert ids[Kind.CERTIFICATE] == set(arns)
    assert len(ids[Kind.VALIDATION_RECORD]) == 2
    assert ids[Kind.SUBNET_TAG] == {
        f"{subnet_id}/{key}"
        for subnet_id, role in [*((s, "elb") for s in seeded.public_subnet_ids),
                                *((s, "internal-elb") for s in seeded.private_subnet_ids)]
        # ... and the marker of what this stack added, for cleanup when the block is lost
        for key in (f"kubernetes.io/role/{role}", "kubernetes.io/cluster/kubeflow",
                    "kubeflow-alb/added-tags/first-run")
    }  # fmt: skip
    assert ids[Kind.OIDC_PROVIDER] == {provider_arn}
    assert ids[Kind.IAM_POLICY] == {policy["Arn"]}
    assert ids[Kind.IAM_ROLE] == {role["Arn"]}
    assert ids[Kind.LOAD_BALANCER] == {outputs["load_balancer"]}
    # Every kind of an irsa Ingress stack (a Pod Identity association is pod-identity's alone,
    # the Gateway's kinds the other front door's).
    others = {Kind.POD_IDENTITY, Kind.GATEWAY, Kind.GATEWAY_API, Kind.FORMER_FRONT_DOOR}
    made = [kind for kind in Kind if kind not in CHECKED and kind not in others]
    assert all(ids[kind] for kind in made), "every kind is recorded"
    assert all(r.owned for r in record.resources if r.kind is not Kind.CONTROLLER)

    # Artifacts of the run: summary, resources, API calls and the dashboard link.
    artifacts = _artifacts(state.state_details.flow_run_id)
    assert {"first-run-summary", "first-run-resources", "first-run-aws-api-calls",
            "first-run-dashboard"} <= set(artifacts)  # fmt: skip
    assert outputs["url"] in str(artifacts["first-run-dashboard"].data)
    assert outputs["url"] in str(artifacts["first-run-summary"].data)
    assert zone_id in str(artifacts["first-run-resources"].data)
    calls_table = str(artifacts["first-run-aws-api-calls"].data)
    assert "CreateHostedZone" in calls_table
    assert "RequestCertificate" in calls_table

    # A second setup finds everything in place: not one mutating AWS call.
    before = api_calls()
    again = setup_load_balancer(spec=spec, return_state=True)
    assert again.is_completed()
    assert api_calls().since(before).mutating_calls() == ()
    rerun_calls = _artifacts(again.state_details.flow_run_id)["first-run-aws-api-calls"]
    assert "CreateHostedZone" not in str(rerun_calls.data)


def test_a_finished_node_is_recorded_even_while_the_api_shows_it_running(
    prefect_server: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prefect.futures
    from prefect import flow, task
    from prefect.states import Running

    from core.resources import HostedZoneState
    from core.state import Kind
    from flows.walk import _run

    class LaggingClient:  # task states reach the API asynchronously; here they never do
        def read_task_run(self, task_run_id: UUID) -> Any:
            return SimpleNamespace(state=Running())

    @task
    def make() -> HostedZoneState:
        return HostedZoneState(zone_id="Z0123", name="platform.example.com", owned=True)

    recorded: list[Any] = []

    @flow
    def walk() -> None:
        monkeypatch.setattr(prefect.futures, "get_client", lambda **_: LaggingClient())
        node = (Kind.HOSTED_ZONE, "ensure")
        _run({node: ()}, lambda node, done: make.submit(),
             lambda node, result: recorded.append(result), stop_on_failure=True)  # fmt: skip

    walk()
    assert [zone.zone_id for zone in recorded] == ["Z0123"]

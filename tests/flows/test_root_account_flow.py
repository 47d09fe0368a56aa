"""The root zone in another AWS account: its Route53 calls assume `route53.rootDomain.roleArn`,
and a role that cannot be assumed stops setup before anything is created."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from core.spec import StackSpec, load_spec

REPO = Path(__file__).parents[2]
EXAMPLE = REPO / "examples" / "sandbox-root-account.yaml"
POLICY = REPO / "deployments" / "runner-iam-policy.json"
#: The root zones' accounts of this module's worlds (moto's accounts are process-wide).
_root_accounts = itertools.count(1)


def _root_account() -> str:
    return f"21{next(_root_accounts):010d}"


def _spec(
    root_account: str, *, role: str = "kfalb-root-dns", external_id: str | None = None
) -> StackSpec:
    config = yaml.safe_load(EXAMPLE.read_text())
    config["route53"]["rootDomain"]["roleArn"] = f"arn:aws:iam::{root_account}:role/{role}"
    if external_id is not None:
        config["route53"]["rootDomain"]["externalId"] = external_id
    return load_spec(yaml.safe_dump(config))


def _records(world: Any, account: str, zone_id: str) -> list[tuple[str, str, tuple[str, ...]]]:
    found = world.aws.client("route53", account=account).list_resource_record_sets(
        HostedZoneId=zone_id
    )
    return sorted(
        (r["Name"], r["Type"], tuple(sorted(v["Value"] for v in r.get("ResourceRecords", []))))
        for r in found["ResourceRecordSets"]
    )


def _zones(world: Any, account: str | None = None) -> list[str]:
    listed = world.aws.client("route53", account=account).list_hosted_zones()["HostedZones"]
    return sorted(zone["Name"] for zone in listed)


def test_setup_drift_and_cleanup_reach_the_root_zone_through_the_role(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.check_drift import check_drift
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls

    root_account = _root_account()
    world = sandbox_world(root_account_id=root_account)
    spec = _spec(root_account)
    root_zone = world.root_zone_id
    before = _records(world, root_account, root_zone)
    assert _zones(world) == []  # the cluster's account has no root zone: only the role reaches it
    calls = api_calls()

    outputs = setup_load_balancer(spec=spec)

    assert outputs["url"].startswith(f"https://kubeflow.{spec.subdomain}")
    made = {(call.service, call.operation) for call in api_calls().since(calls).calls}
    assert ("sts", "AssumeRole") in made
    assert "sts:AssumeRole" in POLICY.read_text()  # the runner may make the call it made
    root_records = _records(world, root_account, root_zone)
    delegation = [r for r in root_records if r[:2] == (f"{spec.subdomain}.", "NS")]
    assert len(delegation) == 1
    assert len(delegation[0][2]) == 4
    added = set(root_records) - set(before)
    cnames = [r for r in added if r[1] == "CNAME"]
    assert cnames, "the *.<root> certificate's validation record is in the root account's zone"
    assert _zones(world) == [f"{spec.subdomain}."]

    check_drift(stack=spec.name)  # raises on drift

    leftovers = cleanup_load_balancer(stack=spec.name)

    assert not any(leftovers.values())
    assert _records(world, root_account, root_zone) == before
    assert _zones(world) == []
    assert world.aws.client("acm").list_certificates()["CertificateSummaryList"] == []

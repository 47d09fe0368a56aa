"""A fleet over two clusters in two AWS accounts: one drift-check-fleet run checks both stacks,
each with its own recorded access, and each stack's AWS calls went to its own account only."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
#: Account B of the fleet (account A is the world's own, unique per test).
ACCOUNT_B = "498765432101"


def _spec(name: str, *, cluster: str, root: str) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["cluster"]["name"] = cluster
    data["route53"]["rootDomain"]["name"] = root
    data["route53"]["subDomain"]["name"] = f"{name}.{root}"
    data["stack"]["name"] = name
    return StackSpec.model_validate(data)


def test_fleet_checks_stacks_of_two_accounts_each_with_its_own_access(
    sandbox_world: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.errors import DriftDetected
    from flows.check_drift import check_drift_fleet
    from flows.setup_load_balancer import setup_load_balancer
    from sandbox.aws.accounts import seen_requests, throttled
    from tasks.aws.clients import api_calls
    from tasks.stack_block import load_record

    world = sandbox_world(controller="preinstalled", clusters=(f"kubeflow-b@{ACCOUNT_B}",))
    account_a, cluster_b = world.options.account_id, world.clusters[0]
    blocks = world.save_credentials_blocks()  # an AwsCredentials block per account
    specs = {
        "fleet-a": (_spec("fleet-a", cluster="kubeflow", root=world.root_domain(account_a)),
                    account_a, "sandbox"),
        "fleet-b": (_spec("fleet-b", cluster="kubeflow-b", root=world.root_domain(ACCOUNT_B)),
                    ACCOUNT_B, cluster_b.context),
    }  # fmt: skip
    for spec, account, context in specs.values():
        monkeypatch.setenv("KFALB_KUBE_CONTEXT", context)
        setup_load_balancer(spec=spec, aws_credentials_block=blocks[account])
        access = load_record(spec.name).access  # type: ignore[union-attr]
        assert access is not None
        assert (access.credentials_block, access.account, access.kube_context) == (
            blocks[account], account, context)  # fmt: skip
    # The fleet's own defaults reach neither stack's world correctly: account A's default
    # chain, the kubeconfig's current context (cluster A). Each stack must use its record.
    monkeypatch.delenv("KFALB_KUBE_CONTEXT")
    # Route53 at AWS's own limit: the sandbox throttles past 5/s per account, the clients
    # keep to their 5/s budget (a throttled request would show as an extra one on the wire).
    assert world.aws is not None
    world.aws.set_route53_rate(5.0)
    monkeypatch.setenv("KFALB_ROUTE53_RATE", "5")
    monkeypatch.setenv("KFALB_ROUTE53_BURST", "1")  # the sandbox's bucket holds 5 (AWS's 50)

    since = time.monotonic()
    before = {name: api_calls(scope=name) for name in specs}
    throttled_before = sum(throttled.values())
    tables = _drift_tables(specs)
    assert check_drift_fleet(max_concurrent=2) == {"fleet-a": "ok", "fleet-b": "ok"}
    assert _drift_tables(specs) == tables  # clean stacks: the fleet's table only
    assert sum(throttled.values()) == throttled_before  # the budget kept Route53 under its limit
    wire: dict[str, Counter[str]] = {name: Counter() for name in specs}
    for request in seen_requests(since=since):
        if request.stack in wire:
            wire[request.stack][request.account] += 1
    for name, (_, account, _) in specs.items():
        counted = api_calls(scope=name).since(before[name])
        # The stack's record counts exactly the requests the sandbox saw for it, all in its
        # own account (and none throttled: each would have been sent twice).
        assert dict(wire[name]) == {account: counted.reads + counted.mutating}
        assert counted.mutating == 0

    # Out of band, in account B: the subdomain zone loses its team tag.
    route53 = (
        world.credentials(ACCOUNT_B)
        .session()
        .client("route53", endpoint_url=world.env["AWS_ENDPOINT_URL"])
    )
    zone = next(z for z in route53.list_hosted_zones()["HostedZones"]
                if z["Name"] == f"{specs['fleet-b'][0].subdomain}.")  # fmt: skip
    route53.change_tags_for_resource(
        ResourceType="hostedzone", ResourceId=zone["Id"].split("/")[-1], RemoveTagKeys=["team"]
    )
    with pytest.raises(DriftDetected) as raised:
        check_drift_fleet(max_concurrent=2)
    assert raised.value.items == ("fleet-b",)
    assert _drift_tables(specs) == tables + Counter({"fleet-b-drift": 1})  # the drifted one's
    assert "fleet-b: drifted: " in raised.value.message
    assert "hosted-zone" in raised.value.message


def _drift_tables(names: Any) -> Counter[str]:
    """How many `<stack>-drift` table artifacts each stack has (a stack's own drift table)."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    keys = [f"{name}-drift" for name in names]
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
        )
    return Counter({key: 0 for key in keys}) + Counter(artifact.key for artifact in found)

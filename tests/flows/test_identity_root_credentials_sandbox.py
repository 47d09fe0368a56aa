"""Edges of setup and cleanup, against the sandbox: switching a stack from pod-identity back to
IRSA leaves nothing of the old identity (the plan shows the association's removal); a root zone
re-created with a new id is found again by name, so cleanup completes; a credentials block that
does not exist is a clear error (exit 2, no traceback)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.plan import Action
from core.spec import StackSpec, load_spec
from core.state import Kind

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def _spec(name: str, **stack: Any) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"].update(name=name, **stack)
    return StackSpec.model_validate(data)


def _associations(world: Any) -> list[Any]:
    eks = world.aws.client("eks")
    return list(eks.list_pod_identity_associations(clusterName="kubeflow")["associations"])


def test_a_pod_identity_stack_switched_to_irsa_keeps_no_association(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.check_drift import observe_plan
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world()
    setup_load_balancer(spec=_spec("switch-back", controllerIdentity="pod-identity"))
    assert len(_associations(world)) == 1

    irsa = _spec("switch-back", controllerIdentity="irsa")
    planned = {
        (change.item.kind, change.action): [
            (d.field, d.expected, d.found) for d in change.differences
        ]
        for change in observe_plan(irsa)[1].drift
    }
    assert (Kind.POD_IDENTITY, Action.DELETE) in planned  # the plan shows its removal
    setup_load_balancer(spec=irsa)
    assert _associations(world) == []
    account = world.kube.store.get("v1", "ServiceAccount", "aws-load-balancer-controller",
                                   "kube-system")  # fmt: skip
    assert ROLE_ANNOTATION in account["metadata"]["annotations"]
    assert observe_plan(irsa)[1].converged
    assert not any(cleanup_load_balancer(stack=irsa.name).values())


def _recreate_root_zone(world: Any) -> str:
    """Delete the root zone (its records first) and make it anew: a new id, same name."""
    r53, old = world.aws.client("route53"), world.root_zone_id
    for record in r53.list_resource_record_sets(HostedZoneId=old)["ResourceRecordSets"]:
        if record["Name"] != "example.com." or record["Type"] not in ("NS", "SOA"):
            r53.change_resource_record_sets(HostedZoneId=old, ChangeBatch={
                "Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]})  # fmt: skip
    r53.delete_hosted_zone(Id=old)
    made = r53.create_hosted_zone(Name="example.com", CallerReference="re-created")
    return str(made["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def test_a_root_zone_recreated_with_a_new_id_is_found_again_and_cleanup_completes(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world()
    data = _spec("root-moved").model_dump(by_alias=True)
    data["route53"]["rootDomain"]["hostedZoneId"] = world.root_zone_id  # recorded in the block
    spec = StackSpec.model_validate(data)
    setup_load_balancer(spec=spec)
    new_id = _recreate_root_zone(world)

    assert not any(cleanup_load_balancer(stack=spec.name).values())
    zones = world.aws.client("route53").list_hosted_zones()["HostedZones"]
    assert [(z["Name"], z["Id"].rsplit("/", 1)[-1]) for z in zones] == [("example.com.", new_id)]


def test_a_missing_credentials_block_is_a_clear_error_without_traceback(
    sandbox_world: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from kfalb.cli import main

    sandbox_world()
    for command in (
        ["setup", "--config", str(EXAMPLE)],
        ["cleanup", "--config", str(EXAMPLE), "--yes"],
    ):
        code = main([*command, "--aws-credentials-block", "no-such-block"])
        err = capsys.readouterr().err
        assert code == 2, err
        assert "No prefect-aws AwsCredentials block named 'no-such-block'" in err
        assert "Traceback" not in err

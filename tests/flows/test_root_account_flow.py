"""The root zone in another AWS account: its Route53 calls assume `route53.rootDomain.roleArn`,
a role that cannot be assumed stops setup before anything is created, and a role gone after
setup leaves cleanup incomplete with the change to make by hand."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.spec import StackSpec, load_spec
from sandbox.aws.seed import root_dns_trust

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


def test_setup_drift_and_cleanup_reach_the_root_zone_through_the_role_even_after_it_was_gone(
    sandbox_world: Callable[..., Any],
) -> None:
    """Setup and drift reach the root zone through the role. Then the root account's role stops
    trusting us: cleanup removes what it can, keeps the subdomain zone the delegation still
    points at (deleting it would open a takeover), and ends incomplete with the exact root-zone
    change to make by hand; once the role trusts us again, cleanup completes through it."""
    from core.cleanup import CleanupIncomplete
    from flows.check_drift import check_drift
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls, reset_sessions

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

    reset_sessions()  # a later run (a new process): it assumes the role afresh
    root_iam = world.aws.client("iam", account=root_account)
    trusting = root_iam.get_role(RoleName="kfalb-root-dns")["Role"]["AssumeRolePolicyDocument"]
    root_iam.update_assume_role_policy(
        RoleName="kfalb-root-dns", PolicyDocument=json.dumps(root_dns_trust("999999999999"))
    )

    with pytest.raises(CleanupIncomplete) as error:
        cleanup_load_balancer(stack=spec.name)

    message = str(error.value)
    delegation = [r for r in _records(world, root_account, root_zone)
                  if r[:2] == (f"{spec.subdomain}.", "NS")]  # fmt: skip
    assert delegation, "the delegation is still in the root zone"
    assert _zones(world) == [f"{spec.subdomain}."]  # kept while the delegation points at it
    assert f"Left in hosted zone {root_zone} (example.com); remove by hand:" in message
    assert f"DELETE {spec.subdomain}. NS 300 " in message
    assert f"aws route53 change-resource-record-sets --hosted-zone-id {root_zone}" in message
    assert "Cannot assume IAM role" in message

    root_iam.update_assume_role_policy(
        RoleName="kfalb-root-dns",
        PolicyDocument=trusting if isinstance(trusting, str) else json.dumps(trusting),
    )
    leftovers = cleanup_load_balancer(stack=spec.name)

    assert not any(leftovers.values())
    assert _records(world, root_account, root_zone) == before
    assert _zones(world) == []
    assert world.aws.client("acm").list_certificates()["CertificateSummaryList"] == []


WRONG_ROLES = [
    ("missing-role", "kfalb-no-such-role", "expected-id"),
    ("untrusting-role", "kfalb-untrusting", "expected-id"),
    ("wrong-external-id", "kfalb-root-dns", "wrong-id"),
    ("missing-external-id", "kfalb-root-dns", None),
]


@pytest.mark.parametrize(
    ("case", "role", "external_id"), WRONG_ROLES, ids=[c[0] for c in WRONG_ROLES]
)
def test_a_role_that_cannot_be_assumed_stops_setup_before_anything_is_created(
    sandbox_world: Callable[..., Any], case: str, role: str, external_id: str | None
) -> None:
    from core.errors import PreflightError
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls

    root_account = _root_account()
    world = sandbox_world(root_account_id=root_account, root_external_id="expected-id")
    # A role of the root account that trusts some other account, not the cluster's.
    world.aws.client("iam", account=root_account).create_role(
        RoleName="kfalb-untrusting",
        AssumeRolePolicyDocument=json.dumps(root_dns_trust("999999999999")),
    )
    spec = _spec(root_account, role=role, external_id=external_id)
    role_arn = f"arn:aws:iam::{root_account}:role/{role}"
    caller = world.aws.client("sts").get_caller_identity()["Arn"]
    root_zone = world.root_zone_id
    before = _records(world, root_account, root_zone)
    calls = api_calls()

    with pytest.raises(PreflightError) as error:
        setup_load_balancer(spec=spec)

    message = str(error.value)
    assert message.startswith("route53.rootDomain.roleArn: Cannot assume IAM role " + role_arn)
    assert (f"AccessDenied: User: {caller} is not authorized to perform: sts:AssumeRole on "
            f"resource: {role_arn}") in message  # fmt: skip
    assert "Stopped before changing anything in AWS or Kubernetes." in message
    assert api_calls().since(calls).mutating_calls() == ()
    assert _records(world, root_account, root_zone) == before
    assert _zones(world) == []
    assert world.aws.client("acm").list_certificates()["CertificateSummaryList"] == []


def test_kfalb_setup_with_a_wrong_role_exits_with_its_message_and_no_traceback(
    sandbox_world: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kfalb.cli import EXIT_ERROR, main

    root_account = _root_account()
    sandbox_world(root_account_id=root_account)
    config = yaml.safe_load(EXAMPLE.read_text())
    role_arn = f"arn:aws:iam::{root_account}:role/kfalb-no-such-role"
    config["route53"]["rootDomain"]["roleArn"] = role_arn
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))

    assert main(["setup", "--config", str(path)]) == EXIT_ERROR

    err = capsys.readouterr().err
    assert f"Cannot assume IAM role {role_arn}: AssumeRole returned AccessDenied" in err
    assert "Traceback" not in err

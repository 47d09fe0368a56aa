"""Setup, drift and cleanup through an unreliable network: throttling, 5xx, lost answers.

The sandbox's fault layer throttles, fails and drops (after applying) a seeded share of every
AWS request the flows make; botocore's retries and the tasks' look-again-then-adopt logic
must absorb all of it: no duplicate resource, no drift, nothing left.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import load_spec
from tests.flows.test_cleanup_flow import _assert_nothing_left, _baseline

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
#: Modest rates (the suite stays fast), seeded so a failure can be replayed.
FAULTS = "throttle=0.15,error5xx=0.05,drop-after-apply=0.05,seed=11"


#: What one stack holds: *.<subdomain> and *.<root> certificates, each of the rest once.
ONE_OF_EACH = {"zones": 1, "certificates": 2, "policies": 1, "policy_versions": 1, "roles": 1,
               "oidc_providers": 1, "load_balancers": 1}  # fmt: skip


def _counts(world: Any, spec: Any) -> dict[str, int]:
    aws = world.aws.client
    zones = [z for z in aws("route53").list_hosted_zones()["HostedZones"]
             if z["Name"] == f"{spec.subdomain}."]  # fmt: skip
    policies = [p for p in aws("iam").list_policies(Scope="Local")["Policies"]
                if p["PolicyName"].startswith("kfalb-")]  # fmt: skip
    policy_versions = (
        len(aws("iam").list_policy_versions(PolicyArn=policies[0]["Arn"])["Versions"])
        if policies
        else 0
    )
    return {
        "zones": len(zones),
        "certificates": len(aws("acm").list_certificates()["CertificateSummaryList"]),
        "policies": len(policies),
        "policy_versions": policy_versions,
        "roles": len(
            [r for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith("kfalb-")]
        ),  # fmt: skip
        "oidc_providers": len(
            aws("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
        ),
        "load_balancers": len(aws("elbv2").describe_load_balancers()["LoadBalancers"]),
    }


def test_setup_drift_and_cleanup_complete_under_faults_with_no_duplicate(
    sandbox_world: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.check_drift import check_drift
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world(faults=FAULTS)
    # botocore's standard retries absorb the faults (Prefect's own retries wait 5 s and more).
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "8")
    spec = load_spec(EXAMPLE.read_text())
    before = _baseline(world)

    outputs = setup_load_balancer(spec=spec)
    assert outputs["url"].startswith("https://kubeflow.platform.example.com")
    assert _counts(world, spec) == ONE_OF_EACH
    check_drift(stack=spec.name)  # raises DriftDetected on drift
    leftovers = cleanup_load_balancer(stack=spec.name)

    assert not any(leftovers.values())
    _assert_nothing_left(world, spec, **before)
    injected = world.aws.faults.injected
    assert injected["throttle"] > 0
    assert injected["error5xx"] > 0
    assert injected["drop-reset"] + injected["drop-500"] > 0


def test_every_write_of_setup_and_cleanup_losing_its_first_answer_is_absorbed(
    sandbox_world: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """All at once: the sandbox applies every mutating call of the flows and loses its first
    answer (a reset or a 500); each resend is answered. Still one of each, nothing left."""
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world(faults="drop-after-apply=*,seed=4")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    spec = load_spec(EXAMPLE.read_text())
    before = _baseline(world)

    setup_load_balancer(spec=spec)
    assert _counts(world, spec) == ONE_OF_EACH
    lost = set(world.aws.faults.lost)
    leftovers = cleanup_load_balancer(stack=spec.name)

    assert not any(leftovers.values())
    _assert_nothing_left(world, spec, **before)
    lost_in_cleanup = set(world.aws.faults.lost) - lost
    assert {"route53:CreateHostedZone", "route53:ChangeResourceRecordSets", "acm:RequestCertificate",
            "ec2:CreateTags", "iam:CreateOpenIDConnectProvider", "iam:CreatePolicy",
            "iam:CreateRole", "iam:AttachRolePolicy"} <= lost  # fmt: skip
    assert {"route53:DeleteHostedZone", "acm:DeleteCertificate", "ec2:DeleteTags",
            "iam:DetachRolePolicy", "iam:DeleteRole", "iam:DeletePolicy",
            "iam:DeleteOpenIDConnectProvider"} <= lost_in_cleanup  # fmt: skip

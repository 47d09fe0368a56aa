"""`kfalb plan --out` then `kfalb setup --plan` against the sandbox: the saved plan is applied
only while a fresh plan is the same; a stale plan (exit 4) or a mandatory policy finding (exit
2) makes no mutating AWS call; `kfalb drift` names what made it stale. The plan shows its
findings and cost line everywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.policy_spec import RULE_IDS
from core.spec import Alb
from kfalb.cli import main
from tasks.aws.clients import api_calls

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sandbox.yaml"
STACK = "platform-example-com"
#: What the example stack breaks (no access logs, open to the internet, the controller project's
#: IAM policy; deletion protection until the ALB option table makes it a default); what it meets.
PROTECTED = "deletion_protection" in Alb.model_fields
FAILING = {"ELB.5", "KFALB.2", "KFALB.3"} | (set() if PROTECTED else {"ELB.6"})
PASSING = set(RULE_IDS) - FAILING


def config(tmp_path: Path, name: str, extra: str) -> str:
    """The example config with more `stack:` settings (the example ends with its stack block)."""
    path = tmp_path / name
    path.write_text(EXAMPLE.read_text() + extra)
    return str(path)


def mutating_calls_of(command: Callable[[], int]) -> tuple[int, int]:
    before = api_calls()
    code = command()
    return code, api_calls().since(before).mutating


def test_a_saved_plan_applies_a_stale_one_applies_nothing_and_drift_names_the_change(
    sandbox_world: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.artifacts import Artifact

    from tests.tamper import keep_first_certificate

    world = sandbox_world()
    saved = str(tmp_path / "plan.json")
    assert main(["plan", "--config", str(EXAMPLE), "--out", saved]) == 3
    out = capsys.readouterr().out
    assert f"Policy (advisory): {len(FAILING)} findings, {len(PASSING)} passed:" in out
    assert "Cost: about 30.07 USD/month in us-west-2" in out  # 2 zones: 2 public addresses
    assert f"apply exactly it with `kfalb setup --plan {saved}`" in out
    document = json.loads(Path(saved).read_text())
    assert {f["rule"] for f in document["policy"]["findings"]} == FAILING
    assert set(document["policy"]["passed"]) == PASSING
    assert document["spec"]["cluster"]["name"] == "kubeflow"
    assert document["cost"]["monthly"] == 30.07
    assert document["digest"] in out

    # The plan still holds: setup applies it (no --config needed), and publishes its review.
    assert main(["setup", "--plan", saved]) == 0
    capsys.readouterr()
    review = Artifact.get(f"{STACK}-plan-review")
    assert review is not None
    assert document["digest"] in str(review.data)
    assert "| ELB.5 | medium | advisory |" in str(review.data)
    assert "Cost: about 30.07 USD/month" in str(review.data)

    # A converged stack's plan is the plan setup makes of it (the block now records the stack):
    # applied, with nothing to change.
    assert main(["plan", "--config", str(EXAMPLE), "--out", saved]) == 0
    code, mutating = mutating_calls_of(lambda: main(["setup", "--plan", saved]))
    assert (code, mutating) == (0, 0)
    # Then a change in the world before the saved plan is applied: stale, exit 4.
    kept = keep_first_certificate(world)
    code, mutating = mutating_calls_of(lambda: main(["setup", "--plan", saved]))
    err = capsys.readouterr().err
    assert code == 4
    assert mutating == 0
    assert "the plan is stale" in err
    assert "Traceback" not in err

    # `kfalb drift` names that change: one JSON document, exit 3.
    assert main(["drift", "--stack", STACK, "--output", "json"]) == 3
    drift = json.loads(capsys.readouterr().out)  # the whole of stdout is the one document
    assert drift["command"] == "drift"
    changes = {c["kind"]: c for c in drift["changes"] if c["action"] != "keep"}
    # The controller carries the Ingress's change to the ALB (its SNI certificate goes).
    assert set(changes) == {"ingress", "load-balancer"}
    assert drift["changes"][0]["action"] != "keep"  # changed items first
    (difference,) = changes["ingress"]["differences"]
    assert difference["found"] == kept  # the full ARN, not abbreviated
    # The text: the table `plan` prints, found and expected in full, and the repair command.
    assert main(["drift", "--stack", STACK]) == 3
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split() == ["STATUS", "ITEM", "FIELD", "FOUND", "EXPECTED"]
    (row,) = [
        line for line in lines if line.startswith("update  ingress istio-system/istio-ingress")
    ]
    assert kept in row  # the certificate found, whole
    assert difference["expected"] in row  # and the two expected, whole
    assert f"Repair: kfalb drift --stack {STACK} --remediate" in lines
    assert "Traceback" not in captured.err
    assert "remediate=true" not in captured.err + captured.out

    # A plan made from another spec of the stack is stale too (checked before any call).
    mandatory = config(tmp_path, "mandatory.yaml", "  policy: mandatory\n")
    code, mutating = mutating_calls_of(
        lambda: main(["setup", "--config", mandatory, "--plan", saved])
    )
    assert (code, mutating) == (4, 0)
    assert "made from another spec" in capsys.readouterr().err

    # Remediation under a mandatory policy stops before re-applying anything.
    code, mutating = mutating_calls_of(
        lambda: main(["drift", "--config", mandatory, "--remediate"])
    )
    err = capsys.readouterr().err
    assert (code, mutating) == (2, 0)
    assert "stack.policy is mandatory" in err
    assert "ELB.5 (medium): access_logs.s3.enabled is false" in err


def test_a_mandatory_finding_stops_setup_before_any_mutating_call(
    sandbox_world: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox_world()
    mandatory = config(
        tmp_path,
        "mandatory.yaml",
        "  policy: mandatory\n  policyWaivers:\n    - id: KFALB.3\n"
        "      reason: the controller project's published policy, kept as is\n",
    )
    assert main(["plan", "--config", mandatory]) == 3  # plan shows; it never blocks
    out = capsys.readouterr().out
    findings = len(FAILING) - 1
    assert f"Policy (mandatory): {findings} findings, 1 waived, {len(PASSING)} passed:" in out
    assert "ELB.5    medium blocks apply: access_logs.s3.enabled is false" in out
    assert "waived: the controller project's published policy, kept as is" in out
    assert "KFALB.2  low    advisory:" in out  # never enforced

    code, mutating = mutating_calls_of(lambda: main(["setup", "--config", mandatory]))
    err = capsys.readouterr().err
    assert (code, mutating) == (2, 0)
    blocking = findings - 1  # KFALB.2 never blocks
    assert f"stack.policy is mandatory and {blocking} rule(s) fail; nothing was changed" in err
    assert "ELB.5 (medium): access_logs.s3.enabled is false. Fix: kubeflow.alb.accessLogs" in err
    assert ("ELB.6 (medium)" in err) is not PROTECTED
    assert "Traceback" not in err

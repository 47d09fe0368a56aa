"""`kfalb plan --out` then `kfalb setup --plan` against the sandbox: the saved plan is applied
only while a fresh plan is the same; a stale plan (exit 4) or a mandatory policy finding (exit
2) makes no mutating AWS call. The plan shows its findings and cost line everywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kfalb.cli import main
from tasks.aws.clients import api_calls

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sandbox.yaml"
STACK = "platform-example-com"
#: What the example stack breaks today (no access logs, no deletion protection yet, open to the
#: internet, the controller project's IAM policy); what it meets.
FAILING = {"ELB.5", "ELB.6", "KFALB.2", "KFALB.3"}
PASSING = {"ELB.1", "ELB.4", "ELB.12", "ELB.13", "ELB.17", "KFALB.1"}


def config(tmp_path: Path, name: str, extra: str) -> str:
    """The example config with more `stack:` settings (the example ends with its stack block)."""
    path = tmp_path / name
    path.write_text(EXAMPLE.read_text() + extra)
    return str(path)


def mutating_calls_of(command: Callable[[], int]) -> tuple[int, int]:
    before = api_calls()
    code = command()
    return code, api_calls().since(before).mutating


def test_a_saved_plan_applies_and_a_stale_one_applies_nothing(
    sandbox_world: Callable[..., Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.artifacts import Artifact

    from tests.tamper import keep_first_certificate

    world = sandbox_world()
    saved = str(tmp_path / "plan.json")
    assert main(["plan", "--config", str(EXAMPLE), "--out", saved]) == 3
    out = capsys.readouterr().out
    assert "Policy (advisory): 4 findings, 6 passed:" in out
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
    assert "| ELB.6 | medium | advisory |" in str(review.data)
    assert "Cost: about 30.07 USD/month" in str(review.data)

    # A converged stack's plan, then a change in the world before it is applied: stale, exit 4.
    assert main(["plan", "--config", str(EXAMPLE), "--out", saved]) == 0
    keep_first_certificate(world)
    code, mutating = mutating_calls_of(lambda: main(["setup", "--plan", saved]))
    err = capsys.readouterr().err
    assert code == 4
    assert mutating == 0
    assert "the plan is stale" in err
    assert "Traceback" not in err

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
    assert "ELB.6" in err


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
    assert "Policy (mandatory): 3 findings, 1 waived, 6 passed:" in out
    assert "ELB.6    medium blocks apply: deletion_protection.enabled is false" in out
    assert "waived: the controller project's published policy, kept as is" in out
    assert "KFALB.2  low    advisory:" in out  # never enforced

    code, mutating = mutating_calls_of(lambda: main(["setup", "--config", mandatory]))
    err = capsys.readouterr().err
    assert (code, mutating) == (2, 0)
    assert "stack.policy is mandatory and 2 rule(s) fail; nothing was changed" in err
    assert "ELB.5 (medium): access_logs.s3.enabled is false. Fix: kubeflow.alb.accessLogs" in err
    assert "ELB.6 (medium): deletion_protection.enabled is false. Fix: " in err
    assert "Traceback" not in err

"""`kfalb plan` against the sandbox: exit 3 with changes, one JSON document on stdout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kfalb.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sandbox.yaml"


def test_plan_of_a_new_stack_exits_3_with_one_json_document(
    sandbox_world: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox_world()
    assert main(["plan", "--config", str(EXAMPLE), "--output", "json"]) == 3
    out = capsys.readouterr().out
    document = json.loads(out)  # the whole of stdout is the one document
    assert document["command"] == "plan"
    assert document["stack"] == "platform-example-com"
    assert document["converged"] is False
    assert document["summary"]["create"] >= 1
    first = document["changes"][0]
    assert set(first) == {"kind", "key", "action", "differences"}
    assert first["action"] == "create"
    assert [c["action"] for c in document["changes"]] == sorted(
        (c["action"] for c in document["changes"]), key=["create", "update", "keep"].index
    )

    assert main(["plan", "--config", str(EXAMPLE)]) == 3
    text = capsys.readouterr().out
    assert text.splitlines()[0].split()[:2] == ["STATUS", "ITEM"]
    assert text.splitlines()[1].startswith("create")
    assert "Stack platform-example-com: " in text
    assert "to create" in text


def test_drift_json_names_the_tampered_item_and_exits_3(
    sandbox_world: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.setup_load_balancer import setup_load_balancer
    from tests.tamper import keep_first_certificate

    world = sandbox_world()
    from core.spec import load_spec

    stack = load_spec(EXAMPLE.read_text())
    setup_load_balancer(spec=stack)
    capsys.readouterr()
    kept = keep_first_certificate(world)

    assert main(["drift", "--stack", stack.name, "--output", "json"]) == 3
    document = json.loads(capsys.readouterr().out)
    assert document["command"] == "drift"
    changes = {c["kind"]: c for c in document["changes"] if c["action"] != "keep"}
    # The controller carries the Ingress's change to the ALB (its SNI certificate goes).
    assert set(changes) == {"ingress", "load-balancer"}
    assert document["changes"][0]["action"] != "keep"  # changed items first
    (difference,) = changes["ingress"]["differences"]
    assert difference["found"] == kept  # the full ARN, not abbreviated

    # The text: the table `plan` prints, found and expected in full, and the repair command.
    assert main(["drift", "--stack", stack.name]) == 3
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split() == ["STATUS", "ITEM", "FIELD", "FOUND", "EXPECTED"]
    (row,) = [
        line for line in lines if line.startswith("update  ingress istio-system/istio-ingress")
    ]
    assert kept in row  # the certificate found, whole
    assert difference["expected"] in row  # and the two expected, whole
    assert f"Repair: kfalb drift --stack {stack.name} --remediate" in lines
    assert "Traceback" not in captured.err
    assert "remediate=true" not in captured.err + captured.out

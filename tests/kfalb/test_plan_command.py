"""`kfalb plan` against the sandbox: exit 3 with changes, one JSON document on stdout (`kfalb
drift` on a tampered stack: tests/kfalb/test_plan_file.py)."""

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

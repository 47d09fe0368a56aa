"""The plan's JSON document (full values) and terminal table (changed items first, short cells)."""

from __future__ import annotations

import json

from core.plan import Item, plan
from core.plan_output import (
    abbreviate,
    plan_document,
    summary_line,
    table_rows,
    text_table,
    to_json,
)
from core.state import Kind

ARN = "arn:aws:acm:us-west-2:123456789012:certificate/e12664b0-a57f-4ff7-ba18-00adbe7ab052"


def _plan():  # type: ignore[no-untyped-def]
    desired = [
        Item(Kind.HOSTED_ZONE, "platform.example.com", {"private": "false"}),
        Item(Kind.CERTIFICATE, "*.platform.example.com", {"status": "ISSUED"}),
        Item(Kind.INGRESS, "istio-system/istio-ingress", {"certificate-arn": ARN}),
        Item(Kind.DNS_RECORD, "*.platform.example.com", {"type": "A"}),
    ]
    observed = {
        (Kind.HOSTED_ZONE, "platform.example.com"): {"private": "false"},
        (Kind.CERTIFICATE, "*.platform.example.com"): {"status": "ISSUED"},
        (Kind.INGRESS, "istio-system/istio-ingress"): {"certificate-arn": ARN + "-old"},
    }
    return plan(desired, observed)


def test_json_document_lists_changes_first_with_full_values() -> None:
    document = json.loads(to_json(plan_document("s", _plan())))
    assert document["summary"] == {"create": 1, "update": 1, "delete": 0, "keep": 2}
    assert document["converged"] is False
    assert [(c["kind"], c["action"]) for c in document["changes"]] == [
        ("dns-record", "create"), ("ingress", "update"), ("hosted-zone", "keep"), ("certificate", "keep"),
    ]  # fmt: skip
    update = document["changes"][1]
    assert update["key"] == "istio-system/istio-ingress"
    assert update["differences"] == [
        {"field": "certificate-arn", "expected": ARN, "found": ARN + "-old"}
    ]
    assert document["changes"][0]["differences"] == [
        {"field": "type", "expected": "A", "found": None}
    ]


def test_table_puts_changes_first_and_abbreviates_arns() -> None:
    rows = table_rows(_plan())
    assert [row["status"] for row in rows] == ["create", "update", "ok", "ok"]
    assert rows[1]["expected"].startswith("arn:…:e12664b0")
    assert abbreviate(ARN, 60) == "arn:…:e12664b0-a57f-4ff7-ba18-00adbe7ab052"
    assert all(len(cell) <= 32 for row in rows for key, cell in row.items() if key != "item")
    assert all(len(row["item"]) <= 56 for row in rows)
    table = text_table(rows)
    assert table.splitlines()[0].split() == ["STATUS", "ITEM", "FIELD", "FOUND", "EXPECTED"]
    assert summary_line("s", _plan()) == "Stack s: 1 to create, 1 to change, 2 in place."


def test_a_shortened_url_is_no_link() -> None:
    url = "https://kubeflow.ml-platform.eu-central-1.corp.example.com/"
    assert abbreviate(url, 80) == url
    short = abbreviate(url, 40)
    assert "://" not in short
    assert short.startswith("kubeflow.ml-")
    assert short.endswith("example.com/")


def test_long_values_keep_both_ends() -> None:
    short = abbreviate("x" * 30 + "MIDDLE" + "y" * 30, 21)
    assert len(short) == 21
    assert short.startswith("xxxxxxxxxx…")
    assert short.endswith("y" * 10)


def test_drift_text_is_one_readable_line_per_drifted_item() -> None:
    from core.plan_output import drift_text

    assert drift_text("s", _plan()).splitlines() == [
        "Stack s: 2 of 4 items drifted.",
        f"- ingress istio-system/istio-ingress: certificate-arn should be {ARN}, is {ARN}-old",
        "- dns-record *.platform.example.com: missing",
    ]

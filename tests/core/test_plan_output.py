"""The plan's JSON document and terminal table (full values, changed items first), the UI's short
table cells (identifiers never cut) and its markdown of the changes."""

from __future__ import annotations

import json

from core.plan import Item, plan
from core.plan_output import (
    abbreviate,
    changes_markdown,
    document_rows,
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


def test_table_puts_changes_first_and_abbreviates_arns_without_cutting_them() -> None:
    rows = table_rows(_plan())
    assert [row["status"] for row in rows] == ["create", "update", "ok", "ok"]
    assert rows[1]["expected"] == "arn:…:certificate/e12664b0-a57f-4ff7-ba18-00adbe7ab052"
    assert abbreviate(ARN, 60) == "arn:…:certificate/e12664b0-a57f-4ff7-ba18-00adbe7ab052"
    assert abbreviate("a,team2", 32) == "a,team2"  # what fits stays as it is
    assert all("…" not in row["item"] for row in rows)
    table = text_table(rows)
    assert table.splitlines()[0].split() == ["STATUS", "ITEM", "FIELD", "FOUND", "EXPECTED"]
    assert summary_line("s", _plan()) == "Stack s: 1 to create, 1 to change, 2 in place."


def test_the_terminal_table_shows_full_values() -> None:
    rows = document_rows(plan_document("s", _plan()))
    assert rows[1] == {"status": "update", "item": "ingress istio-system/istio-ingress",
                       "field": "certificate-arn", "found": ARN + "-old", "expected": ARN}  # fmt: skip
    assert rows[0]["status"] == "create"
    assert ARN + "-old" in text_table(rows)


def test_an_identifier_is_never_cut_in_the_middle() -> None:
    url = "https://kubeflow.ml-platform.eu-central-1.corp.example.com/"
    assert abbreviate(url, 40) == url  # a link stays whole (a cut one would lead nowhere)
    policy = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    assert abbreviate(policy, 20) == policy
    subnets = ",".join(f"subnet-{n:017x}" for n in range(4))
    short = abbreviate(subnets, 60)
    assert short == "subnet-00000000000000000,subnet-00000000000000001 (+2 more)"
    for item in short.removesuffix(" (+2 more)").split(","):
        assert item in subnets.split(",")


def test_the_changes_in_markdown_have_full_values_escaped_and_the_repair() -> None:
    text = changes_markdown("s", _plan(), repair="Repair: `kfalb drift --stack s --remediate`")
    lines = text.splitlines()
    assert lines[0] == "### Stack s: 2 of 4 items drifted"
    assert "**ingress istio-system/istio-ingress**" in lines
    assert f"  - found: {ARN}-old" in lines
    assert f"  - expected: {ARN}" in lines
    assert "**dns-record \\*.platform.example.com**: missing" in lines  # * would start emphasis
    assert lines[-1] == "Repair: `kfalb drift --stack s --remediate`"
    assert "hosted-zone" not in text  # only what drifted


def test_drift_text_is_one_readable_line_per_drifted_item() -> None:
    from core.plan_output import drift_text

    assert drift_text("s", _plan()).splitlines() == [
        "Stack s: 2 of 4 items drifted.",
        f"- ingress istio-system/istio-ingress: certificate-arn should be {ARN}, is {ARN}-old",
        "- dns-record *.platform.example.com: missing",
    ]

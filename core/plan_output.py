"""Renderings of a plan: one JSON document (full values) and a terminal table (changed first, short)."""

from __future__ import annotations

import json
import re
from typing import Any

from core.plan import Action, Change, Plan

#: Version of the JSON document's shape; bumped when a field changes meaning or goes away.
FORMAT_VERSION = 1

_ARN = re.compile(r"arn:aws[\w-]*:[\w-]+:[\w-]*:\d*:(?P<rest>\S+)")


def change_document(change: Change) -> dict[str, Any]:
    """One item: kind, key, action and its differences (expected / found, full values)."""
    if change.action is Action.CREATE:
        differences = [
            {"field": name, "expected": value, "found": None}
            for name, value in change.item.fields.items()
        ]
    else:
        differences = [
            {"field": d.field, "expected": d.expected, "found": d.found or None}
            for d in change.differences
        ]
    document: dict[str, Any] = {
        "kind": change.item.kind.value,
        "key": change.item.key,
        "action": change.action.value,
        "differences": differences,
    }
    if change.users:  # a shared item: the stacks that use it
        document["users"] = change.users.split(",")
    return document


def plan_document(stack: str, result: Plan, *, command: str = "plan") -> dict[str, Any]:
    """The machine-readable plan: changed items first, then the items in place."""
    return {
        "format_version": FORMAT_VERSION,
        "command": command,
        "stack": stack,
        "converged": result.converged,
        "summary": result.counts(),
        "changes": [change_document(change) for change in ordered(result)],
    }


def to_json(document: dict[str, Any]) -> str:
    """The document as one JSON text (stable key order, a trailing newline)."""
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def ordered(result: Plan) -> list[Change]:
    """Changed items first (creates, then updates), then the ones in place; stable otherwise."""
    rank = {Action.CREATE: 0, Action.UPDATE: 1, Action.DELETE: 2, Action.KEEP: 3}
    return sorted(result.changes, key=lambda change: rank[change.action])


def abbreviate(value: str, width: int = 48) -> str:
    """A short form for a table cell that never cuts an identifier in the middle: an ARN shows
    its resource part (`arn:…:certificate/…`), a list keeps whole items and says how many more,
    and a single value longer than `width` stays whole."""
    if len(value) <= width:
        return value
    shown = [_ARN.sub(lambda m: "arn:…:" + m.group("rest"), item) for item in value.split(",")]
    if len(",".join(shown)) <= width or len(shown) == 1:
        return ",".join(shown)
    kept: list[str] = []
    for item in shown:
        more = f" (+{len(shown) - len(kept) - 1} more)"
        if kept and len(",".join([*kept, item])) + len(more) > width:
            break
        kept.append(item)
    return ",".join(kept) + f" (+{len(shown) - len(kept)} more)"


def table_rows(result: Plan, *, width: int = 32) -> list[dict[str, str]]:
    """Rows (status, item, field, found, expected) with changed items first and short cells
    (`abbreviate`; items up to 1.75 `width`: they are what a reader scans for) for the UI's
    table. What was found comes before what was expected, so a page that cuts the table's right
    edge still shows what is wrong; `changes_markdown` gives the changes with full values."""
    return [
        {
            key: abbreviate(cell, width * 7 // 4 if key == "item" else width)
            if key != "status"
            else cell
            for key, cell in row.items()
        }
        for row in document_rows(plan_document("", result))
    ]


def document_rows(document: dict[str, Any]) -> list[dict[str, str]]:
    """Rows (status, item, field, found, expected) of a plan document, full values: the table
    `kfalb plan` and `kfalb drift` print (changed items first, as the document lists them)."""
    rows = []
    for change in document["changes"]:
        item = f"{change['kind']} {change['key']}"
        if change["action"] == Action.CREATE.value:
            rows.append(_row("create", item, "", "exists", "missing"))
        elif change["action"] == Action.DELETE.value:
            rows.append(_row("delete", item, "", "absent", "exists"))
        elif change["differences"]:
            for diff in change["differences"]:
                rows.append(
                    _row("update", item, diff["field"], diff["expected"], diff["found"] or "(none)")
                )
        else:
            users = ",".join(change.get("users") or [])
            rows.append(_row("ok", item, "users" if users else "", "", users))
    return rows


def _row(status: str, item: str, field: str, expected: str, found: str) -> dict[str, str]:
    return {"status": status, "item": item, "field": field, "found": found, "expected": expected}


def changes_markdown(stack: str, result: Plan, *, repair: str) -> str:
    """The drifted items with what differs in full, as markdown that wraps (no table to clip):
    the UI's companion of the drift table. `repair` says how to re-apply them."""
    if result.converged:
        return f"Stack {_md(stack)}: no drift in {len(result.changes)} items."
    lines = [
        f"### Stack {_md(stack)}: {len(result.drift)} of {len(result.changes)} items drifted",
        "",
    ]
    for change in result.drift:
        item = f"**{_md(change.item.kind.value)} {_md(change.item.key)}**"
        if change.action is Action.CREATE:
            lines += [f"{item}: missing", ""]
            continue
        lines.append(item)
        for diff in change.differences:
            lines += [
                f"- {_md(diff.field)}",
                f"  - found: {_md(diff.found or '(none)')}",
                f"  - expected: {_md(diff.expected)}",
            ]
        lines.append("")
    lines.append(repair)
    return "\n".join(lines)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def _md(text: str) -> str:
    """Text shown as is in markdown (its special characters escaped), lists with a space after
    each comma so a long one wraps between its items."""
    return _MARKDOWN.sub(r"\\\1", re.sub(r",(?=\S)", ", ", text))


def text_table(rows: list[dict[str, str]]) -> str:
    """A plain aligned table for a terminal (columns as wide as their longest cell)."""
    if not rows:
        return "(nothing)"
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(row.get(h, "")) for row in rows)) for h in headers}
    lines = ["  ".join(h.upper().ljust(widths[h]) for h in headers).rstrip()]
    lines += ["  ".join(row.get(h, "").ljust(widths[h]) for h in headers).rstrip() for row in rows]
    return "\n".join(lines)


def summary_line(stack: str, result: Plan) -> str:
    """`Stack s: 1 to create, 2 to change, 20 in place.` or that nothing would change."""
    if result.converged:
        return f"Stack {stack}: no changes; {result.counts()['keep']} items in place."
    return f"Stack {stack}: {result.summary()}."


def drift_text(stack: str, result: Plan) -> str:
    """Plain text for a notification: one line per drifted item with what differs (full values)."""
    if result.converged:
        return f"Stack {stack}: no drift."
    lines = [f"Stack {stack}: {len(result.drift)} of {len(result.changes)} items drifted."]
    for change in result.drift:
        item = f"{change.item.kind.value} {change.item.key}"
        if change.action is Action.CREATE:
            lines.append(f"- {item}: missing")
        if change.action is Action.DELETE:
            lines.append(f"- {item}: should be gone")
        for diff in change.differences:
            lines.append(
                f"- {item}: {diff.field} should be {diff.expected}, is {diff.found or '(none)'}"
            )
    return "\n".join(lines)


def drifted_names(result: Plan) -> tuple[str, ...]:
    """`kind key (fields)` of each drifted item, for messages and the drift event: the fact that
    differs, not only the resource."""
    names = []
    for change in result.drift:
        name = f"{change.item.kind.value} {change.item.key}"
        fields = ", ".join(difference.field for difference in change.differences)
        gone = "to remove" if change.action is Action.DELETE else "missing"
        names.append(f"{name} ({fields})" if fields else f"{name} ({gone})")
    return tuple(names)


def drift_rows(result: Plan) -> list[dict[str, str]]:
    """The table rows of the drifted items only, with full values (the drift event's payload)."""
    return table_rows(Plan(result.drift), width=10_000)

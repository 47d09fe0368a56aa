"""`kfalb stacks`, and the check that a named stack exists before a flow starts for it: read
without starting a server (kfalb.saved), so they answer in about a second."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from core.errors import SpecError
from core.spec import StackSpec, parse_spec
from core.stack_document import record_from_document
from kfalb.saved import stack_documents


class UnknownStack(SpecError):
    """A stack name with no saved block: bad input (exit 2), with the names that exist."""


@dataclass(frozen=True)
class StackLine:
    """One saved stack as `kfalb stacks` lists it."""

    name: str
    phase: str
    cluster: str
    dashboard: str


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def saved_stacks() -> list[str]:
    """Names of the saved stacks."""
    return sorted(stack_documents(_say))


def stack_lines() -> list[StackLine]:
    """Every saved stack with its phase, cluster and dashboard URL."""
    lines = []
    for name, document in sorted(stack_documents(_say).items()):
        record = record_from_document(document)
        cluster, dashboard = "", ""
        try:
            spec = parse_spec(record.spec)
            cluster = f"{spec.cluster.name} ({spec.region})"
            dashboard = f"https://{spec.dashboard_host}/"
        except SpecError:
            pass  # a record without a usable spec still shows its name and phase
        lines.append(StackLine(name, record.phase, cluster, dashboard))
    return lines


def list_stacks() -> int:
    """Print the saved stacks as a table."""
    from core.plan_output import text_table

    lines = stack_lines()
    if not lines:
        print("No saved stacks; `kfalb setup --config config.yaml` makes one.")
        return 0
    rows = [
        {"name": s.name, "phase": s.phase, "cluster": s.cluster, "dashboard": s.dashboard}
        for s in lines
    ]
    print(text_table(rows))
    return 0


def require_saved(stack: str) -> None:
    """Fail at once, listing the saved stacks, when `stack` has no saved block."""
    names = saved_stacks()
    if stack in names:
        return
    known = ", ".join(names) if names else "none"
    raise UnknownStack(
        f"No saved stack {stack!r}. Saved stacks: {known}. `kfalb stacks` lists them; pass "
        "--config to work from a spec instead."
    )


def saved_spec(stack: str) -> StackSpec:
    """The spec saved with a stack."""
    document = stack_documents(_say).get(stack)
    if document is None:
        require_saved(stack)  # the error that lists the saved stacks
        raise UnknownStack(f"No saved stack {stack!r}.")
    record = record_from_document(document)
    if not record.spec:
        raise UnknownStack(f"No saved stack {stack!r} with a spec; pass --config instead.")
    return parse_spec(record.spec)

"""`kfalb stacks`, and the check that a named stack exists before a flow starts for it."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import SpecError
from core.spec import StackSpec, parse_spec


class UnknownStack(SpecError):
    """A stack name with no saved block: bad input (exit 2), with the names that exist."""


@dataclass(frozen=True)
class StackLine:
    """One saved stack as `kfalb stacks` lists it."""

    name: str
    phase: str
    cluster: str
    dashboard: str


def stack_lines() -> list[StackLine]:
    """Every saved stack with its phase, cluster and dashboard URL."""
    from tasks.stack_block import load_record, saved_stacks

    lines = []
    for name in saved_stacks():
        record = load_record(name)
        if record is None:
            continue  # deleted between the list and the read
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
    from tasks.stack_block import saved_stacks

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
    from tasks.stack_block import load_record

    record = load_record(stack)
    if record is None or not record.spec:
        raise UnknownStack(f"No saved stack {stack!r} with a spec; pass --config instead.")
    return parse_spec(record.spec)

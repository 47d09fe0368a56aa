"""`kfalb cleanup` asks first, as `terraform destroy` does: it shows what it will remove and what
it will leave, then proceeds only on "yes" typed at a terminal, or with --yes / KFALB_YES=1."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from core.errors import SpecError
from core.spec import StackSpec

YES_ENV = "KFALB_YES"
_TRUE = frozenset({"1", "true", "yes", "y"})


class ConfirmationNeeded(SpecError):
    """Cleanup was asked for without a terminal to confirm on and without --yes: nothing ran."""


@dataclass(frozen=True)
class DestroyPreview:
    """What cleanup would do to a stack, for a person to read before it runs."""

    text: str  # one line per resource: remove or leave, and why
    removes: int  # how many resources it would remove


def destroy_preview(
    *, stack: str, spec: StackSpec | None, credentials_block: str | None
) -> DestroyPreview:
    """What cleanup of `stack` would delete, let go of (shared, still used by other stacks) and
    leave, and why: read from the world as cleanup's own look reads it (no Prefect run)."""
    from core.spec import parse_spec
    from core.stack_document import record_from_document
    from flows.cleanup_load_balancer import destroy_preview as look
    from kfalb.saved import stack_documents

    document = stack_documents(_say).get(stack)
    record = record_from_document(document) if document is not None else None
    if spec is None:
        if record is None or not record.spec:
            return DestroyPreview(f"Stack {stack} has no saved block: nothing to remove.", 0)
        spec = parse_spec(dict(record.spec))
    rows = look(spec, record, credentials_block)
    return DestroyPreview(_text(stack, rows), removes=sum(r["action"] != "leave" for r in rows))


def _text(stack: str, rows: list[dict[str, str]]) -> str:
    width = max((len(row["action"]) for row in rows), default=6)
    lines = [f"Cleanup of stack {stack} would:"]
    lines += [
        f"  {row['action']:<{width}}  {row['kind']} {row['resource']}: {row['why']}" for row in rows
    ]
    counts = {
        action: sum(r["action"] == action for r in rows)
        for action in ("delete", "release", "leave")
    }
    lines.append(
        f"{counts['delete']} to delete, {counts['release']} shared to let go of, "
        f"{counts['leave']} to leave."
    )
    return "\n".join(lines)


def assume_yes(flag: bool) -> bool:
    """--yes, or KFALB_YES set to 1/true/yes in the environment (automation)."""
    return flag or os.environ.get(YES_ENV, "").strip().lower() in _TRUE


def confirm_cleanup(
    preview: Callable[[], DestroyPreview],
    *,
    stack: str,
    yes: bool,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> bool:
    """Show the preview (read only when someone is there to read it) and ask; True to go on.
    Without a terminal (and without --yes) refuse with `ConfirmationNeeded` before anything
    runs."""
    stdin, out = stdin or sys.stdin, out or sys.stderr
    if assume_yes(yes):
        return True
    if not stdin.isatty():
        raise ConfirmationNeeded(
            f"cleanup removes the resources of stack {stack} and there is no terminal to ask on: "
            f"pass --yes (or set {YES_ENV}=1) to confirm; `kfalb plan --destroy --stack {stack}` "
            "shows what it would remove. Nothing was removed."
        )
    out.write(preview().text + "\n\n")
    out.write(f"Remove the resources of stack {stack}? Only 'yes' is accepted: ")
    out.flush()
    answer = stdin.readline()
    return answer.strip() == "yes"


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()

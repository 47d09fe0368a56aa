"""`kfalb cleanup` asks first, as `terraform destroy` does: it shows what it will remove and what
it will leave, then proceeds only on "yes" typed at a terminal, or with --yes / KFALB_YES=1."""

from __future__ import annotations

import os
import sys
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
    """What cleanup of `stack` would remove and leave, and why: the one call the cleanup walk's
    preview (read from the world by the kinds' ownership policies) is to take the place of.

    Until then it is read from the stack's saved block alone (no AWS call): what the stack made
    is removed, what it adopted is left.
    """
    from core.stack_document import record_from_document
    from kfalb.saved import stack_documents

    document = stack_documents(_say).get(stack)
    if document is None:
        return DestroyPreview(
            f"Stack {stack} has no saved block: cleanup finds its resources by the stack's "
            "ownership tags and labels, and removes only those.",
            removes=0 if spec is None else 1,
        )
    record = record_from_document(document)
    lines = [f"Cleanup of stack {stack} (as its saved block records it):"]
    for item in record.resources:
        shown = item.name if item.name and item.name not in item.id else ""
        what = f"{item.kind.value} {item.id}" + (f" ({shown})" if shown else "")
        if item.owned:
            lines.append(f"  remove  {what}")
        else:
            lines.append(f"  leave   {what}: adopted, not made by this stack")
    removes = sum(1 for item in record.resources if item.owned)
    lines.append(f"{removes} to remove, {len(record.resources) - removes} to leave.")
    return DestroyPreview("\n".join(lines), removes=removes)


def assume_yes(flag: bool) -> bool:
    """--yes, or KFALB_YES set to 1/true/yes in the environment (automation)."""
    return flag or os.environ.get(YES_ENV, "").strip().lower() in _TRUE


def confirm_cleanup(
    preview: DestroyPreview,
    *,
    stack: str,
    yes: bool,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> bool:
    """Show the preview and ask; True to go on. Without a terminal (and without --yes) refuse
    with `ConfirmationNeeded` before anything runs."""
    stdin, out = stdin or sys.stdin, out or sys.stderr
    if assume_yes(yes):
        return True
    if not stdin.isatty():
        raise ConfirmationNeeded(
            f"cleanup removes the resources of stack {stack} and there is no terminal to ask on: "
            f"pass --yes (or set {YES_ENV}=1) to confirm; `kfalb plan --destroy --stack {stack}` "
            "shows what it would remove. Nothing was removed."
        )
    out.write(preview.text + "\n\n")
    out.write(f"Remove the resources of stack {stack}? Only 'yes' is accepted: ")
    out.flush()
    answer = stdin.readline()
    return answer.strip() == "yes"


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()

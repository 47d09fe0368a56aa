"""The plan file: `kfalb plan --out FILE` writes it, `kfalb setup --plan FILE` reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import SpecError
from core.plan_output import to_json
from core.plan_review import approved_digest
from core.spec import StackSpec

#: A plan of a big stack is tens of kilobytes; anything far larger is not a plan.
MAX_BYTES = 5 * 1024 * 1024


def write_plan_file(path: str, document: dict[str, Any]) -> None:
    """Save the JSON plan (a usage error when the file cannot be written)."""
    try:
        Path(path).write_text(to_json(document))
    except OSError as error:
        raise SpecError(f"--out: cannot write {path}: {error.strerror}") from None


def read_plan_file(path: str, spec: StackSpec | None) -> tuple[StackSpec, str]:
    """The spec and digest of a saved plan, checked against --config's spec when given."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_BYTES:
            raise SpecError(f"--plan: {path} is not a plan file (over {MAX_BYTES} bytes)")
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(f"--plan: cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise SpecError(f"--plan: {path} is not a plan file (not UTF-8 text)") from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise SpecError(f"--plan: {path} is not a plan file (not JSON: {error})") from None
    return approved_digest(document, spec)

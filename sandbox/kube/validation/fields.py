"""fieldValidation: what a write with unknown fields gets under Strict, Warn (the default) or Ignore."""

from __future__ import annotations

from typing import Any

from sandbox.kube.errors import ApiError, bad_request
from sandbox.kube.resources import ResourceType

from .schema import Node, prune, unknown_fields
from .warnings import warn

MODES = ("Ignore", "Strict", "Warn")


def mode_of(query: dict[str, str] | Any) -> str:
    """The request's fieldValidation; a server 1.27+ defaults to Warn."""
    mode = query.get("fieldValidation") or "Warn"
    if mode not in MODES:
        raise bad_request(
            f'fieldValidation must be one of "Ignore", "Strict", or "Warn", got "{mode}"'
        )
    return str(mode)


def _strict_error(rtype: ResourceType, paths: list[str], verb: str, ident: str) -> ApiError:
    if verb == "apply":
        where = f"({ident}; {rtype.api_version}, Kind={rtype.kind})"
        lines = [f".{p}: field not declared in schema" for p in paths]
        text = lines[0] if len(lines) == 1 else "errors:\n  " + "\n  ".join(lines)
        return bad_request(f"failed to create typed patch object {where}: {text}")
    text = "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in paths)
    if verb in ("create", "update"):
        text = (
            f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: {text}'
        )
    return bad_request(text)


def handle_unknown(
    rtype: ResourceType,
    body: Any,
    schema: Node | None,
    *,
    mode: str,
    verb: str,
    ident: str = "",
) -> Any:
    """``body`` with unknown fields dropped, after a 400 (Strict) or warnings (Warn)."""
    if schema is None or not isinstance(body, dict):
        return body
    paths = unknown_fields(body, schema)
    if not paths:
        return body
    if mode == "Strict":
        raise _strict_error(rtype, paths, verb, ident)
    if mode == "Warn":
        for path in paths:
            warn(f'unknown field "{path}"')
    return prune(body, schema)

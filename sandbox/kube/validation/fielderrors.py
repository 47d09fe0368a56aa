"""Field errors as kube-apiserver words them (apimachinery ``field.Error``) and the 422 they make."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sandbox.kube.errors import ApiError

# Cause types and their canonical texts, as in apimachinery's validation/field package.
_TEXTS = {
    "FieldValueRequired": "Required value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueTypeInvalid": "Invalid value",
    "FieldValueTooMany": "Too many",
}
# Types whose text never shows the bad value.
_NO_VALUE = frozenset({"FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong"})


class GoValue:
    """A bad value printed the way Go's ``%#v`` prints it (e.g. ``[]networking.IngressRule(nil)``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def render_value(value: Any) -> str:
    """The bad value as the real error shows it: strings quoted, numbers and bools plain."""
    if isinstance(value, GoValue):
        return value.text
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(json.dumps(value, separators=(",", ":"), sort_keys=True))


@dataclass(frozen=True)
class FieldError:
    """One validation failure at a field path (``spec.rules[0].http.paths[0].path``)."""

    type: str
    field: str
    value: Any = ""
    detail: str = ""

    def body(self) -> str:
        """The message without the field (the ``message`` of a Status cause)."""
        text = _TEXTS[self.type]
        if self.type not in _NO_VALUE:
            text = f"{text}: {render_value(self.value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", field, "", detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", field, value, detail)


def not_supported(field: str, value: Any, supported: list[str]) -> FieldError:
    quoted = ", ".join(json.dumps(v) for v in supported)
    return FieldError(
        "FieldValueNotSupported", field, value, f"supported values: {quoted}" if supported else ""
    )


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", field, "", detail)


def too_long(field: str, limit: int) -> FieldError:
    return FieldError("FieldValueTooLong", field, "", f"must have at most {limit} bytes")


def too_many(field: str, count: int, limit: int) -> FieldError:
    return FieldError("FieldValueTooMany", field, count, f"must have at most {limit} items")


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", field, value)


def immutable(field: str, value: Any) -> FieldError:
    return invalid(field, value, "field is immutable")


def qualified_kind(kind: str, group: str) -> str:
    """``Ingress.networking.k8s.io``, or ``Service`` for the core group (schema.GroupKind)."""
    return f"{kind}.{group}" if group else kind


def invalid_error(kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    """The 422 ``Invalid`` Status of apierrors.NewInvalid: one cause per error, aggregated text."""
    seen: list[str] = []
    for error in errors:
        if str(error) not in seen:
            seen.append(str(error))
    text = seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"
    details: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "causes": [{"reason": e.type, "message": e.body(), "field": e.field} for e in errors],
    }
    if group:
        details["group"] = group
    return ApiError(
        422,
        "Invalid",
        f'{qualified_kind(kind, group)} "{name}" is invalid: {text}',
        details=details,
    )


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty one (malformed input validates as empty)."""
    return value if isinstance(value, dict) else {}

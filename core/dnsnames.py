"""DNS name rules shared by the spec and the plan: normalise, validate, relate names."""

from __future__ import annotations

import re

MAX_NAME = 253
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def normalise(name: str) -> str:
    """Lower case, no trailing dot."""
    return name.strip().lower().removesuffix(".")


def name_problem(name: str, *, allow_wildcard: bool = False) -> str | None:
    """Why `name` is not a usable DNS host name, or None when it is."""
    if not name:
        return "is empty"
    if len(name) > MAX_NAME:
        return f"is {len(name)} characters long; a DNS name has at most {MAX_NAME}"
    labels = name.split(".")
    if len(labels) < 2:
        return "needs at least two labels (like example.com)"
    for index, label in enumerate(labels):
        if label == "*":
            if not allow_wildcard:
                return "must not contain a wildcard"
            if index != 0:
                return "may only have a wildcard as its leftmost label (like *.example.com)"
            continue
        if "*" in label:
            return (
                f"has a wildcard inside the label {label!r}; only a whole leftmost '*' is allowed"
            )
        if not label:
            return "has an empty label (two dots in a row)"
        if len(label) > 63:
            return f"has the label {label[:20]!r}... of {len(label)} characters; the limit is 63"
        if not _LABEL.fullmatch(label):
            return (
                f"has the label {label!r}; labels use letters, digits and hyphens, "
                "and do not start or end with a hyphen"
            )
    if labels[-1].isdigit():
        return "ends in a numeric label, which no public DNS name does"
    return None


def is_under(name: str, parent: str) -> bool:
    """True when `name` is a strict descendant of `parent`."""
    return normalise(name).endswith("." + normalise(parent))

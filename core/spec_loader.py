"""Reading a config file safely: UTF-8 only, bounded size and nesting, no duplicate keys."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node

from core.errors import SpecError

#: A config is a few dozen lines; anything this large is not one (and is not read further).
MAX_BYTES = 256 * 1024
#: The deepest config is four levels (route53.subDomain.subjectAlternativeNames[0]); this leaves
#: room for user tags while stopping a hostile document long before Python's recursion limit.
MAX_DEPTH = 16


class _Refusal(yaml.YAMLError):
    """A YAML document we refuse to read, with the message for the user and where."""

    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML keeps the last) and deep nesting.

    PyYAML's composer recurses once per nesting level, so a deeply nested document ends in a
    RecursionError; counting levels here refuses it first.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refusal(
                    f"nesting deeper than {MAX_DEPTH} levels; a config has at most five",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: let SafeLoader say so
                continue
            if first is not None:
                raise _Refusal(
                    f"the key {key!r} is given twice (lines {first.line + 1} and "
                    f"{key_node.start_mark.line + 1}); YAML would silently keep the last one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def decode(data: bytes | str, *, source: str) -> str:
    """The text of a config file: UTF-8 (a BOM is allowed), at most MAX_BYTES."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BYTES:
        raise SpecError(
            f"{source} is {len(data)} bytes; a config has a few dozen lines (at most "
            f"{MAX_BYTES // 1024} KiB are read)."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SpecError(
            f"{source} is not UTF-8 text (byte 0x{data[error.start]:02x} at line {line}); "
            "save it as UTF-8."
        ) from None


def parse_yaml(data: bytes | str, *, source: str) -> Any:
    """One YAML document from a config file, or SpecError saying what is wrong and where."""
    text = decode(data, source=source)
    try:
        loader = StrictLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except _Refusal as error:
        raise SpecError(f"{source}{_where(error.mark)}: {error.message}.") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise SpecError(f"{source} is not valid YAML{_where(mark)}.") from None
    except RecursionError:  # belt and braces: nesting the composer does not see (flow scalars)
        raise SpecError(f"{source} nests too deeply to be a config.") from None


def _where(mark: yaml.Mark | None) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def describe_errors(error: ValidationError) -> str:
    """Every field a validation refused, one line each, in the config file's spelling."""
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if not where:
            lines.append(message)
            continue
        if item["type"] == "extra_forbidden":
            message = "is not a known setting (check the spelling)"
        elif item["type"] == "missing":
            message = "is required"
        lines.append(f"{where}: {message}")
    return "Invalid configuration:\n  " + "\n  ".join(lines)

"""The base of every model of the spec: frozen, strict about keys, camelCase in YAML (pure)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class SpecModel(BaseModel):
    """Frozen, unknown keys refused, camelCase aliases (the config file's shape)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        alias_generator=to_camel,
        # Form titles from the Python names ("Hosted zone id"), not the camelCase aliases
        # ("Hostedzoneid" is what the Prefect UI showed).
        field_title_generator=lambda name, _: name.replace("_", " ").capitalize(),
    )

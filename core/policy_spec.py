"""The spec's policy settings (pure): advisory or mandatory, and waivers of rules by id."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Every rule of core.policy, by id (kept here so the spec can check a waiver's id without
#: importing the rules, which need the spec; a unit test keeps the two lists equal).
RULE_IDS: tuple[str, ...] = (
    "ELB.1",
    "ELB.4",
    "ELB.5",
    "ELB.6",
    "ELB.12",
    "ELB.13",
    "ELB.17",
    "KFALB.1",
    "KFALB.2",
    "KFALB.3",
)

PolicyMode = Literal["advisory", "mandatory"]
MAX_REASON = 500


class PolicyWaiver(BaseModel):
    """A rule this stack does not have to meet, and why (shown in every plan)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description=f"The rule's id, one of {', '.join(RULE_IDS)}.")
    reason: str = Field(description="Why the stack may break the rule (shown in every plan).")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        found = {rule.lower(): rule for rule in RULE_IDS}.get(value.strip().lower())
        if found is None:
            raise ValueError(f"{value!r} is not a policy rule id; the rules: {', '.join(RULE_IDS)}")
        return found

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("is empty; a waiver says why the rule does not apply")
        if len(value) > MAX_REASON:
            raise ValueError(f"has {len(value)} characters; at most {MAX_REASON}")
        return value


def unique_waivers(waivers: tuple[PolicyWaiver, ...]) -> tuple[PolicyWaiver, ...]:
    """The waivers, refused when one rule is waived twice (which reason would count?)."""
    seen: set[str] = set()
    for waiver in waivers:
        if waiver.id in seen:
            raise ValueError(f"waive {waiver.id} once (it is listed twice)")
        seen.add(waiver.id)
    return waivers

"""Whose a resource is, decided in one place (pure): the fields an item of ours declares (its
tags; a shared item's hold by this stack) and finds, by the kind's policy (core.kinds.Policy).

- owned: a resource carrying the stack's ownership mark is ours, tagged with `stack.tags`;
  one found without it is adopted (used, never tagged or removed);
- shared: one per cluster, each user stack's mark on it (core.sharing); this stack declares
  its hold, and shows the users it found;
- controller-owned and checked kinds declare no ownership fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from core import sharing
from core.plan import PRESENT
from core.spec import StackSpec

Fields = dict[str, str]
YES, NO = "yes", "no"
HELD = "held by this stack"
USERS = "users"


class Tagged(Protocol):
    @property
    def owned(self) -> bool: ...

    @property
    def tags(self) -> dict[str, str]: ...


class Held(Protocol):
    @property
    def owned(self) -> bool: ...


def tag_fields(spec: StackSpec, found: Tagged | None) -> Fields:
    """The tags a resource of ours must carry (`tag:<key>` fields): the stack's ownership mark
    and `stack.tags`. A pre-existing resource we adopted is not ours to tag."""
    if found is not None and not found.owned:
        return {}
    return {f"tag:{key}": value for key, value in spec.tags.items()}


def tags_found(found: Tagged) -> Fields:
    return {f"tag:{key}": value for key, value in found.tags.items()}


def held(found: Held | None) -> Fields:
    """A shared item of ours (made by any kubeflow-alb stack, or to be made) is held by this
    stack, whoever else uses it; a pre-existing one is only used."""
    if found is not None and not found.owned:
        return {}
    return {HELD: YES, USERS: PRESENT}


#: The same for the controller (its users are marks on its Deployment).
held_by_users = held


def held_found(users: tuple[str, ...], stack: str, *, ours: bool = True) -> Fields:
    text = (",".join(users) or "none") if ours else sharing.PRE_EXISTING
    return {HELD: YES if stack in users else NO, USERS: text}


def shared_found(tags: Mapping[str, str], stack: str) -> Fields:
    """A shared AWS item's hold and users, from its tags."""
    return held_found(sharing.item_users(tags), stack, ours=sharing.made_by_tool(tags))


def subnet_tag_holders(tags: Mapping[str, str], key: str, stack: str) -> Fields:
    """A subnet discovery tag's hold and users, from the subnet's markers."""
    return {
        HELD: YES if sharing.holds(tags, key, stack) else NO,
        USERS: sharing.users_text(tags, key),
    }

"""The one planner: compare declared fields of desired items with what was observed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from core.state import Kind

#: A field whose desired value is PRESENT is satisfied by any observed value.
PRESENT = "<present>"


class Action(StrEnum):
    """What setup must do about an item."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    KEEP = "keep"


@dataclass(frozen=True)
class Item:
    """A desired fact about one resource: its kind, a stable key and the fields we declare."""

    kind: Kind
    key: str
    fields: Mapping[str, str] = field(default_factory=dict)
    #: Declared absent: something of the stack's that must go (e.g. what an earlier setting made).
    absent: bool = False


@dataclass(frozen=True)
class Difference:
    """One declared field whose observed value is not the desired one."""

    field: str
    expected: str
    found: str


@dataclass(frozen=True)
class Change:
    """The planned action for one item, with the differences that cause it."""

    item: Item
    action: Action
    differences: tuple[Difference, ...] = ()
    users: str = ""  # a shared item's users as found (core.sharing), shown with it

    @property
    def drifted(self) -> bool:
        return self.action is not Action.KEEP


@dataclass(frozen=True)
class Plan:
    """Changes for every desired item, in the order the items were declared."""

    changes: tuple[Change, ...]

    @property
    def drift(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.drifted)

    @property
    def converged(self) -> bool:
        return not self.drift

    def kinds_to_fix(self) -> tuple[Kind, ...]:
        """Kinds with any drifted item, in declaration order (an apply order), once each."""
        drifted = {change.item.kind for change in self.drift}
        return tuple(kind for kind in Kind if kind in drifted)

    def keys_to_fix(self, kind: Kind) -> frozenset[str]:
        """Keys of the drifted items of one kind."""
        return frozenset(change.item.key for change in self.drift if change.item.kind is kind)

    def counts(self) -> dict[str, int]:
        """How many items each action has (by the action's name)."""
        counts = dict.fromkeys((action.value for action in Action), 0)
        for change in self.changes:
            counts[change.action.value] += 1
        return counts

    def summary(self) -> str:
        """`N to create, N to change, N in place`."""
        counts = self.counts()
        text = f"{counts['create']} to create, {counts['update']} to change"
        if counts["delete"]:
            text += f", {counts['delete']} to remove"
        return f"{text}, {counts['keep']} in place"


Observed = Mapping[tuple[Kind, str], Mapping[str, str] | None]


#: The field of a shared item naming the stacks that use it (shown in plans and drift tables).
USERS = "users"
#: The pseudo-field of a dependent that must be re-applied because what it is built on is new.
REBUILT = "built on"


Rebuilt = Callable[[Iterable[Kind]], Mapping[Kind, tuple[Kind, ...]]]


def plan(desired: Iterable[Item], observed: Observed, *, rebuilt: Rebuilt | None = None) -> Plan:
    """Compare each desired item with its observation (None or absent: the resource is missing).

    An item in place whose value depends on a resource to be created anew (`rebuilt`: the
    kinds' table, core.kinds.rebuilt_with) is planned for update too: its desired value is
    known only after apply.
    """
    changes = []
    for item in desired:
        found = observed.get((item.kind, item.key))
        if item.absent:
            action = Action.KEEP if found is None else Action.DELETE
            changes.append(Change(item, action, users=(found or {}).get(USERS, "")))
            continue
        if found is None:
            changes.append(Change(item, Action.CREATE))
            continue
        differences = tuple(
            Difference(name, want, found.get(name, ""))
            for name, want in item.fields.items()
            if not _satisfies(want, found.get(name))
        )
        action = Action.UPDATE if differences else Action.KEEP
        changes.append(Change(item, action, differences, found.get(USERS, "")))
    created = {c.item.kind for c in changes if c.action is Action.CREATE}
    causes = rebuilt(created) if rebuilt is not None else {}
    return Plan(tuple(_rebuilt(change, causes) for change in changes))


def _rebuilt(change: Change, causes: Mapping[Kind, tuple[Kind, ...]]) -> Change:
    if change.action is not Action.KEEP or change.item.kind not in causes:
        return change
    new = ", ".join(f"the new {kind.value}" for kind in causes[change.item.kind])
    return Change(
        change.item, Action.UPDATE, (Difference(REBUILT, new, "the old one"),), change.users
    )


def _satisfies(want: str, got: str | None) -> bool:
    if got is None:
        return False
    if want == PRESENT:
        return True
    return want == got

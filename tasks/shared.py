"""Releasing an item the stacks of a cluster share by reference (the controller, its IAM role,
policy and OIDC provider, the Pod Identity association): the primitives every kind's task module
composes, so an ownership policy can call them for any such kind.

A leaving stack removes its own mark, reads the item again, and deletes it only when no mark is
left. Two stacks leaving at once then never both keep it: whichever reads last sees no mark and
deletes it (the other's delete finds it gone). A stack joining meanwhile is kept apart by the
cluster's lock (tasks/cluster_lock.py), which the callers hold around these steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core import sharing
from tasks.logs import run_logger

Marks = Mapping[str, str]


@dataclass(frozen=True)
class SharedItem:
    """One shared item, as its kind's task module reads, unmarks and deletes it."""

    what: str  # how messages name it: "IAM role kfalb-...-lbc"
    read_marks: Callable[[], Marks | None]  # its marks now (tags, annotations); None: gone
    remove_marks: Callable[[list[str]], None]  # remove these mark keys (gone: no error)
    delete: Callable[[], bool]  # delete it; False when it was gone already
    add_marks: Callable[[dict[str, str]], object]  # put marks (back) on it


@dataclass(frozen=True)
class Released:
    """What a release did: deleted the item, or kept it for `users`; `gone`: it was not there."""

    deleted: bool = False
    users: tuple[str, ...] = ()
    gone: bool = False


@dataclass(frozen=True)
class Unmarked:
    """The item's marks before and after a stack removed its own (None: gone by then)."""

    before: Marks | None
    after: Marks | None


def release_mark(item: SharedItem, stack: str) -> Unmarked:
    """Remove the stack's own mark from the item and read its marks again."""
    before = item.read_marks()
    if before is None:
        return Unmarked(None, None)
    key = sharing.user_key(stack)
    if key not in before:
        return Unmarked(before, before)
    item.remove_marks([key])
    return Unmarked(before, item.read_marks())


def delete_if_unused(item: SharedItem, stack: str, unmarked: Unmarked) -> Released:
    """Delete the item when no stack but `stack` (whose mark is gone) still uses it, as read
    after the mark was removed; else keep it for the others."""
    if unmarked.before is None or unmarked.after is None:
        return Released(gone=True)
    others = sharing.remaining_users(unmarked.before, unmarked.after, stack)
    if others:
        run_logger().info("%s stays for %s", item.what, ", ".join(others))
        return Released(users=others)
    try:
        return Released(deleted=item.delete())
    except Exception:
        # Not deleted (still attached, refused): the stack keeps its mark, so that its next
        # cleanup finds the item as its own again instead of an unmarked leftover of nobody.
        key = sharing.user_key(stack)
        if unmarked.before.get(key) == stack:
            item.add_marks({key: stack})
        raise


def release(item: SharedItem, stack: str) -> Released:
    """The stack's release of a shared item: remove my mark, read again, delete when no mark
    remains (the last remover always sees none)."""
    return delete_if_unused(item, stack, release_mark(item, stack))

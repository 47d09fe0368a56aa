"""Prerequisites several stacks hold by reference (pure): who uses a shared item, and whether
removing one user's hold leaves it needed.

Subnet discovery tags cannot carry an ownership mark, so each stack that needs a tag lists its
key in its own marker tag `kubeflow-alb/added-tags/<stack>` on the subnet, whether it added the
tag or found it added by another stack; a tag a stack added goes only with its last user.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Tag (plus the stack name) on each subnet listing the tag keys that stack holds there.
ADDED_TAGS_PREFIX = "kubeflow-alb/added-tags/"
#: The users of a tag that was there before any kubeflow-alb stack (nobody will remove it).
PRE_EXISTING = "pre-existing"


def marker_key(stack: str) -> str:
    """The marker tag key of a stack (value: the comma-separated keys it holds)."""
    return ADDED_TAGS_PREFIX + stack


def tag_users(tags: Mapping[str, str], key: str) -> tuple[str, ...]:
    """The stacks whose markers on a subnet list `key`, sorted."""
    return tuple(
        sorted(
            marker.removeprefix(ADDED_TAGS_PREFIX)
            for marker, value in tags.items()
            if marker.startswith(ADDED_TAGS_PREFIX) and key in value.split(",")
        )
    )


def users_text(tags: Mapping[str, str], key: str) -> str:
    """The users field of a subnet tag item: the stacks holding it, or `pre-existing`."""
    return ",".join(tag_users(tags, key)) or PRE_EXISTING


def holds(tags: Mapping[str, str], key: str, stack: str) -> bool:
    """True when the stack holds the tag: its marker lists it, or no stack added it (then no
    cleanup removes it, and there is nothing to hold)."""
    users = tag_users(tags, key)
    return not users or stack in users


def kept_for_others(tags: Mapping[str, str], key: str, leaving: Iterable[str]) -> bool:
    """True when a stack other than the `leaving` markers' still lists the tag `key`."""
    gone = {marker.removeprefix(ADDED_TAGS_PREFIX) for marker in leaving}
    return bool(set(tag_users(tags, key)) - gone)

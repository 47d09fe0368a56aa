"""Prerequisites several stacks hold by reference (pure): who uses a shared item, and whether
removing one user's hold leaves it needed (subnet tags; the OIDC provider, the controller and
its IAM role and policy).

Subnet discovery tags cannot carry an ownership mark, so each stack that needs a tag lists its
key in its own marker tag `kubeflow-alb/added-tags/<stack>` on the subnet, whether it added the
tag or found it added by another stack; a tag a stack added goes only with its last user.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core import naming

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


# The OIDC provider, the controller and its IAM role and policy: one per cluster, several users.
# Each user stack puts its own mark on the item (an AWS tag, or an annotation on the controller's
# Deployment): a key per stack, so that two stacks never rewrite each other's marks. The marks say
# only who uses the item; what it contains (trust policy, policy document, manifests) is declared
# and compared apart from them.

#: Key (plus the stack name) of a user's mark on a shared item; the value is the stack name.
USER_PREFIX = "kubeflow-alb/user."


def user_key(stack: str) -> str:
    """The mark (AWS tag key or Kubernetes annotation key) of one user stack."""
    return USER_PREFIX + stack


def made_by_tool(marks: Mapping[str, str]) -> bool:
    """True when a kubeflow-alb stack made the item (any stack may then use and change it)."""
    return marks.get(naming.MANAGED_BY_TAG) == naming.TOOL


def item_users(marks: Mapping[str, str]) -> tuple[str, ...]:
    """The stacks that use a shared item, sorted: those with a user mark. An item of the previous
    version has no user marks, only its stack's ownership mark: that stack is its user."""
    users = {key.removeprefix(USER_PREFIX) for key in marks if key.startswith(USER_PREFIX)}
    legacy = marks.get(naming.STACK_TAG)
    if not users and legacy and made_by_tool(marks):
        users.add(legacy)
    return tuple(sorted(users))


def uses(marks: Mapping[str, str], stack: str) -> bool:
    """True when the stack is a user of the item."""
    return stack in item_users(marks)


def marks_to_hold(marks: Mapping[str, str], stack: str) -> dict[str, str]:
    """The user marks to add so that `stack` uses the item. A previous-version holder keeps its
    hold: its implicit use becomes a mark of its own (the first mark ends the implicit one)."""
    wanted = {user_key(user): user for user in (*item_users(marks), stack)}
    return {key: value for key, value in wanted.items() if marks.get(key) != value}


def creation_marks(tags: Mapping[str, str], users: Iterable[str]) -> dict[str, str]:
    """The tags of a shared item a stack makes: its tags without the one-stack ownership mark
    (which would read as a previous-version holder), plus a user mark per user."""
    kept = {key: value for key, value in tags.items() if key != naming.STACK_TAG}
    return {**kept, **{user_key(user): user for user in users}}


def marked_users(marks: Mapping[str, str]) -> tuple[str, ...]:
    """The stacks with a user mark on the item (not a previous version's implicit holder)."""
    return tuple(
        sorted(key.removeprefix(USER_PREFIX) for key in marks if key.startswith(USER_PREFIX))
    )


def remaining_users(
    before: Mapping[str, str], after: Mapping[str, str], leaving: str
) -> tuple[str, ...]:
    """Who still uses a shared item once `leaving` removed its mark: the marks read `after`;
    a previous version's implicit holder (its stack mark, no user marks) only if it held the
    item `before` too (the first user mark ends an implicit hold, so a stack mark left on an
    item whose marks are all gone now holds nothing)."""
    users = set(marked_users(after))
    if not marked_users(before):
        users |= set(item_users(after))
    return tuple(sorted(users - {leaving}))

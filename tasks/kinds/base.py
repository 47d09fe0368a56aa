"""What a kind's task module gives the walk: its verbs, with one signature for every kind.

- `observe(look)`: read the kind (read only) into fields of the Observation;
- `current(env)`: what the kind is now, as its dependents take it (when the plan keeps it);
- `ensure(env, got)`: look first, create or update, idempotent; returns what it made;
- `settle(env, made, got)`: its readiness wait (certificate ISSUED, ALB active, ...), if any;
- `delete(env)`: remove what the observation found of it (by the kind's policy, core.kinds);
- `check(env)`: refuse, before anything of the stack is made, what the kind cannot be made with.

`got` maps each kind the work needs (core.kinds) to what that kind is now: what this run made or
settled, else what was observed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import PreflightError
from core.observation import Observation
from core.plan import Plan
from core.recorded_ids import recorded_ids
from core.resources import CallerIdentity, ClusterState
from core.spec import StackSpec
from core.state import Kind, StackRecord
from tasks.aws.clients import AwsContext
from tasks.k8s.clients import KubeTarget

Got = Mapping[Kind, Any]


@dataclass(frozen=True)
class Look:
    """What an observation reads with, and what the reads before it found."""

    spec: StackSpec
    ctx: AwsContext
    cluster: ClusterState | None
    target: KubeTarget | None
    identity: CallerIdentity | None
    record: StackRecord | None
    found: Observation
    #: Cleanup's look: every kind is read, whether or not the stack declares it now.
    sweeping: bool = False


@dataclass(frozen=True)
class Env:
    """What the verbs of apply and cleanup work with: the stack, its world, what was observed."""

    spec: StackSpec
    ctx: AwsContext
    target: KubeTarget | None
    cluster: ClusterState | None
    seen: Observation
    record: StackRecord | None = None
    #: The plan being applied: a verb does only the part of its work the plan marks.
    todo: Plan = field(default_factory=lambda: Plan(()))

    def fixing(self, kind: Kind) -> frozenset[str]:
        """The keys of the kind's items the plan changes."""
        return self.todo.keys_to_fix(kind)

    def changes(self, kind: Kind) -> bool:
        return kind in self.todo.kinds_to_fix()

    @property
    def kube(self) -> KubeTarget:
        """The cluster's Kubernetes API (the verbs that write there run only when it is known)."""
        if self.target is None:
            raise PreflightError(f"The Kubernetes API of cluster {self.spec.cluster.name} is "
                                 "not known; nothing can be changed in it.")  # fmt: skip
        return self.target


def recorded_in(look: Look, kind: Kind) -> dict[str, str]:
    """The ids the stack's record holds for a kind's items, by name, where the look may read
    first (core.recorded_ids): none without a caller identity to bind them to."""
    if look.identity is None:
        return {}
    return recorded_ids(look.record, kind, account=look.identity.account, region=look.spec.region)


def _nothing(env: Env) -> None:
    return None


@dataclass(frozen=True)
class Verbs:
    """One kind's task verbs (see the module's docstring); None: the kind has no such verb."""

    observe: Callable[[Look], dict[str, Any]]
    observe_after: tuple[Kind, ...] = ()
    current: Callable[[Env], Any] = _nothing
    ensure: Callable[[Env, Got], Any] | None = None
    settle: Callable[[Env, Any, Got], Any] | None = None
    delete: Callable[[Env], str] | None = None
    check: Callable[[Env], None] | None = None

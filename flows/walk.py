"""The one walk of the kinds' graph (core/kinds.py) with their verbs (tasks/kinds): apply runs
what the plan marks, each kind once what it needs is made (or settled), so concurrency and the
early start of the long waits follow from the graph; cleanup is the same graph reversed. No kind
is named here: a new kind is a table entry and a task module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.utilities.annotations import opaque

from core.cleanup_steps import Outcome
from core.errors import KfalbError
from core.kinds import TABLE, Policy, active_kinds, cleanup_order, removed_after
from core.schedule import Schedule
from core.state import Kind
from flows.recording import Recorder
from tasks.concurrent import together
from tasks.kinds import VERBS, Env
from tasks.logs import run_logger
from tasks.retry import RETRIES, RETRY_DELAYS, RETRY_JITTER, retry_on_transient

MADE, SETTLED = "ensure", "settle"
Node = tuple[Kind, str]


@task(
    cache_policy=NO_CACHE,
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=RETRY_JITTER,
    retry_condition_fn=retry_on_transient,
)
def kind_step(kind: Kind, phase: str, env: Env, got: dict[Kind, Any], made: Any = None) -> Any:
    """One verb of one kind: ensure it, settle it (its readiness wait), or delete it."""
    verbs = VERBS[kind]
    if phase == MADE and verbs.ensure is not None:
        return verbs.ensure(env, got)
    if phase == SETTLED and verbs.settle is not None:
        return verbs.settle(env, made, got)
    if verbs.delete is not None:
        return verbs.delete(env)
    return None


def _submitted(name: str, kind: Kind, phase: str, *given: Any) -> PrefectFuture[Any]:
    """Submit one verb of one kind as a task run named `name`. What it is given (the stack's
    env, the kinds as they are now) goes `opaque`: it holds no future (the walk starts a step
    once what it needs is done), and Prefect would otherwise walk every object in it looking
    for one, twice per task run: a fifth of a setup's CPU."""
    step = kind_step.with_options(name=name)
    future: PrefectFuture[Any] = step.submit(kind, phase, *(opaque(value) for value in given))
    return future


@dataclass
class Applied:
    """What apply left: each kind as it is now (made, settled, or as observed), and which kinds
    it worked on."""

    now: dict[Kind, Any] = field(default_factory=dict)
    kinds: list[Kind] = field(default_factory=list)
    #: The checked facts this apply verified, as they answered.
    checked: dict[Kind, Any] = field(default_factory=dict)

    def verified(self) -> list[str]:
        """`kind: answer` of each checked fact verified."""
        return [f"{kind.value} {_said(answer)}" for kind, answer in self.checked.items()]


def _said(answer: Any) -> str:
    if hasattr(answer, "describe"):
        return str(answer.describe())
    if isinstance(answer, tuple | list):
        return ", ".join(str(item) for item in answer)
    return str(answer)


def _graph(env: Env) -> dict[Node, tuple[Node, ...]]:
    """The nodes apply runs, each with the nodes it waits for: a marked kind is ensured; a kind
    with a readiness wait is settled when marked, or when a running node needs it settled."""
    active = active_kinds(env.todo.kinds_to_fix())

    def settled_of(kind: Kind) -> Node | None:
        if VERBS[kind].settle is not None:
            return (kind, SETTLED)
        return (kind, MADE) if kind in active and VERBS[kind].ensure is not None else None

    def making(kind: Kind) -> list[Node]:
        entry = TABLE[kind]
        made = [(k, MADE) for k in entry.needs if k in active and VERBS[k].ensure]
        return made + [n for k in entry.settled if (n := settled_of(k))]

    def needs(node: Node) -> list[Node]:
        kind, phase = node
        if phase == MADE:
            return making(kind)
        after = [n for k in TABLE[kind].ready_after if (n := settled_of(k))]
        if kind in active and VERBS[kind].ensure:
            return [(kind, MADE), *after]
        # Not made again: its wait only follows what changes under it.
        return [dep for dep in (*making(kind), *after) if dep[0] in active]

    graph: dict[Node, tuple[Node, ...]] = {}
    todo = [(k, MADE) for k in active if VERBS[k].ensure is not None]
    todo += [(k, SETTLED) for k in active if VERBS[k].settle is not None]
    while todo:
        node = todo.pop()
        if node in graph:
            continue
        graph[node] = tuple(needs(node))
        todo += [dep for dep in graph[node] if dep not in graph]
    return graph


def checks(env: Env) -> list[Callable[[], None]]:
    """What must hold before anything of the plan is made: each kind's check (read only), for
    the kinds the plan works on. A caller runs them beside its other checks, or apply does."""
    kinds = sorted(active_kinds(env.todo.kinds_to_fix()), key=list(TABLE).index)
    return [partial(check, env) for kind in kinds if (check := VERBS[kind].check) is not None]


def apply(env: Env, recorder: Recorder, *, checked: bool = False) -> Applied:
    """Carry out the plan: check what must hold before anything is made (unless the caller
    ran `checks(env)` already), then run the graph. What is not worked on is taken as observed;
    each result is recorded as soon as it is."""
    if not checked:
        together(checks(env))  # each read only; the first refusal stops the run
    kinds = active_kinds(env.todo.kinds_to_fix())
    graph = _graph(env)
    applied = Applied(
        now={kind: VERBS[kind].current(env) for kind in TABLE}, kinds=list(env.todo.kinds_to_fix())
    )

    def start(node: Node, done: dict[Node, Any]) -> PrefectFuture[Any]:
        kind, phase = node
        got = dict(applied.now)
        made = done.get((kind, MADE), got.get(kind))
        return _submitted(f"{phase}-{kind.value}", kind, phase, env, got, made)

    def finished(node: Node, result: Any) -> None:
        applied.now[node[0]] = result
        if TABLE[node[0]].policy is Policy.CHECKED and result is not None:
            applied.checked[node[0]] = result

    def record(node: Node, result: Any) -> None:
        if TABLE[node[0]].policy is not Policy.CHECKED and result is not None:
            recorder.later(result)  # saved by a background writer: the walk goes on

    # What the stack uses as it is goes into the record too, once the first nodes are started.
    kept = [(kind, MADE) for kind in TABLE if kind not in kinds and VERBS[kind].ensure]
    first = [(node, applied.now[node[0]]) for node in kept if applied.now[node[0]] is not None]
    try:
        _run(graph, start, finished, stop_on_failure=True, after_start=record, first=first)
    except BaseException:
        _flush_failing(recorder)  # what was made before the failure is in the block
        raise
    recorder.flush()
    return applied


def _flush_failing(recorder: Recorder) -> None:
    """Flush the record while a step's failure is on its way out: that failure is the news."""
    try:
        recorder.flush()
    except Exception as error:  # the step's failure stays the one raised
        run_logger().warning("Recording in the stack's block failed too: %s", error)


def _run(
    graph: dict[Node, tuple[Node, ...]],
    start: Callable[[Node, dict[Node, Any]], PrefectFuture[Any]],
    finished: Callable[[Node, Any], None],
    *,
    stop_on_failure: bool,
    failed: Callable[[Node, BaseException], None] | None = None,
    after_start: Callable[[Node, Any], None] | None = None,
    first: list[tuple[Node, Any]] | None = None,
) -> dict[Node, str]:
    """Start each node once every node it waits for has finished (core.schedule); returns why
    the nodes that did not finish were left (a failed node stops only what waits for it,
    unless `stop_on_failure`). `after_start` gets a finished node's result once what waited
    for it is started (its slow bookkeeping never delays them)."""
    late: list[tuple[Node, Any]] = list(first or ())
    schedule: Schedule[Node] = Schedule(graph, name=lambda node: node[0].value)
    results: dict[Node, Any] = {}
    running: dict[PrefectFuture[Any], Node] = {}
    while True:
        for node in schedule.startable():
            running[start(node, results)] = node
        for node, result in late:
            if after_start is not None:
                after_start(node, result)
        late.clear()
        if not running:
            return schedule.left
        future = next(as_completed(list(running)))
        node = running.pop(future)
        try:
            result = future.result()
        except Exception as error:
            if stop_on_failure:
                for done, value in late:  # what finished before is recorded all the same
                    if after_start is not None:
                        after_start(done, value)
                raise
            why = str(error) if isinstance(error, KfalbError) else repr(error)
            schedule.failed(node, why)
            if failed is not None:
                failed(node, error)
            continue
        schedule.finished(node)
        results[node] = result
        finished(node, result)
        late.append((node, result))


def teardown(env: Env, *, on_done: Callable[[Kind], None]) -> Outcome:
    """Remove what the observation found of the stack, in the graph's removal order, each kind
    once the kinds removed before it are gone; a failed kind stops only what is removed after
    it. Returns what each kind's removal did."""
    logger = run_logger()
    kinds = [kind for kind in cleanup_order() if VERBS[kind].delete is not None]
    graph: dict[Node, tuple[Node, ...]] = {
        (kind, "delete"): tuple((k, "delete") for k in removed_after(kind) if k in kinds)
        for kind in kinds
    }
    outcome = Outcome()

    def start(node: Node, done: dict[Node, Any]) -> PrefectFuture[Any]:
        kind = node[0]
        return _submitted(f"delete-{kind.value}", kind, "delete", env, {})

    def finished(node: Node, said: Any) -> None:
        outcome.done.append(node[0].value)
        if said:
            logger.info("%s", said)
        on_done(node[0])

    def failed(node: Node, error: BaseException) -> None:
        outcome.errors[node[0].value] = error
        if isinstance(error, KfalbError):
            logger.error(
                "Cleanup of %s of stack %s failed (going on with what does not depend on it): %s",
                node[0].value,
                env.spec.name,
                error,
            )

    left = _run(graph, start, finished, stop_on_failure=False, failed=failed)
    for (kind, _), why in left.items():
        if why.startswith("not tried"):
            outcome.skipped[kind.value] = why
            logger.warning("Cleanup of %s of stack %s %s", kind.value, env.spec.name, why)
        else:
            outcome.failed[kind.value] = why.removeprefix("failed: ")
    return outcome

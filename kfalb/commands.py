"""What `kfalb plan|setup|cleanup|drift` do: run the flows and print what a shell user needs."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from core.errors import DriftDetected
from core.plan import Action, plan_rows
from core.report import markdown_table
from core.spec import StackSpec

EXIT_OK = 0
EXIT_LEFTOVERS = 1
EXIT_DRIFT = 3


def plan(spec: StackSpec, *, credentials_block: str | None) -> int:
    """Print what setup would create, change or keep; read only."""
    from flows.check_drift import plan_stack

    result = plan_stack(spec, credentials_block)
    print(markdown_table(plan_rows(result)))
    counts = {action: 0 for action in Action}
    for change in result.changes:
        counts[change.action] += 1
    print(
        f"\nStack {spec.name}: {counts[Action.CREATE]} to create, {counts[Action.UPDATE]} to "
        f"change, {counts[Action.KEEP]} in place."
    )
    return EXIT_OK


def setup(spec: StackSpec, *, credentials_block: str | None) -> int:
    """Run the setup flow and print the dashboard URL."""
    from flows.setup_load_balancer import setup_load_balancer

    outputs = setup_load_balancer(spec=spec, aws_credentials_block=credentials_block)
    print(f"Kubeflow is served at {outputs['url']} (stack {outputs['stack']})")
    return EXIT_OK


def cleanup(
    *,
    spec: StackSpec | None,
    stack: str | None,
    credentials_block: str | None,
    adopt_block: bool = False,
) -> int:
    """Run the cleanup flow and print the leak report; non-zero when something is left."""
    from flows.cleanup_load_balancer import cleanup_load_balancer

    leftovers = cleanup_load_balancer(
        stack=stack, spec=spec, aws_credentials_block=credentials_block, adopt_block=adopt_block
    )
    left = {kind: items for kind, items in leftovers.items() if items}
    if not left:
        print(f"Stack {stack or (spec.name if spec else '')}: nothing left.")
        return EXIT_OK
    for kind, items in left.items():
        for item in items:
            print(f"left: {kind} {item}", file=sys.stderr)
    return EXIT_LEFTOVERS


def drift(
    *,
    spec: StackSpec | None,
    stack: str | None,
    fleet: bool,
    remediate: bool,
    credentials_block: str | None,
) -> int:
    """Run the drift check (one stack, or every saved stack); exit 3 on drift."""
    from flows.check_drift import check_drift, check_drift_fleet

    try:
        if fleet:
            results = check_drift_fleet(
                remediate=remediate, aws_credentials_block=credentials_block
            )
            for name, status in results.items():
                print(f"{name}: {status}")
        else:
            check_drift(stack=stack, spec=spec, remediate=remediate,
                        aws_credentials_block=credentials_block)  # fmt: skip
            print(f"Stack {stack or (spec.name if spec else '')}: no drift.")
    except DriftDetected as error:
        print(f"kfalb: {error}", file=sys.stderr)
        return EXIT_DRIFT
    return EXIT_OK


def unlock(stack: str) -> int:
    """Break a stack's lock whoever holds it, and say whose it was."""
    from tasks.stack_lock import break_lock

    lease = break_lock(stack)
    if lease is None:
        print(f"Stack {stack} is not locked.")
        return EXIT_OK
    print(
        f"kfalb: warning: broke the lock of stack {stack}, {lease.describe(_now())}. If that run "
        "is still alive, two runs may now change the stack at once.",
        file=sys.stderr,
    )
    return EXIT_OK


def _now() -> datetime:
    return datetime.now(UTC)

"""What `kfalb plan|setup|cleanup|drift` do: run the flows and print what a shell user needs."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

from core.errors import (
    DriftDetected,
    Interrupted,
    KfalbError,
    PreflightError,
    SpecError,
    StalePlan,
)
from core.plan import Plan
from core.plan_output import document_rows, plan_document, summary_line, text_table, to_json
from core.plan_review import PlanReview, plan_file, review_lines
from core.spec import StackSpec
from kfalb.help_text import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from kfalb.stacks import require_saved, saved_spec, saved_stacks

EXIT_LEFTOVERS = EXIT_ERROR
EXIT_DRIFT = EXIT_CHANGES


def plan(
    spec: StackSpec, *, credentials_block: str | None, output: str = "text", out: str | None = None
) -> int:
    """Show what setup would create, change or keep, with the policy findings and the cost;
    read only. Exit 0: nothing to do, 3: changes. `out`: also save the plan for `setup --plan`."""
    from flows.check_drift import observe_plan
    from kfalb.plan_file import write_plan_file
    from tasks.plan_review import review_stack_plan

    seen, result = observe_plan(spec, credentials_block)
    review = review_stack_plan(spec, seen, result)
    if out:
        write_plan_file(out, plan_file(spec, result, review))
    show(spec, result, output=output, command="plan", review=review)
    if out and output != "json":
        print(f"Saved the plan to {out}; apply exactly it with `kfalb setup --plan {out}`.")
    return EXIT_OK if result.converged else EXIT_CHANGES


def show(
    spec: StackSpec, result: Plan, *, output: str, command: str, review: PlanReview | None = None
) -> None:
    """Print a plan: one JSON document on stdout, or a table (changed items first, full
    values), a summary, and with its review the policy findings, the cost line and the digest."""
    if output == "json":
        document = (
            plan_file(spec, result, review, command=command)
            if review is not None
            else plan_document(spec.name, result, command=command)
        )
        sys.stdout.write(to_json(document))
        return
    print(text_table(document_rows(plan_document(spec.name, result, command=command))))
    print(f"\n{summary_line(spec.name, result)}")
    if review is not None:
        print("\n" + "\n".join(review_lines(review)))


def plan_destroy(*, stack: str, spec: StackSpec | None, credentials_block: str | None) -> int:
    """What cleanup would remove and leave (read only); exit 3 when it would remove something."""
    from kfalb.confirm import destroy_preview

    if spec is None and stack not in saved_stacks():
        return nothing_to_remove(stack)
    preview = destroy_preview(stack=stack, spec=spec, credentials_block=credentials_block)
    print(preview.text)
    return EXIT_CHANGES if preview.removes else EXIT_OK


def nothing_to_remove(stack: str) -> int:
    """Cleanup of a stack that has no saved block and no spec: nothing to do (exit 0), as
    `terraform destroy` of an empty state."""
    names = saved_stacks()
    saved = ", ".join(names) if names else "none"
    print(
        f"Stack {stack}: nothing to remove (no saved stack of that name; saved stacks: {saved}). "
        "If its block was lost, `kfalb cleanup --config FILE` finds what it made by its tags."
    )
    return EXIT_OK


def _one_line_errors() -> None:
    """Expected errors without tracebacks in the run logs of every flow this command starts."""
    from flows.outcomes import install_one_line_errors

    install_one_line_errors()


def setup(spec: StackSpec, *, credentials_block: str | None, approved: str | None = None) -> int:
    """Run the setup flow and print the dashboard URL; `approved`: the digest of the plan to
    apply (a saved plan), else a stale plan ends it with nothing applied."""
    from flows.setup_load_balancer import setup_load_balancer

    _one_line_errors()
    try:
        outputs = setup_load_balancer(
            spec=spec, aws_credentials_block=credentials_block, approved_plan_digest=approved
        )
    except (SpecError, PreflightError, StalePlan, Interrupted):
        raise  # nothing was created, or the user stopped it: the command says what next
    except KfalbError as error:
        print(f"kfalb: {error}\n{next_steps(spec.name)}", file=sys.stderr)
        return EXIT_ERROR
    print(f"Kubeflow is served at {outputs['url']} (stack {outputs['stack']})")
    return EXIT_OK


def next_steps(stack: str) -> str:
    """What to do after a failed setup."""
    return (
        f"Next: fix the cause and re-run `kfalb setup` (it resumes where this run stopped), or "
        f"remove what was created with `kfalb cleanup --stack {stack}`."
    )


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
    print("kfalb: re-run `kfalb cleanup` once the cause is fixed (it resumes)", file=sys.stderr)
    return EXIT_LEFTOVERS


def drift(
    *,
    spec: StackSpec | None,
    stack: str | None,
    fleet: bool,
    remediate: bool,
    credentials_block: str | None,
    output: str = "text",
) -> int:
    """Run the drift check (one stack, or every saved stack); exit 3 on drift."""
    from flows.check_drift import check_drift, check_drift_fleet

    _one_line_errors()
    if stack and spec is None:
        require_saved(stack)
    name = stack or (spec.name if spec else "")
    code = EXIT_OK
    try:
        if fleet:
            results = check_drift_fleet(
                remediate=remediate, aws_credentials_block=credentials_block
            )
            for each, status in results.items():
                print(f"{each}: {status}")
        else:
            check_drift(
                stack=stack,
                spec=spec,
                remediate=remediate,
                aws_credentials_block=credentials_block,
            )
            if output != "json":
                print(f"Stack {name}: no drift.")
    except DriftDetected as error:
        if error.document is not None and not fleet:
            _show_drift(name, error.document, output=output, remediate=remediate)
            return EXIT_DRIFT
        if output != "json":
            print(f"kfalb: {error}", file=sys.stderr)
        code = EXIT_DRIFT
    if output == "json":
        drift_json(spec or saved_spec(name), credentials_block=credentials_block)
    return code


def _show_drift(stack: str, document: dict[str, Any], *, output: str, remediate: bool) -> None:
    """The drift as `kfalb plan` shows a plan (full values), and the command that repairs it."""
    if output == "json":
        sys.stdout.write(to_json(document))
        return
    print(text_table(document_rows(document)))
    counts = document["summary"]
    drifted = counts["create"] + counts["update"]
    still = " still" if remediate else ""
    print(f"\nStack {stack}:{still} {drifted} of {drifted + counts['keep']} items drifted.")
    if remediate:
        print(
            "Remediation did not repair all of it: the run's logs say why; "
            f"`kfalb drift --stack {stack}` checks again."
        )
    else:
        print(f"Repair: kfalb drift --stack {stack} --remediate")


def drift_json(spec: StackSpec, *, credentials_block: str | None) -> None:
    """The drift document: the same read and planner the drift check uses, as JSON on stdout."""
    from flows.check_drift import observe_plan
    from tasks.plan_review import review_stack_plan

    seen, result = observe_plan(spec, credentials_block)
    review = review_stack_plan(spec, seen, result)
    show(spec, result, output="json", command="drift", review=review)


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


def unlock_cluster(cluster: str, region: str) -> int:
    """Break a cluster's lock whoever holds it, and say whose it was."""
    from tasks.cluster_lock import break_cluster_lock

    lease = break_cluster_lock(region, cluster)
    if lease is None:
        print(f"Cluster {cluster} in {region} is not locked.")
        return EXIT_OK
    print(
        f"kfalb: warning: broke the lock of cluster {region}/{cluster}, "
        f"{lease.describe(_now())}. If that run is still alive, two stacks may now change the "
        "cluster's shared items at once.",
        file=sys.stderr,
    )
    return EXIT_OK


def _now() -> datetime:
    return datetime.now(UTC)

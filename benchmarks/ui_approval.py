"""A reviewer's approval in the Prefect UI, as a user gives it (part of benchmarks/ui_check.py).

A setup waits for approval; headless Chromium (Debian's, driven by Playwright from PyPI; no
browser of Playwright's own) opens the waiting run's page, clicks Resume, reads the form's
description (the plan's summary and digest, a link to the plan artifact), chooses *approve*,
types who and why, and submits. The run then goes on. Screenshots of each step, and of the plan
artifact the form links and its review (policy findings, cost line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Chromium as the machine runs it headless: no background connections this closed network
#: refuses, no first-run work.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WINDOW = {"width": 1440, "height": 1400}
#: Bounds of each step of the page (milliseconds): a loaded machine renders slowly.
STEP_MS = 60_000
REVIEWER, COMMENT = "sre@example.com", "reviewed in the UI check"


@dataclass
class Approval:
    """What the reviewer saw and did, and the screenshots of each step."""

    shots: dict[str, Path] = field(default_factory=dict)
    form_text: str = ""
    plan_link: str = ""
    review_link: str = ""
    plan_text: str = ""
    review_text: str = ""
    problems: list[str] = field(default_factory=list)


def approve_in_ui(browser: str, ui: str, run_id: str, out: Path) -> Approval:
    """Open the waiting run, approve its plan through the form, as a user; the Approval seen."""
    from playwright.sync_api import sync_playwright

    seen = Approval()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=browser, args=ARGS)
        try:
            page = chromium.new_page(viewport=WINDOW)  # type: ignore[arg-type]
            page.set_default_timeout(STEP_MS)
            try:
                _answer(page, f"{ui}/runs/flow-run/{run_id}", out, seen)
            except Exception as error:  # the page as it was: what the user would have seen
                _shot(page, seen, "approval-error", out, full_page=True)
                raise SystemExit(f"approving in the UI failed: {error}") from error
            if seen.plan_link:
                _artifacts(page, seen, out)
        finally:
            chromium.close()
    return seen


def _shot(page: Any, seen: Approval, name: str, out: Path, **options: Any) -> None:
    path = out / f"{name}.png"
    page.screenshot(path=str(path), **options)
    seen.shots[name] = path
    (out / f"{name}.html").write_text(page.content())


def _answer(page: Any, url: str, out: Path, seen: Approval) -> None:
    """The run's page, its Resume button, the form: approve, who, why, Submit."""
    page.goto(url)
    page.get_by_role("button", name=re.compile(r"^\s*Resume\s*$")).first.wait_for()
    page.get_by_text("waits for approval in the Prefect UI").first.wait_for()  # the run's log
    _shot(page, seen, "approval-waiting", out)
    page.get_by_role("button", name=re.compile(r"^\s*Resume\s*$")).first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Approve the setup of stack").wait_for()
    seen.form_text = dialog.inner_text()
    links = [
        a.get_attribute("href") or ""
        for a in dialog.locator("a[href*='/artifacts/artifact/']").all()
    ]
    seen.plan_link, seen.review_link = (links + ["", ""])[:2]
    _shot(page, seen, "approval-form", out)
    _fill(dialog)
    _shot(page, seen, "approval-filled", out)
    dialog.get_by_role("button", name=re.compile(r"^\s*Submit\s*$")).click()
    dialog.wait_for(state="hidden")


def _fill(dialog: Any) -> None:
    """The form's fields, found by their labels (the RunInput's field titles)."""

    def field(label: str) -> Any:
        # `has` is looked for inside each property: a locator of the page, not of the dialog.
        title = dialog.page.locator(
            ".schema-form-property__label", has_text=re.compile(f"^{label}$")
        )
        return dialog.locator(".schema-form-property").filter(has=title).first

    # The select opens from the keyboard (a click on it right after the form renders may not):
    # focus it, Space, then click the option in the list it shows.
    field("Decision").locator(".p-select-button__control").focus()
    dialog.page.keyboard.press("Space")
    option = dialog.page.locator("[role=option]", has_text=re.compile(r"^\s*approve\s*$"))
    option.first.click()
    field("Reviewer").locator("textarea, input").first.fill(REVIEWER)
    field(r"Comment( \(Optional\))?").locator("textarea, input").first.fill(COMMENT)


def _artifacts(page: Any, seen: Approval, out: Path) -> None:
    """The plan artifact the form links, and the plan's review beside it."""
    page.goto(seen.plan_link)
    page.get_by_text("create").first.wait_for()
    seen.plan_text = page.inner_text("body")
    _shot(page, seen, "approval-plan", out, full_page=True)
    if seen.review_link:
        page.goto(seen.review_link)
        page.get_by_text("Policy").first.wait_for()
        seen.review_text = page.inner_text("body")
        _shot(page, seen, "approval-plan-review", out, full_page=True)


def check_approval(seen: Approval) -> list[str]:
    """What a reviewer would miss in the form or the artifacts it links; empty when all holds."""
    problems = []
    form = " ".join(seen.form_text.split())
    for needed, what in (
        ("Approve the setup of stack", "the question"),
        ("Digest:", "the plan's digest"),
        ("to create", "the plan's summary"),
        ("Policy:", "the policy findings"),
        ("Cost:", "the cost line"),
    ):
        if needed not in form:
            problems.append(f"the approval form does not show {what} ({needed!r})")
    if "/artifacts/artifact/" not in seen.plan_link:
        problems.append("the approval form does not link the plan artifact")
    elif "create" not in seen.plan_text:
        problems.append("the linked plan artifact shows no item to create")
    for needed in ("Policy", "Cost"):
        if needed not in seen.review_text:
            problems.append(f"the plan's review artifact does not show {needed!r}")
    return problems


class WaitingSetup:
    """A setup that asks for approval, run in a thread of this process (no deployment: the
    run is paused in its process); its flow run's id once it waits, its state once it ends."""

    def __init__(self, spec: Any) -> None:
        import threading

        from flows.setup_load_balancer import setup_load_balancer

        self.state: Any = None

        def run() -> None:
            self.state = setup_load_balancer(spec=spec, approval=True, return_state=True)

        self.thread = threading.Thread(target=run, name="setup-waiting", daemon=True)
        self.thread.start()

    def paused_run(self, *, timeout: float = 300.0) -> str:
        """The run's id once it waits for its answer (a bounded look at the API)."""
        from prefect import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStateType
        from prefect.client.schemas.objects import StateType

        from core.waiting import wait_until

        def look() -> list[Any]:
            if not self.thread.is_alive():
                raise SystemExit(f"setup ended before asking for approval: {self.state}")
            paused = FlowRunFilterStateType(any_=[StateType.PAUSED])
            with get_client(sync_client=True) as client:
                return client.read_flow_runs(flow_run_filter=FlowRunFilter(state={"type": paused}))

        runs = wait_until(
            look,
            bool,
            what="the setup run to wait for approval",
            timeout=timeout,
            interval=0.5,
            max_interval=1.0,
        )
        assert runs
        return str(runs[0].id)

    def outcome(self, *, timeout: float = 600.0) -> Any:
        self.thread.join(timeout=timeout)
        if self.thread.is_alive():
            raise SystemExit(f"the approved setup did not end within {timeout} s")
        return self.state

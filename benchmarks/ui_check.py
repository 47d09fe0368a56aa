"""Browser check of the Prefect UI pages an operator reads, in headless Chromium.

Starts `prefect server start` (with its UI) on a free port with a temporary PREFECT_HOME and a
sandbox world, runs setup, changes the stack behind its back (a weaker TLS policy on the ALB, the
dashboard record deleted) and runs the drift check, which finds that drift. Then it asks the
Prefect API for the ids of the runs, artifacts and the stack's block, takes a screenshot of each
page (Prefect's UI v1 routes, and the block page in UI v2 too) and asserts on the text the pages
render after their JavaScript ran (`--dump-dom`): the drift table's drifted rows come first, the
block page shows its typed fields and resources, the dashboard URL is visible text. On the drift's
changes artifact it asserts on the rendered page itself (benchmarks/browser_geometry.py): every
drifted item and each of its found and expected values is drawn whole inside the 1440 px window
and its screenshot, cut by no clipping box.

    .venv/bin/python benchmarks/ui_check.py --out ui-screenshots
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the repo's packages first
    sys.path.insert(0, str(ROOT))

from benchmarks.browser_geometry import Placement, visible_texts  # noqa: E402
from benchmarks.setup_critical_path import _drain, prefect_server  # noqa: E402
from benchmarks.ui_approval import (  # noqa: E402
    REVIEWER,
    Approval,
    WaitingSetup,
    approve_in_ui,
    check_approval,
)

CONFIG = ROOT / "examples" / "sandbox.yaml"
WINDOW = (1440, 1400)  # a laptop's width; tall, to show whole tables
#: Chromium runs the page's JavaScript for this much virtual time before the DOM is read.
BUDGET_MS = 20_000


def chromium() -> str | None:
    """Debian's chromium, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _Text(HTMLParser):
    """The visible text of a page: table rows as lists of cells, everything else as lines."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.rows: list[list[str]] = []
        self._skip = 0
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "svg"):
            self._skip += 1
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "svg"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.parts.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    text: str
    rows: list[list[str]]
    screenshot: Path


def render(browser: str, name: str, url: str, out: Path, *, height: int = WINDOW[1]) -> Page:
    """Screenshot the page and read its rendered DOM (two headless runs of the same URL)."""
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--no-first-run", "--disable-extensions", f"--window-size={WINDOW[0]},{height}",
              f"--virtual-time-budget={BUDGET_MS}"]  # fmt: skip
    shot = out / f"{name}.png"
    run = {"capture_output": True, "text": True, "timeout": 180, "check": True}
    subprocess.run([*common, f"--screenshot={shot}", url], **run)  # type: ignore[call-overload]
    dom = subprocess.run([*common, "--dump-dom", url], **run).stdout  # type: ignore[call-overload]
    (out / f"{name}.html").write_text(dom)
    parser = _Text()
    parser.feed(dom)
    return Page(name, url, parser.text, parser.rows, shot)


def _stack_world(work: Path, review: Callable[[str], None]) -> dict[str, Any]:
    """Setup, approved by `review` (given the waiting run's id), then tampering, then a drift
    check that finds it; the ids the pages need."""
    from core.spec import load_spec
    from flows.check_drift import check_drift
    from sandbox.world import World, WorldOptions
    from tests.tamper import delete_dashboard_record, weaken_ssl_policy

    spec = load_spec(CONFIG.read_text(), source=CONFIG.name)
    options = WorldOptions(acm_delay=1.0, alb_delay=1.0, dns_delay=0.5)
    with World(work / "world", options) as world:
        os.environ.update(world.env)
        os.environ.update(
            KFALB_POLL_INTERVAL_SECONDS="0.2",
            KFALB_POLL_MAX_INTERVAL_SECONDS="0.5",
            KFALB_APPROVAL_POLL_SECONDS="1",
        )
        waiting = WaitingSetup(spec)
        review(waiting.paused_run())
        setup = waiting.outcome()
        if not setup.is_completed():
            raise SystemExit(f"setup did not complete: {setup.message}")
        weaken_ssl_policy(world, spec.name)
        delete_dashboard_record(world, spec.subdomain)
        drift = check_drift(stack=spec.name, return_state=True)
        if not drift.is_failed():
            raise SystemExit(f"the drift check found no drift: {drift.type.value}")
        _drain()
    return {
        "stack": spec.name,
        "setup": setup.state_details.flow_run_id,
        "drift": drift.state_details.flow_run_id,
        "drifted": drifted_texts(drift),
    }


def drifted_texts(state: Any) -> list[str]:
    """What the drift's changes artifact must show whole: each drifted item, and each of its
    found and expected values (a list's items one by one: the page breaks lines between them)."""
    from core.errors import DriftDetected

    try:
        state.result()
    except DriftDetected as drift:
        document = drift.document or {}
    texts: list[str] = []
    for change in document.get("changes", []):
        if change["action"] == "keep":
            continue
        texts.append(f"{change['kind']} {change['key']}")
        for diff in change["differences"] if change["action"] == "update" else []:
            for value in (diff["found"] or "", diff["expected"] or ""):
                texts += [part for part in value.split(",") if part]
    return list(dict.fromkeys(texts))


def _ids(stack: str, runs: dict[str, Any]) -> dict[str, str]:
    """Artifact ids by key and run, and the stack's block document id, from the Prefect API."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from tasks.stack_block import BLOCK_TYPE_SLUG

    found: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        for what, run in (("drift", "drift"), ("drift-changes", "drift"), ("plan", "setup"),
                          ("summary", "setup"), ("dashboard", "setup"),
                          ("resources", "setup")):  # fmt: skip
            key = f"{stack}-{what}"
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
            mine = [a for a in artifacts if a.flow_run_id == runs[run]]
            if not mine:
                raise SystemExit(f"no artifact {key} from the {run} run")
            found[what] = str(mine[0].id)
        block = client.read_block_document_by_name(stack, BLOCK_TYPE_SLUG)
        found["block"] = str(block.id)
    return found


def check_placements(placements: list[Placement]) -> list[str]:
    """What of the drift's changes a reader of the screenshot would not see whole."""
    problems = []
    for placed in placements:
        if not placed.visible:
            where = ("not on the page" if not placed.found else
                     f"cut by {', '.join(placed.cut)}" if placed.cut else "outside the window")  # fmt: skip
            problems.append(
                f"the drift's changes page does not show {placed.text!r} whole: {where}"
            )
    return problems


def check_pages(pages: dict[str, Page], *, stack: str, url: str) -> list[str]:
    """What a reader would miss on the pages; empty when every check holds."""
    problems: list[str] = []

    def need(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    run = pages["drift-run"]
    need("drift-check" in run.text and "Failed" in run.text, "the drift run page shows no Failed")
    need(f"Stack {stack} drifted" in run.text, "the drift run's logs do not say what drifted")
    need("Traceback" not in run.text, "the drift run's logs show a traceback")

    drift = pages["drift-table"]
    header = next((row for row in drift.rows if row and row[0] == "status"), [])
    need(header[:4] == ["status", "item", "field", "found"], f"drift table header is {header}")
    statuses = [row[0] for row in drift.rows if row and row[0] in ("create", "update", "ok")]
    changed = [s for s in statuses if s != "ok"]
    need(len(changed) >= 2, f"drift table shows {len(changed)} drifted rows")
    need(statuses[: len(changed)] == changed, f"drifted rows are not first: {statuses}")
    need(any("ssl-policy" in " ".join(row) for row in drift.rows), "no ssl-policy row")
    need(any("ELBSecurityPolicy-2016-08" in row for row in drift.rows),
         "the weak TLS policy found is not in the table")  # fmt: skip

    block = pages["block"]
    for label in ("Phase", "AWS account", "EKS cluster ARN", "Dashboard URL", "Hosted zone",
                  "Certificates", "Subnet tags", "IAM role", "Load balancer"):  # fmt: skip
        need(label in block.text, f"the block page has no field {label!r}")
    need("ready" in block.text, "the block page shows no phase ready")
    need("123456789012" in block.text, "the block page shows no account")
    need(url in block.text, "the block page does not show the dashboard URL")
    need(": owned" in block.text, "the block page shows no owned resource")
    need('"kind"' not in block.text, "the block page shows raw JSON of the resources")
    need("ISSUED" in block.text, "the block page shows no certificate status")
    block2 = pages["block-v2"]
    need(url in block2.text and "Subnet tags" in block2.text, "the UI v2 block page lacks fields")
    need('"kind"' not in block2.text, "the UI v2 block page shows raw JSON of the resources")

    need(url in pages["dashboard"].text, "the dashboard link artifact hides the URL")
    need(url in pages["summary"].text, "the summary does not show the dashboard URL")
    for name in ("drift-table", "plan"):
        cut = [cell for row in pages[name].rows for cell in row if "://" in cell and "…" in cell]
        need(not cut, f"the {name} page links a shortened URL: {cut}")
    resources = pages["resources"]
    header = next((row for row in resources.rows if row and row[0] == "kind"), [])
    need(header[:3] == ["kind", "ownership", "status"],
         f"the resources table's short facts are not first: {header}")  # fmt: skip
    plan = pages["plan"]
    need(sum(1 for row in plan.rows if row and row[0] == "create") >= 10,
         "the plan table shows no items to create")  # fmt: skip
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "ui-screenshots")
    args = parser.parse_args(argv)
    browser = chromium()
    if browser is None:
        print("ui-check: Debian's chromium is not installed (apt-get install -y chromium)",
              file=sys.stderr)  # fmt: skip
        return 2
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kfalb-ui-") as scratch:
        work = Path(scratch)
        (work / "prefect").mkdir()
        with prefect_server(work / "prefect", ui=True) as api:
            os.environ.update(PREFECT_API_URL=api, PREFECT_HOME=str(work / "prefect"),
                              AWS_CONFIG_FILE=str(work / "aws-config"),
                              AWS_SHARED_CREDENTIALS_FILE=str(work / "aws-credentials"))  # fmt: skip
            ui = api.removesuffix("/api")
            approval = Approval()

            def review(run_id: str) -> None:
                nonlocal approval
                approval = approve_in_ui(browser, ui, run_id, out)

            runs = _stack_world(work, review)
            ids = _ids(runs["stack"], runs)
            pages = {
                "setup-run": render(browser, "setup-run", f"{ui}/runs/flow-run/{runs['setup']}", out),
                "drift-run": render(browser, "drift-run", f"{ui}/runs/flow-run/{runs['drift']}", out),
                "drift-table": render(browser, "drift-table", f"{ui}/artifacts/artifact/{ids['drift']}", out),
                "drift-changes": render(browser, "drift-changes", f"{ui}/artifacts/artifact/{ids['drift-changes']}", out),
                "plan": render(browser, "plan", f"{ui}/artifacts/artifact/{ids['plan']}", out),
                "summary": render(browser, "summary", f"{ui}/artifacts/artifact/{ids['summary']}", out),
                "dashboard": render(browser, "dashboard", f"{ui}/artifacts/artifact/{ids['dashboard']}", out, height=700),
                "resources": render(browser, "resources", f"{ui}/artifacts/artifact/{ids['resources']}", out),
                "block": render(browser, "block", f"{ui}/blocks/block/{ids['block']}", out, height=1800),
                "block-v2": render(browser, "block-v2", f"{ui}/v2/blocks/block/{ids['block']}", out, height=1800),
            }  # fmt: skip
            placements = visible_texts(
                browser, f"{ui}/artifacts/artifact/{ids['drift-changes']}", runs["drifted"],
                window=WINDOW, shot=out / "drift-changes-window.png",
            )  # fmt: skip
    from core.desired import dashboard_url
    from core.settings import get_settings
    from core.spec import load_spec

    spec = load_spec(CONFIG.read_text(), source=CONFIG.name)
    url = dashboard_url(spec, get_settings().https_port)
    problems = check_pages(pages, stack=runs["stack"], url=url) + check_placements(placements)
    problems += check_approval(approval)
    if f"{REVIEWER} approved the setup plan" not in pages["setup-run"].text:
        problems.append("the setup run's logs do not say who approved the plan")
    print(f"drift changes: {sum(p.visible for p in placements)} of {len(placements)} drifted "
          "items and values drawn whole in the 1440 px window")  # fmt: skip
    for page in pages.values():
        print(f"{page.name:12} {page.screenshot}  ({page.url})")
    for name, shot in approval.shots.items():
        print(f"{name:12} {shot}")
    print(f"screenshots and rendered DOMs in {out}")
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        print(f"ui-check: {len(pages)} pages rendered, every check holds")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

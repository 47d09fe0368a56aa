"""Where text lands on a rendered page: headless Chromium driven over the DevTools protocol.

`visible_texts(browser, url, texts)` opens the page in a window of the check's size, waits until
every text is on the page, and tells for each one whether the browser drew it whole inside the
window: its rectangles within the window's width and height, and not cut by an ancestor that
clips its overflow (a table cell with `overflow: hidden`, an ellipsis, a scrolled box). It also
saves the window as a screenshot: what is reported visible is what that picture shows.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from core.waiting import wait_until

#: For each text: the rectangles of its first occurrence, and whether each is whole in view.
_MEASURE = """
(texts) => texts.map((text) => {
  // The page's text nodes end to end, so a text split over several (a link, an escape) is found.
  const nodes = [], starts = [];
  let all = "";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    nodes.push(node); starts.push(all.length); all += node.data;
  }
  const at = all.indexOf(text);
  if (at < 0) return {text, found: false, lines: 0, outside: 0, cut: []};
  // The node an offset falls in; an end offset at a node's start belongs to the node before.
  const locate = (offset, end) => {
    let i = starts.length - 1;
    while (i > 0 && (starts[i] > offset || (end && starts[i] === offset))) i--;
    return [nodes[i], offset - starts[i]];
  };
  const range = document.createRange();
  range.setStart(...locate(at, false));
  range.setEnd(...locate(at + text.length, true));
  const rects = Array.from(range.getClientRects()).filter((r) => r.width > 0);
  const cut = [];
  let el = range.commonAncestorContainer;
  for (el = el.nodeType === 1 ? el : el.parentElement; el; el = el.parentElement) {
    const style = getComputedStyle(el);
    if (style.overflowX === "visible" && style.overflowY === "visible") continue;
    const box = el.getBoundingClientRect();
    for (const r of rects) {
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 ||
          r.bottom > box.bottom + 1) cut.push(el.tagName);
    }
  }
  const outside = rects.filter((r) => r.left < 0 || r.top < 0 ||
    r.right > window.innerWidth + 1 || r.bottom > window.innerHeight + 1).length;
  return {text, found: true, lines: rects.length, outside, cut};
})
"""


@dataclass(frozen=True)
class Placement:
    text: str
    found: bool
    lines: int  # how many line boxes it wraps over
    outside: int  # of those, how many reach outside the window
    cut: tuple[str, ...]  # elements that clip it

    @property
    def visible(self) -> bool:
        return self.found and self.lines > 0 and not self.outside and not self.cut


class _Page:
    """One DevTools websocket session with a page."""

    def __init__(self, socket_url: str) -> None:
        self._socket = connect(socket_url, max_size=64 * 2**20, open_timeout=60)
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        self._socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=120))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result") or {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)  # fmt: skip
        return result.get("result", {}).get("value")

    def close(self) -> None:
        self._socket.close()


def visible_texts(
    browser: str, url: str, texts: Sequence[str], *, window: tuple[int, int], shot: Path,
    wait: float = 60.0,
) -> list[Placement]:  # fmt: skip
    """Open `url`, wait (up to `wait` s) for every text to be rendered, then place each one."""
    # Chromium's helper processes may still write to the profile as it is removed.
    with tempfile.TemporaryDirectory(
        prefix="kfalb-chromium-", ignore_cleanup_errors=True
    ) as profile:
        process = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--disable-extensions", f"--window-size={window[0]},{window[1]}",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            page = _Page(_page_socket(Path(profile)))
            try:
                page.call("Page.enable")
                page.call("Page.navigate", url=url)
                wanted = json.dumps(list(texts))
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline and not page.evaluate(
                    f"{wanted}.every((t) => document.body && document.body.innerText.includes(t))"
                ):
                    time.sleep(0.5)
                time.sleep(1.0)  # the last layout after the text arrived
                placed = page.evaluate(f"({_MEASURE})({wanted})") or []
                image = page.call("Page.captureScreenshot", format="png")["data"]
                shot.write_bytes(base64.b64decode(image))
            finally:
                page.close()
        finally:
            os.killpg(process.pid, signal.SIGTERM)  # the browser and its helpers
            process.wait(timeout=30)
    return [Placement(p["text"], p["found"], p["lines"], p["outside"], tuple(p["cut"]))
            for p in placed]  # fmt: skip


def _page_socket(profile: Path) -> str:
    """The websocket of the browser's first page (the port is in DevToolsActivePort)."""
    active = profile / "DevToolsActivePort"

    def port() -> str:
        # Chromium creates the file, then writes it: an empty file is not ready yet.
        lines = active.read_text().splitlines() if active.exists() else []
        return lines[0] if lines else ""

    found = wait_until(port, bool, what=f"Chromium's {active}", timeout=60, interval=0.2)
    with urllib.request.urlopen(f"http://127.0.0.1:{found}/json/list", timeout=30) as answer:
        targets = json.loads(answer.read())
    page = next(t for t in targets if t.get("type") == "page")
    return str(page["webSocketDebuggerUrl"])

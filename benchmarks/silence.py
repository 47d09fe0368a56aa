"""Check: `kfalb setup` against a slow sandbox is never silent for long, and says what it waits for.

Starts `kfalb sandbox up --detach` with real-looking ACM and ALB delays in a scratch directory,
runs `kfalb setup` there as a user would (the sandbox's env file, a temporary Prefect server of
its own), stamps every line the command prints, and reports the longest silence and the progress
lines of each long wait. Exits 1 when a silence is longer than `--max-gap` seconds, or when a wait
the delays make long (ACM, the ALB) printed no line naming what it waits for; 2 when setup fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "sandbox.yaml"
#: The waits the sandbox's delays make long, and how their progress lines name what is awaited.
LONG_WAITS = {"acm": re.compile(r"certificate", re.I), "alb": re.compile(r"\bALB\b|load balancer")}
_STARTED = re.compile(r"Waiting for (?P<what>.+?) \(up to ")
_STILL = re.compile(r"Still waiting for (?P<what>.+?) \((?P<at>\d+)s of ")


@dataclass(frozen=True)
class Line:
    at: float  # seconds since the command started
    text: str


def _kfalb() -> str:
    return str(Path(sys.executable).parent / "kfalb")


def _env_file(path: Path) -> dict[str, str]:
    """The sandbox's env file (`export KEY=VALUE` lines) as a mapping."""
    found: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        words = shlex.split(raw)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, _, value = words[1].partition("=")
            found[key] = value
    return found


def run_stamped(command: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[int, list[Line]]:
    """Run a command; every line of its output (stdout and stderr) with when it came."""
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                               bufsize=1)  # fmt: skip
    lines: list[Line] = []
    assert process.stdout is not None

    def read() -> None:
        assert process.stdout is not None
        for text in process.stdout:
            line = Line(time.monotonic() - started, text.rstrip("\n"))
            lines.append(line)
            print(f"{line.at:7.1f}s  {line.text}", flush=True)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    code = process.wait()
    reader.join(timeout=10)
    lines.append(Line(time.monotonic() - started, "(exit)"))
    return code, lines


def longest_silence(lines: Sequence[Line]) -> tuple[float, Line | None, Line | None]:
    """The longest gap between two consecutive lines (the start counts as a line at 0 s)."""
    best, before, after = 0.0, None, None
    previous = Line(0.0, "(start)")
    for line in lines:
        if line.at - previous.at > best:
            best, before, after = line.at - previous.at, previous, line
        previous = line
    return best, before, after


def waits(lines: Sequence[Line]) -> dict[str, list[Line]]:
    """Each wait's lines (its start line, then its "still waiting" lines), by what it awaits."""
    found: dict[str, list[Line]] = {}
    for line in lines:
        match = _STARTED.search(line.text) or _STILL.search(line.text)
        if match:
            found.setdefault(match["what"], []).append(line)
    return found


def problems(lines: Sequence[Line], *, max_gap: float, long_waits: Sequence[str]) -> list[str]:
    """What makes the check fail: a long silence; a long wait with no progress line naming it."""
    found = []
    gap, before, after = longest_silence(lines)
    if gap > max_gap and before and after:
        found.append(f"silent for {gap:.1f}s (over {max_gap:g}s) between {before.text!r} and "
                     f"{after.text!r}")  # fmt: skip
    seen = waits(lines)
    for name in long_waits:
        pattern = LONG_WAITS[name]
        progress = [
            line
            for what, items in seen.items()
            if pattern.search(what)
            for line in items
            if _STILL.search(line.text)
        ]
        if not progress:
            found.append(f"the {name} wait printed no progress line naming what it waits for")
    return found


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acm-delay", type=float, default=90.0)
    parser.add_argument("--alb-delay", type=float, default=60.0)
    parser.add_argument("--dns-delay", type=float, default=1.0)
    parser.add_argument("--max-gap", type=float, default=35.0, help="longest silence allowed (s)")
    parser.add_argument("--config", type=Path, default=CONFIG)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="kfalb-silence-") as scratch:
        work = Path(scratch)
        base = {**os.environ, "PYTHONUNBUFFERED": "1", "PREFECT_HOME": str(work / "prefect"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}  # fmt: skip
        base.pop("PREFECT_API_URL", None)  # as a user would: setup starts its own server
        up = [_kfalb(), "sandbox", "up", "--detach", f"--acm-delay={args.acm_delay}",
              f"--alb-delay={args.alb_delay}", f"--dns-delay={args.dns_delay}"]  # fmt: skip
        subprocess.run(up, cwd=work, env=base, check=True, stdout=subprocess.DEVNULL)
        try:
            env = {**base, **_env_file(work / ".kfalb-sandbox" / "env")}
            code, lines = run_stamped([_kfalb(), "setup", "--config", str(args.config)],
                                      cwd=work, env=env)  # fmt: skip
        finally:
            # The local Prefect server setup started (kept across commands), then the sandbox.
            subprocess.run([_kfalb(), "server", "stop"], cwd=work, env=base, check=False,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            subprocess.run([_kfalb(), "sandbox", "down"], cwd=work, env=base, check=False,
                           stdout=subprocess.DEVNULL)  # fmt: skip
    gap, before, after = longest_silence(lines)
    print(f"\ndelays: ACM {args.acm_delay:g}s, ALB {args.alb_delay:g}s, DNS {args.dns_delay:g}s; "
          f"setup took {lines[-1].at:.1f}s, exit {code}")  # fmt: skip
    if before and after:
        print(f"longest silence {gap:.1f}s: after {before.at:.1f}s {before.text!r}, "
              f"until {after.at:.1f}s {after.text!r}")  # fmt: skip
    for what, items in waits(lines).items():
        if len(items) > 1:
            stamps = ", ".join(f"{line.at:.0f}s" for line in items)
            print(f"wait for {what}: {len(items)} lines at {stamps}")
    long_waits = [name for name, delay in (("acm", args.acm_delay), ("alb", args.alb_delay))
                  if delay >= 40]  # fmt: skip
    found = problems(lines, max_gap=args.max_gap, long_waits=long_waits)
    for problem in found:
        print(f"FAIL: {problem}")
    if code != 0:
        print(f"FAIL: setup exited {code}")
        return 2
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

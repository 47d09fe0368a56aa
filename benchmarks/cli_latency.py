"""Benchmark: how long each `kfalb` command takes to say its first line, and to finish.

Starts `kfalb sandbox up --detach` in a scratch directory with a fresh PREFECT_HOME, then runs
the commands a user runs, in order, as a user would (the sandbox's env file, no PREFECT_API_URL
unless --api-url is given): --version, --help, stacks, a wrong --stack, plan, setup, stacks,
drift, cleanup. For each it prints the time to the first line of output (stdout or stderr), the
total time and the exit code. Exits non-zero only when the sandbox does not start.
"""

from __future__ import annotations

import argparse
import os
import selectors
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "sandbox.yaml"
STACK = "platform-example-com"  # the stack of examples/sandbox.yaml

#: (label, arguments), in the order a user meets them.
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("--version", ("--version",)),
    ("--help", ("--help",)),
    ("stacks (none saved)", ("stacks",)),
    ("plan --stack nonexistent", ("plan", "--stack", "nonexistent")),
    ("drift --stack nonexistent", ("drift", "--stack", "nonexistent")),
    ("plan --config", ("plan", "--config", str(CONFIG))),
    ("setup --config", ("setup", "--config", str(CONFIG))),
    ("stacks", ("stacks",)),
    ("plan --stack nonexistent (again)", ("plan", "--stack", "nonexistent")),
    ("plan --stack", ("plan", "--stack", STACK)),
    ("drift --stack", ("drift", "--stack", STACK)),
    ("cleanup --stack", ("cleanup", "--stack", STACK)),
    ("cleanup --stack (gone)", ("cleanup", "--stack", STACK)),
)


@dataclass(frozen=True)
class Timing:
    label: str
    first_line: float | None  # seconds until the first byte of output; None: it printed nothing
    total: float
    code: int
    first_text: str


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


def timed(label: str, command: Sequence[str], *, cwd: Path, env: dict[str, str]) -> Timing:
    """Run a command; when its first output came and when it ended."""
    started = time.monotonic()
    process = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)  # fmt: skip
    assert process.stdout is not None
    assert process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    selector.register(process.stderr, selectors.EVENT_READ)
    first: float | None = None
    text = b""
    open_streams = 2
    while open_streams:
        for key, _ in selector.select():
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fileobj)
                open_streams -= 1
                continue
            if first is None:
                first = time.monotonic() - started
            if len(text) < 200:
                text += chunk
    code = process.wait()
    total = time.monotonic() - started
    shown = text.decode(errors="replace").strip().splitlines()[0][:70] if text.strip() else ""
    return Timing(label, first, total, code, shown)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", default=None, help="a running Prefect server to use instead")
    parser.add_argument("--only", default="", help="comma-separated labels to run (default all)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    only = {label.strip() for label in args.only.split(",") if label.strip()}
    with tempfile.TemporaryDirectory(prefix="kfalb-latency-") as scratch:
        work = Path(scratch)
        base = {**os.environ, "PYTHONUNBUFFERED": "1", "PREFECT_HOME": str(work / "prefect"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                "KFALB_YES": "1"}  # fmt: skip
        base.pop("PREFECT_API_URL", None)
        if args.api_url:
            base["PREFECT_API_URL"] = args.api_url
        subprocess.run([_kfalb(), "sandbox", "up", "--detach"], cwd=work, env=base, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        timings = []
        try:
            env = {**base, **_env_file(work / ".kfalb-sandbox" / "env")}
            for label, command in COMMANDS:
                if only and label not in only:
                    continue
                timing = timed(label, [_kfalb(), *command], cwd=work, env=env)
                timings.append(timing)
                print(_row(timing), flush=True)
        finally:
            # The command's own kept server (if this version has one), then the sandbox.
            subprocess.run([_kfalb(), "server", "stop"], cwd=work, env=base, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            subprocess.run([_kfalb(), "sandbox", "down"], cwd=work, env=base, check=False,
                           stdout=subprocess.DEVNULL)  # fmt: skip
    print(f"\n{'command':34} {'first line':>10} {'total':>8}  exit")
    for timing in timings:
        print(_row(timing))
    return 0


def _row(timing: Timing) -> str:
    first = f"{timing.first_line:9.1f}s" if timing.first_line is not None else "         -"
    return f"{timing.label:34} {first} {timing.total:7.1f}s  {timing.code}   {timing.first_text}"


if __name__ == "__main__":
    sys.exit(main())

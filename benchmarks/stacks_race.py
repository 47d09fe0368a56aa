"""Benchmark: two stacks racing on one cluster, round after round (issue 22's "Done when").

Each round starts two `kfalb setup` processes of two stacks on one sandbox cluster at once,
checks that both succeed with one controller whose webhook TLS verifies, then starts their two
`kfalb cleanup` processes at once and checks that the world equals its snapshot from before
either stack. It is the scenario test `tests/flows/test_stacks_race_sandbox.py` run with
KFALB_RACE_ROUNDS; this script then reads the runs' outputs and reports how often a run waited
for the other's hold of the cluster's lock, and the time per round.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/flows/test_stacks_race_sandbox.py"
_ROUND = re.compile(r"^round (\d+)/(\d+): ([\d.]+)s$", re.MULTILINE)
_WAITED = "Waiting for the lock of cluster"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds to run (default 20)")
    parser.add_argument(
        "--cleanup-during-setup",
        action="store_true",
        help="also run the test of a cleanup during another stack's setup (once)",
    )
    args = parser.parse_args(argv)
    selection = "two_setups" if not args.cleanup_during_setup else "two_setups or during"
    with tempfile.TemporaryDirectory(prefix="kfalb-race-") as base:
        env = {**os.environ, "KFALB_RACE_ROUNDS": str(args.rounds)}
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", TEST, "-k", selection, "-q", "-s",
             "-p", "no:randomly", "-p", "no:cacheprovider", "--basetemp", base],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.monotonic() - started
        logs = sorted(Path(base).rglob("*.log"))
        waits = sum(log.read_text().count(_WAITED) for log in logs)
        runs = len(logs)
    rounds = [float(seconds) for _, _, seconds in _ROUND.findall(done.stdout)]
    print(f"rounds completed   {len(rounds)}/{args.rounds}")
    if rounds:
        print(f"seconds per round  min {min(rounds):.1f}, max {max(rounds):.1f}, "
              f"mean {sum(rounds) / len(rounds):.1f}")  # fmt: skip
    print(f"kfalb runs         {runs}; waits for the other's hold of the cluster's lock: {waits}")
    print(f"wall time          {wall:.1f}s")
    if done.returncode != 0:
        print(done.stdout[-8000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())

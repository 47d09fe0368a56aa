"""The silence check's judgement (benchmarks/silence.py) on stamped output, no command run."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.silence import Line, longest_silence, problems, waits  # noqa: E402

ACM = "Waiting for ACM certificates *.a.example.com to be ISSUED (up to 45 min; ...)"
ACM_STILL = (
    "Still waiting for ACM certificates *.a.example.com to be ISSUED (20s of 2700s): PENDING"
)
ALB = "Waiting for load balancer arn:x to be active (up to 15 min; ...)"
ALB_STILL = "Still waiting for load balancer arn:x to be active (20s of 900s): provisioning"


def test_the_longest_gap_counts_from_the_start() -> None:
    lines = [Line(30.0, "first"), Line(40.0, "second"), Line(75.5, "third")]
    gap, before, after = longest_silence(lines)
    assert (gap, before, after) == (35.5, lines[1], lines[2])
    assert longest_silence([Line(36.0, "late")])[0] == 36.0


def test_a_chatty_run_with_named_waits_passes() -> None:
    lines = [Line(5, ACM), Line(25, ACM_STILL), Line(45, ALB), Line(65, ALB_STILL), Line(80, "ok")]
    assert problems(lines, max_gap=35, long_waits=["acm", "alb"]) == []
    assert [len(items) for items in waits(lines).values()] == [2, 2]


def test_a_long_silence_and_an_unnamed_wait_fail() -> None:
    lines = [Line(5, ACM), Line(25, ACM_STILL), Line(70, ALB), Line(80, "done")]
    found = problems(lines, max_gap=35, long_waits=["acm", "alb"])
    assert found[0].startswith("silent for 45.0s (over 35s) between ")
    assert found[1] == "the alb wait printed no progress line naming what it waits for"
    assert len(found) == 2

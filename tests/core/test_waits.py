"""The table of waits: each kind names its bound's setting, its cadence and what it awaits."""

from __future__ import annotations

from dataclasses import fields

import pytest

from core.settings import Settings
from core.waits import WAITS, Wait


def test_every_wait_is_bounded_by_a_setting_and_its_phrase_takes_names() -> None:
    settings = Settings()
    for entry in fields(WAITS):
        wait = getattr(WAITS, entry.name)
        assert wait.setting == "KFALB_" + wait.bound.upper()
        assert wait.timeout(settings) > 0
        slots = wait.phrase.count("{}")
        assert "{" not in wait.of(*["x"] * slots).what, entry.name


def test_what_is_awaited_names_the_resources() -> None:
    awaited = WAITS.acm_issued.of("*.platform.example.com")
    assert awaited.what == "ACM certificates *.platform.example.com to be ISSUED"
    assert awaited.wait.setting == "KFALB_ACM_TIMEOUT_SECONDS"
    through = WAITS.https_answer.of("kubeflow.example.com", note=" through 192.0.2.1")
    assert through.what == "https://kubeflow.example.com/ to answer through 192.0.2.1"


def test_cadence_is_the_backoff_unless_the_wait_declares_its_own() -> None:
    settings = Settings(poll_interval_seconds=5, poll_max_interval_seconds=10, lock_poll_seconds=2)
    assert WAITS.alb_active.cadence(settings) == (5.0, 10.0)
    assert WAITS.kinds_served.cadence(settings) == (1.0, 10.0)
    assert WAITS.lock.cadence(settings) == (2.0, 2.0)
    assert WAITS.lock.first_seen
    assert not WAITS.alb_active.first_seen


def test_a_bound_that_is_no_setting_is_refused_at_declaration() -> None:
    with pytest.raises(TypeError, match="alb_timeout is not a wait bound"):
        Wait("load balancer {} to be active", "alb_timeout")
    with pytest.raises(TypeError, match="https_port is not a wait bound"):
        Wait("x", "alb_timeout_seconds", poll="https_port")

"""Which Prefect API failures a fleet retries: the server busy or unreachable, never an answer
that says the request itself is wrong, nor the work's own errors."""

from __future__ import annotations

import httpx
import pytest
from prefect.exceptions import PrefectHTTPStatusError

from core.errors import DriftDetected
from tasks.prefect_api import is_prefect_api_transient, prefect_api_retry_delays


def _answer(code: int) -> PrefectHTTPStatusError:
    request = httpx.Request("POST", "http://127.0.0.1:4200/api/flow_runs/")
    response = httpx.Response(code, request=request, text="no")
    return PrefectHTTPStatusError.from_httpx_error(
        httpx.HTTPStatusError("no", request=request, response=response)
    )


@pytest.mark.parametrize("code", [408, 429, 500, 502, 503, 504])
def test_busy_or_failing_server_answers_are_retried(code: int) -> None:
    assert is_prefect_api_transient(_answer(code))


@pytest.mark.parametrize("code", [400, 404, 409, 422])
def test_answers_about_the_request_are_not(code: int) -> None:
    assert not is_prefect_api_transient(_answer(code))


def test_timeouts_lost_connections_and_their_wrappers_are_retried() -> None:
    assert is_prefect_api_transient(httpx.ReadTimeout("slow"))
    assert is_prefect_api_transient(httpx.ConnectError("refused"))
    wrapped = RuntimeError("creating the flow run failed")
    wrapped.__cause__ = httpx.ReadTimeout("slow")
    assert is_prefect_api_transient(wrapped)


def test_the_works_own_errors_are_not() -> None:
    assert not is_prefect_api_transient(DriftDetected("drifted", items=("a",)))
    assert not is_prefect_api_transient(ValueError("bad"))
    assert not is_prefect_api_transient(None)


def test_delays_follow_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFALB_PREFECT_API_RETRY_SECONDS", "0.5")
    assert prefect_api_retry_delays() == [0.5, 2.5, 7.5]

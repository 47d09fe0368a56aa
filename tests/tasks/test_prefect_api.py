"""Which Prefect API failures a fleet retries: the server busy or unreachable, never an answer
that says the request itself is wrong, nor the work's own errors."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import BlockDocumentUpdate
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

from core.errors import DriftDetected
from tasks.prefect_api import (
    BUSY_RETRY_DELAYS,
    busy_tolerant,
    is_prefect_api_transient,
    prefect_api_retry_delays,
)


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


class _BusyServer(http.server.ThreadingHTTPServer):
    """A Prefect API stand-in answering each PATCH with the next of `answers`."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = answers
        self.seen: list[tuple[str, str, object]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PATCH(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                server.seen.append((self.path, self.headers["Authorization"],
                                    json.loads(self.rfile.read(length))))  # fmt: skip
                self.send_response(server.answers.pop(0))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802 (only the client's CSRF token: none here)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def busy_server() -> Iterator[Callable[[list[int]], tuple[_BusyServer, SyncPrefectClient]]]:
    servers: list[_BusyServer] = []

    def start(answers: list[int]) -> tuple[_BusyServer, SyncPrefectClient]:
        server = _BusyServer(answers)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api = f"http://127.0.0.1:{server.server_address[1]}/api"
        return server, SyncPrefectClient(api, auth_string="user:secret")

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_busy_server_is_tried_again_soon_under_prefects_own_client(
    busy_server: Callable[[list[int]], tuple[_BusyServer, SyncPrefectClient]],
) -> None:
    server, client = busy_server([503, 503, 204])
    slept: list[float] = []
    busy_tolerant(client, sleep=slept.append)
    document = UUID(int=1)
    client.update_block_document(document, BlockDocumentUpdate(data={"a": 1}))  # no error
    assert slept == list(BUSY_RETRY_DELAYS[:2])  # 50 ms, then 100 ms: not Prefect's 2 s, 4 s
    assert len(server.seen) == 3
    path, authorization, body = server.seen[-1]
    assert path == f"/api/block_documents/{document}"  # the client's base URL
    assert authorization.startswith("Basic ")  # and its credentials
    assert body == server.seen[0][2]
    assert isinstance(body, dict)
    assert body["data"] == {"a": 1}


def test_any_other_answer_goes_up_at_once(
    busy_server: Callable[[list[int]], tuple[_BusyServer, SyncPrefectClient]],
) -> None:
    server, client = busy_server([404])
    slept: list[float] = []
    busy_tolerant(client, sleep=slept.append)
    with pytest.raises(ObjectNotFound):
        client.update_block_document(UUID(int=1), BlockDocumentUpdate(data={}))
    assert len(server.seen) == 1
    assert slept == []


def test_a_long_busy_spell_is_left_to_prefects_retries(
    busy_server: Callable[[list[int]], tuple[_BusyServer, SyncPrefectClient]],
) -> None:
    server, client = busy_server([503] * (len(BUSY_RETRY_DELAYS) + 1))
    slept: list[float] = []
    busy_tolerant(busy_tolerant(client, sleep=slept.append))  # once per client
    http = client._client
    # Under Prefect's retry layer (which would now wait its 2 s): the answer it is handed.
    answer = httpx.Client.send(http, http.build_request("PATCH", "/block_documents/1", json={}))
    assert answer.status_code == 503
    assert len(server.seen) == len(BUSY_RETRY_DELAYS) + 1
    assert slept == list(BUSY_RETRY_DELAYS)

"""A real Prefect server, its CLI and a process worker, as subprocesses of their own (end-to-end test)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RETRIED = {429, 502, 503}
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
#: The environment of the test process must not leak into the server, CLI or worker: the
#: in-process test harness other tests use, a sandbox world's endpoints, AWS credentials.
_NOT_INHERITED = ("PREFECT_", "KFALB_", "AWS_")


def prefect(*args: str) -> list[str]:
    """The command line of the Prefect CLI, never prompting."""
    return [str(BIN / "prefect"), "--no-prompt", *args]


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process we started, with the children it started in its own session."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class PrefectApi:
    """The few REST endpoints of the Prefect server the test reads and writes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)

    def get(self, path: str) -> Any:
        return self._send("GET", path, None)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        return self._send("POST", path, body)

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None) -> Any:
        # SQLite under load answers 503 ("database is locked"); Prefect's own client retries it.
        for attempt in range(6):
            response = self.http.request(method, path, json=body)
            if response.status_code not in RETRIED or attempt == 5:
                break
            time.sleep(0.5 * 2**attempt)
        response.raise_for_status()
        return response.json()

    def deployment(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/deployments/name/{name}")
        return result

    def run_deployment(self, name: str, **parameters: Any) -> str:
        """Create a flow run of a deployment (parameters merged over the deployment's)."""
        deployment = self.deployment(name)
        run = self.post(
            f"/deployments/{deployment['id']}/create_flow_run", {"parameters": parameters}
        )
        return str(run["id"])

    def wait_for_run(self, run_id: str, *, timeout: float = 240.0) -> dict[str, Any]:
        """Poll a flow run until it reaches a terminal state; the run as the API returns it."""
        deadline = time.monotonic() + timeout
        while True:
            run: dict[str, Any] = self.get(f"/flow_runs/{run_id}")
            if run["state_type"] in TERMINAL:
                return run
            if time.monotonic() > deadline:
                pytest.fail(f"flow run {run['name']} still {run['state_type']} after {timeout}s")
            time.sleep(0.5)

    def wait_for_state(self, run_id: str, name: str, *, timeout: float = 240.0) -> dict[str, Any]:
        """Poll a flow run until its state is called `name` (e.g. "Suspended"); fail if it ends
        in another state first, or after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            run: dict[str, Any] = self.get(f"/flow_runs/{run_id}")
            if run["state_name"] == name:
                return run
            if run["state_type"] in TERMINAL or time.monotonic() > deadline:
                pytest.fail(
                    f"flow run {run['name']} is {run['state_name']}, not {name}: "
                    f"{run['state'].get('message')}\n--- run logs\n{self.logs(run_id)}"
                )
            time.sleep(0.5)

    def run_input(self, run_id: str) -> dict[str, Any]:
        """What a run waiting for input shows in its form (the UI reads the same): the
        description and the schema, by the keys its paused state names."""
        run = self.get(f"/flow_runs/{run_id}")
        keyset = run["state"]["state_details"]["run_input_keyset"]
        # Prefect (3.9) proposes the Suspended state first and saves the form's inputs after it:
        # a reader that sees the state may find no input yet for a moment.
        deadline = time.monotonic() + 60.0
        while True:
            try:
                return {
                    part: self.get(f"/flow_runs/{run_id}/input/{keyset[part]}")
                    for part in ("description", "schema")
                }
            except httpx.HTTPStatusError as error:
                if error.response.status_code != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(0.5)

    def resume(self, run_id: str, run_input: Mapping[str, Any]) -> dict[str, Any]:
        """Answer a run's form as the UI's Resume form does: POST /flow_runs/{id}/resume."""
        result: dict[str, Any] = self.post(f"/flow_runs/{run_id}/resume", {"run_input": run_input})
        return result

    def logs(self, run_id: str) -> str:
        """The run's log lines, for assertion messages."""
        found = self.post(
            "/logs/filter",
            {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC", "limit": 200},
        )
        return "\n".join(f"{line['level']:>3} {line['message']}" for line in found)

    def artifacts(self, run_id: str) -> dict[str, dict[str, Any]]:
        found = self.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})
        return {item["key"]: item for item in found if item.get("key")}

    def block_documents(self, block_type_slug: str) -> dict[str, dict[str, Any]]:
        found = self.post(
            "/block_documents/filter",
            {"block_types": {"slug": {"any_": [block_type_slug]}}, "include_secrets": False},
        )
        return {item["name"]: item for item in found}

    def events(self, name: str) -> list[dict[str, Any]]:
        found = self.post("/events/filter", {"filter": {"event": {"name": [name]}}, "limit": 50})
        events: list[dict[str, Any]] = found["events"]
        return events


class PrefectStack:
    """`prefect server start` (SQLite in a temporary PREFECT_HOME), its CLI and a process worker.

    Everything runs as subprocesses with an environment of their own, so the test process's
    Prefect settings (the in-process harness of the other tests) are neither used nor changed.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        port = _free_port()
        self.api = PrefectApi(f"http://127.0.0.1:{port}/api")
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
        inherited.pop("KUBECONFIG", None)
        self.env = {
            **inherited,
            "PREFECT_HOME": str(directory / "prefect-home"),
            "PREFECT_API_URL": self.api.url,
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_UI_ENABLED": "false",
            # Runs are only created by the test: no hourly drift check may start in the middle.
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "0.5",
            "PREFECT_CLI_WRAP_LINES": "false",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *, timeout: float = 120.0) -> None:
        server = self._spawn("server", [str(BIN / "prefect"), "server", "start"], self.env)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.api.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prefect server did not start:\n{self.log_tail('server')}")
            time.sleep(0.3)

    def cli(self, *args: str, check: bool = True) -> str:
        """Run `prefect <args>` in the project root; its output (or, with check, fail with it)."""
        return self.together([prefect(*args)], check=check)[0]

    def together(
        self,
        commands: Sequence[Sequence[str]],
        *,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> list[str]:
        """Run commands at once in the project root; their outputs, or fail with the failures."""
        started = [
            subprocess.Popen(
                list(command),
                cwd=REPO,
                # `{{ $PWD }}` in prefect.yaml is read from the environment, not from the cwd.
                env={**self.env, "PWD": str(REPO), **(env or {})},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for command in commands
        ]
        outputs, failures = [], []
        for command, process in zip(commands, started, strict=True):
            try:
                output, _ = process.communicate(timeout=180)
            except subprocess.TimeoutExpired:
                process.kill()
                output, _ = process.communicate()
            outputs.append(output)
            if process.returncode != 0:
                failures.append(f"{' '.join(command)[:200]} exited {process.returncode}:\n{output}")
        if failures and check:
            pytest.fail("\n".join(failures))
        return outputs

    def start_worker(
        self, pool: str, env: Mapping[str, str], *, limit: int | None = None, name: str = "e2e"
    ) -> None:
        """A process worker polling `pool` every second, started from the project root; with
        `limit`, it runs at most that many flow-run processes at once (its slots). Its log is
        `worker.log` (`worker-<name>.log` for another name)."""
        worker_env = {**self.env, **env, "PREFECT_WORKER_QUERY_SECONDS": "1"}
        command = [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--name", name]
        if limit is not None:
            command += ["--limit", str(limit)]
        self._spawn("worker" if name == "e2e" else f"worker-{name}", command, worker_env)

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.directory / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        for process in reversed(self.processes):
            _stop(process)
        self.api.http.close()

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.directory / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

"""The Prefect API of kfalb's commands: the server the user chose (PREFECT_API_URL, or the active
Prefect profile), else a local server kfalb starts on first use and keeps for the next commands.

The local server is `prefect server start` on 127.0.0.1 (a free port, its UI included), on the
database of PREFECT_HOME (~/.prefect by default) where Prefect's temporary server keeps it too, so
stacks saved before are still there. It runs in a session of its own, so the terminal's Ctrl-C
never reaches it (Prefect's temporary server shares the command's process group and died first,
leaving the command hanging). Its pid and port are kept in PREFECT_HOME/kfalb-server.json and its
output in kfalb-server.log beside it; `kfalb server status|start|stop` show and manage it.
Prefect's analytics are off for it unless PREFECT_SERVER_ANALYTICS_ENABLED says otherwise.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.errors import KfalbError, WaitTimeout
from core.settings import get_settings
from core.waiting import Progress, wait_until

STATE_FILE = "kfalb-server.json"
LOG_FILE = "kfalb-server.log"
_LOCK_FILE = "kfalb-server.lock"
_TIMEOUT_SETTING = "KFALB_SERVER_START_TIMEOUT_SECONDS"
#: Requests to 127.0.0.1 never go through a proxy of the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

Report = Callable[[str], None]


class ServerError(KfalbError):
    """The local Prefect server did not start, or the chosen one does not answer."""


@dataclass(frozen=True)
class LocalServer:
    """The local server kfalb keeps: its process (leader of its own session) and port."""

    pid: int
    port: int
    started: str

    @property
    def ui(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui}/api"


def prefect_home() -> Path:
    """Prefect's home directory (PREFECT_HOME): this process's Prefect settings once loaded."""
    if "prefect.context" in sys.modules:
        from prefect.settings import get_current_settings

        return Path(get_current_settings().home)
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


def configured_api_url() -> str | None:
    """The API of a server the user chose: PREFECT_API_URL in the environment or in the active
    Prefect profile (or this process's Prefect settings, once loaded); None: none chosen."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    if "prefect.context" in sys.modules:
        from prefect.settings import get_current_settings

        url = get_current_settings().api.url
        return str(url) if url else None
    return _profile_api_url()


def _profile_api_url() -> str | None:
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or prefect_home() / "profiles.toml")
    try:
        profiles = tomllib.loads(path.expanduser().read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    url = (profiles.get("profiles") or {}).get(active, {}).get("PREFECT_API_URL")
    return str(url) if url else None


def running() -> LocalServer | None:
    """The local server of this PREFECT_HOME when it runs and answers."""
    server = _read_state(prefect_home())
    if server is None or not _is_ours(server) or not answers(server.api_url):
        return None
    return server


def answers(api_url: str, *, timeout: float = 2.0) -> bool:
    """True when a Prefect API answers its health check."""
    try:
        with _DIRECT.open(f"{api_url.rstrip('/')}/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def ensure_running(report: Report) -> LocalServer:
    """The local server, started now (and waited for) when it does not run yet. Commands that
    start at once share one start (a lock file beside the state file)."""
    home = prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    with _locked(home):
        found = running()
        if found is not None:
            return found
        return _start(home, report)


@contextmanager
def prefect_api(report: Report) -> Iterator[str]:
    """Run the body against the chosen server, or the local one (started if need be).

    PREFECT_API_URL is set for the rest of the process: in the environment, and in Prefect's
    root settings when Prefect was imported already (a context-local override would not reach
    the threads Prefect's task runner makes, whose clients would start a temporary server).
    """
    chosen = configured_api_url()
    if chosen:  # Prefect reads it already (environment, profile or its loaded settings)
        yield chosen
        return
    url = ensure_running(report).api_url
    os.environ["PREFECT_API_URL"] = url
    if "prefect.context" in sys.modules:
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()
    yield url


def stop() -> str:
    """Stop the local server of this PREFECT_HOME; what was done, as a sentence."""
    home = prefect_home()
    with _locked(home):
        server = _read_state(home)
        (home / STATE_FILE).unlink(missing_ok=True)
        if server is None or not _is_ours(server):
            return f"No local Prefect server runs for PREFECT_HOME={home}."
        _terminate(server.pid)
    return f"Stopped the local Prefect server at {server.ui} (pid {server.pid})."


def status() -> str:
    """Which server kfalb's commands use, as a sentence."""
    chosen = configured_api_url()
    if chosen:
        return f"kfalb uses the Prefect server at {chosen} (PREFECT_API_URL)."
    server = running()
    home = prefect_home()
    if server is None:
        return (
            f"No local Prefect server runs for PREFECT_HOME={home}; the next command that runs "
            "a flow starts one (or `kfalb server start`)."
        )
    return (
        f"Local Prefect server at {server.ui} (UI and API; pid {server.pid}, since "
        f"{server.started}); database and log in {home}. `kfalb server stop` stops it."
    )


def _start(home: Path, report: Report) -> LocalServer:
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry, no ERROR offline
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    with (home / LOG_FILE).open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            close_fds=True,
            start_new_session=True,
        )
    server = LocalServer(pid=process.pid, port=port, started=_now())
    (home / STATE_FILE).write_text(json.dumps(asdict(server)) + "\n")
    report(
        f"Starting a local Prefect server at {server.ui} for this and later kfalb commands "
        "(`kfalb server stop` stops it)"
    )
    settings = get_settings()
    progress = Progress(
        report=lambda line: report(f"    … {line}"),
        interval=settings.progress_interval_seconds,
        setting=_TIMEOUT_SETTING,
    )
    try:
        wait_until(
            lambda: process.poll() is not None or answers(server.api_url, timeout=1.0),
            bool,
            what="the local Prefect server to answer",
            timeout=settings.server_start_timeout_seconds,
            interval=0.2,
            max_interval=1.0,
            progress=progress,
            describe=lambda _: "not answering yet",
        )
    except WaitTimeout as timeout:
        _terminate(process.pid)
        (home / STATE_FILE).unlink(missing_ok=True)
        raise ServerError(f"{timeout.message}. Its log: {home / LOG_FILE}") from None
    if process.poll() is not None:
        (home / STATE_FILE).unlink(missing_ok=True)
        raise ServerError(
            f"The local Prefect server exited with code {process.returncode} while starting: "
            f"{_tail(home / LOG_FILE)} (full log: {home / LOG_FILE})"
        )
    return server


def _read_state(home: Path) -> LocalServer | None:
    try:
        data = json.loads((home / STATE_FILE).read_text())
        return LocalServer(
            pid=int(data["pid"]), port=int(data["port"]), started=str(data["started"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_ours(server: LocalServer) -> bool:
    """The recorded process still runs and is that server (not a process that reused the pid)."""
    try:
        command = Path(f"/proc/{server.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        done = subprocess.run(
            ["ps", "-o", "command=", "-p", str(server.pid)],
            check=False,
            capture_output=True,
            text=True,
        )
        command = done.stdout
    return "prefect" in command and "server" in command and f"--port {server.port}" in command


def _terminate(pid: int) -> None:
    """SIGTERM to the server's process group (its session), SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        try:
            wait_until(
                lambda: _gone(pid),
                bool,
                what=f"the local Prefect server (pid {pid}) to stop",
                timeout=grace,
                interval=0.1,
                max_interval=0.5,
            )
            return
        except WaitTimeout:
            continue


def _gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reaped when this command started it (our child)
    except ChildProcessError:
        pass
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    with (home / _LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

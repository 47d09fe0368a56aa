"""A webhook server for the admission tests: HTTPS with a sandbox CA, answers chosen per test."""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sandbox.ca import SandboxCA

Answer = Callable[[dict[str, Any]], dict[str, Any]]
SERVICE_NAMES = ["hook.kube-system.svc", "hook.kube-system.svc.cluster.local"]


def allow(request: dict[str, Any]) -> dict[str, Any]:
    return {"allowed": True}


def patch_answer(operations: list[dict[str, Any]]) -> Answer:
    encoded = base64.b64encode(json.dumps(operations).encode()).decode()
    return lambda request: {"allowed": True, "patchType": "JSONPatch", "patch": encoded}


class HookServer:
    """Answers AdmissionReviews at any path with ``answers[path]`` (default: allow).

    ``hold`` (an Event) keeps every answer back until set, to model a webhook that hangs.
    """

    def __init__(self, *, names: list[str] | None = None) -> None:
        self.ca = SandboxCA()
        self.answers: dict[str, Answer] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.hold: threading.Event | None = None
        cert, key = self.ca.issue(names or SERVICE_NAMES)
        self._dir = tempfile.TemporaryDirectory(prefix="kfalb-test-hook-")
        Path(self._dir.name, "tls.crt").write_text(cert)
        Path(self._dir.name, "tls.key").write_text(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(Path(self._dir.name, "tls.crt"), Path(self._dir.name, "tls.key"))
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                path = self.path.split("?", 1)[0]
                owner.requests.append((self.path, review))
                if owner.hold is not None:
                    owner.hold.wait(10)
                answer = owner.answers.get(path, allow)(review["request"])
                body = json.dumps(
                    {
                        "apiVersion": review["apiVersion"],
                        "kind": "AdmissionReview",
                        "response": {"uid": review["request"]["uid"], **answer},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a caller that gave up (the timeout test) is expected

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.socket = context.wrap_socket(
            self._httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        self.address = ("127.0.0.1", int(self._httpd.server_address[1]))
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca.cert_pem.encode()).decode()

    def paths(self) -> list[str]:
        return [path.split("?", 1)[0] for path, _ in self.requests]

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._dir.cleanup()

"""A tiny control endpoint of the running sandbox (127.0.0.1 only), so another process can edit
the root domain's zone at its external DNS provider, as a person would at a registrar."""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.external_dns import ExternalDns

#: File in the sandbox's directory holding the endpoint's URL.
CONTROL_FILE = "control-url"


class ControlServer:
    """Serves `/dns/records`: GET lists, POST {name, type, values, ttl} upserts, DELETE
    ?name=&type= removes. Answers 409 when the root domain is in Route53 (no external DNS)."""

    def __init__(self, external_dns: ExternalDns | None) -> None:
        self.external_dns = external_dns
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, directory: Path) -> ControlServer:
        """Listen on a free port and write its URL to `<directory>/control-url`."""
        control = self

        class Handler(_Handler):
            owner = control

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        (directory / CONTROL_FILE).write_text(self.url + "\n")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    owner: ControlServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the sandbox's log is for the world, not for each control request

    def do_GET(self) -> None:
        dns = self._dns()
        if dns is not None:
            records = [
                {"name": r.name, "type": r.type, "ttl": r.ttl, "values": list(r.values)}
                for r in dns.records()
            ]
            self._answer(HTTPStatus.OK, {"zone": dns.domain, "records": records})

    def do_POST(self) -> None:
        dns = self._dns()
        if dns is None:
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            dns.add_record(
                body["name"], body["type"], body["values"], ttl=int(body.get("ttl", 300))
            )
        except (KeyError, TypeError, ValueError) as error:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        self._answer(HTTPStatus.OK, {"zone": dns.domain})

    def do_DELETE(self) -> None:
        dns = self._dns()
        if dns is None:
            return
        query = parse_qs(urlsplit(self.path).query)
        try:
            dns.remove_record(query["name"][0], query["type"][0])
        except (KeyError, IndexError, ValueError) as error:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        self._answer(HTTPStatus.OK, {"zone": dns.domain})

    def _dns(self) -> ExternalDns | None:
        if urlsplit(self.path).path != "/dns/records":
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}"})
            return None
        if self.owner.external_dns is None:
            self._answer(
                HTTPStatus.CONFLICT,
                {"error": "the root domain is in Route53 here; start the sandbox with "
                 "--no-root-in-route53 to have an external DNS provider"},
            )  # fmt: skip
            return None
        return self.owner.external_dns

    def _answer(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

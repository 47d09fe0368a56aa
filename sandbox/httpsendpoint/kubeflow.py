"""What Kubeflow behind the ALB answers: Istio health, oauth2-proxy's redirect, Dex's login page."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

from sandbox.httpsendpoint.routes import RouteTable, normal_host

logger = logging.getLogger(__name__)

DEX_AUTH_PATH = (
    "/dex/auth?client_id=kubeflow-oidc-authservice&redirect_uri=%2Foauth2%2Fcallback"
    "&response_type=code&scope=openid+profile+email+groups&state=sandbox"
)
_LOGIN_PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>dex</title></head>
<body><div class="theme-panel"><h2 class="theme-heading">Log in to Your Account</h2>
<form method="post" action="/dex/auth/local/login?back=&amp;state=sandbox">
<input type="text" id="login" name="login" placeholder="email address" autofocus>
<input type="password" id="password" name="password" placeholder="password">
<button type="submit" id="submit-login">Login</button></form></div></body></html>
"""


@dataclass(frozen=True)
class ServedRequest:
    """One request the endpoint answered (for assertions in scenario tests)."""

    server_name: str | None  # the TLS SNI name; None on the plain HTTP listener
    host: str
    method: str
    path: str
    status: int
    alb: str | None = None  # the ALB whose own address was asked (None: the shared one)


class HandlerHost(Protocol):
    """What the handlers need from the server that runs them."""

    routes: RouteTable
    https_port: int

    def record(self, request: ServedRequest) -> None: ...

    def server_name_of(self, connection: Any) -> str | None: ...

    def unhealthy(self) -> bool: ...

    @property
    def alb(self) -> str | None: ...


class KubeflowHandler(BaseHTTPRequestHandler):
    """The ALB's HTTPS listener forwarding to the Istio ingress gateway of Kubeflow."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if self.host.unhealthy():  # what an ALB answers with no healthy target
            self.reply(503, b"503 Service Temporarily Unavailable\n", "text/html")
        elif path == "/healthz/ready":
            self.reply(200, b"ok\n", "text/plain")
        elif path == "/dex/auth":
            self.reply(200, _LOGIN_PAGE, "text/html; charset=utf-8")
        elif path.startswith("/dex/"):
            self.reply(404, b"404 page not found\n", "text/plain")
        else:
            # Nobody is logged in: oauth2-proxy sends every page to Dex.
            self.reply(302, b"", "text/html", location=DEX_AUTH_PATH)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    @property
    def host(self) -> HandlerHost:
        return cast(HandlerHost, self.server)

    def request_host(self) -> str:
        return normal_host((self.headers.get("Host") or "").rsplit(":", 1)[0])

    def reply(self, status: int, body: bytes, content_type: str, location: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        server_name = self.host.server_name_of(self.connection)
        served = ServedRequest(server_name, self.request_host(), self.command, self.path, status,
                               alb=self.host.alb)  # fmt: skip
        self.host.record(served)

    def version_string(self) -> str:
        return "istio-envoy"  # what the Istio gateway behind a real ALB calls itself

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox https: " + format, *args)


class RedirectHandler(KubeflowHandler):
    """The ALB's plain HTTP listener: a permanent redirect to HTTPS for the hosts it serves."""

    def do_GET(self) -> None:
        host = self.request_host()
        if not host or self.host.routes.route(host) is None:
            self.reply(404, b"no load balancer answers for this host\n", "text/plain")
            return
        self.reply(
            301, b"", "text/html", location=f"https://{host}:{self.host.https_port}{self.path}"
        )

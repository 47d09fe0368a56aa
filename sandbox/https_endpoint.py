"""An HTTPS server standing in for the ALB in front of the Kubeflow dashboard (SNI, sandbox CA)."""

from __future__ import annotations

import collections
import logging
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from sandbox.ca import SandboxCA
from sandbox.httpsendpoint.addresses import AlbAddresses
from sandbox.httpsendpoint.kubeflow import (
    DEX_AUTH_PATH,
    KubeflowHandler,
    RedirectHandler,
    ServedRequest,
)
from sandbox.httpsendpoint.moto_albs import MotoAlbExists, MotoAlbRoutes
from sandbox.httpsendpoint.routes import CertificateNames, RouteTable, StaticRouteTable, normal_host

__all__ = [
    "DEX_AUTH_PATH",
    "AlbAddresses",
    "CertificateNames",
    "HttpsEndpoint",
    "MotoAlbExists",
    "MotoAlbRoutes",
    "RouteTable",
    "ServedRequest",
    "StaticRouteTable",
]

logger = logging.getLogger(__name__)

_CONNECTION_TIMEOUT = 10.0
_SNI_ATTRIBUTE = "sandbox_server_name"  # set on the TLS socket by the SNI callback


class _Server(ThreadingHTTPServer):
    """One listener; TLS handshakes run in the connection's thread, not the accept loop."""

    daemon_threads = True

    def __init__(
        self,
        endpoint: HttpsEndpoint,
        handler: type[KubeflowHandler],
        *,
        tls: bool,
        port: int,
        host: str | None = None,
        alb: str | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._handler = handler
        self._tls = tls
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.routes = endpoint.routes
        #: The ALB whose own address this listener serves (None: the shared address).
        self.alb = alb
        super().__init__((host or endpoint.host, port), handler)

    @property
    def https_port(self) -> int:
        return self._endpoint.port

    def server_bind(self) -> None:
        # Skip the reverse DNS look-up HTTPServer.server_bind makes for server_name.
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(_CONNECTION_TIMEOUT)
        conn = request
        if self._tls:
            try:
                conn = self._endpoint.tls_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as error:
                logger.debug("TLS handshake from %s failed: %s", client_address, error)
                return
        with self._open_lock:
            self._open.add(conn)
        try:
            self._handler(conn, client_address, self)
        except OSError as error:
            logger.debug("connection from %s ended: %s", client_address, error)
        finally:
            with self._open_lock:
                self._open.discard(conn)
            conn.close()

    def record(self, request: ServedRequest) -> None:
        self._endpoint.requests.append(request)
        for listener in list(self._endpoint.listeners):
            listener(request)

    def unhealthy(self) -> bool:
        """This ALB has no healthy target (it answers 503)."""
        return self.alb is not None and self.alb in self._endpoint.unhealthy

    def server_name_of(self, connection: Any) -> str | None:
        return getattr(connection, _SNI_ATTRIBUTE, None)

    def close_connections(self) -> None:
        """Wake handlers blocked on idle keep-alive connections so their threads end."""
        with self._open_lock:
            for conn in list(self._open):
                try:
                    socket.socket.shutdown(conn, socket.SHUT_RDWR)
                except OSError:
                    pass


class HttpsEndpoint:
    """The ALB's HTTPS listener (and optionally its HTTP listener) on one local port.

    During the TLS handshake the SNI server name is looked up in ``routes``: a routed name gets
    a certificate issued by ``ca`` for exactly the names the route returns (the ACM
    certificate's domain and SANs), so clients see whether that certificate covers the name
    they asked for; an unrouted name, or no SNI at all, fails the handshake with an
    ``unrecognized_name`` alert (no ALB exists to answer it).

    Args:
        ca: signs the certificates presented.
        routes: server name -> certificate names, consulted on every handshake.
        host: address to listen on.
        port: HTTPS port; 0 picks a free one.
        http_port: also listen for plain HTTP (a 301 to HTTPS) when not None; 0 picks a port.
    """

    def __init__(
        self,
        ca: SandboxCA,
        routes: RouteTable,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        http_port: int | None = None,
        addresses: AlbAddresses | None = None,
    ) -> None:
        self.ca = ca
        self.routes = routes
        self.host = host
        #: Each ALB's own address (served on demand); None: every ALB on `host`.
        self.addresses = addresses
        #: ALBs (DNS names) with no healthy target: they answer 503 on their own address.
        self.unhealthy: set[str] = set()
        #: Called with every request served (scenario tests follow a check through them).
        self.listeners: list[Callable[[ServedRequest], None]] = []
        self._port = port
        self._http_port = http_port
        self.requests: collections.deque[ServedRequest] = collections.deque(maxlen=1000)
        self._contexts: dict[frozenset[str], ssl.SSLContext] = {}
        self._contexts_lock = threading.Lock()
        self._certs_dir: tempfile.TemporaryDirectory[str] | None = None
        self._servers: list[_Server] = []
        self._extra: list[_Server] = []  # the ALBs' own addresses
        self._threads: list[threading.Thread] = []
        self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls_context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.tls_context.sni_callback = self._on_server_name

    def start(self) -> HttpsEndpoint:
        if self._servers:
            return self
        self._certs_dir = tempfile.TemporaryDirectory(prefix="kfalb-https-")
        self._servers.append(_Server(self, KubeflowHandler, tls=True, port=self._port))
        if self._http_port is not None:
            self._servers.append(_Server(self, RedirectHandler, tls=False, port=self._http_port))
        for server in self._servers:
            self._run(server)
        if self.addresses is not None:
            self.addresses.attach(self.serve_at)
        logger.info("sandbox HTTPS endpoint on %s:%d", self.host, self.port)
        return self

    def serve_at(self, address: str, alb: str) -> bool:
        """Answer HTTPS for one ALB on its own address, same port; False when this host
        cannot (only 127.0.0.1 on its loopback, or the port taken there)."""
        try:
            server = _Server(self, KubeflowHandler, tls=True, port=self.port, host=address,
                             alb=alb)  # fmt: skip
        except OSError as error:
            logger.info("cannot serve HTTPS on %s:%d: %s", address, self.port, error)
            return False
        self._extra.append(server)
        self._run(server)
        return True

    def _run(self, server: _Server) -> None:
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-https",
            daemon=True,
        )
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        for server in [*self._servers, *self._extra]:
            server.shutdown()
            server.close_connections()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._extra.clear()
        self._threads.clear()
        if self._certs_dir is not None:
            self._certs_dir.cleanup()
            self._certs_dir = None

    def __enter__(self) -> HttpsEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The HTTPS port (what ``https://name:PORT/`` uses instead of 443)."""
        if not self._servers:
            raise RuntimeError("the HTTPS endpoint is not started")
        return int(self._servers[0].server_address[1])

    @property
    def http_port(self) -> int | None:
        if len(self._servers) < 2:
            return None
        return int(self._servers[1].server_address[1])

    def _on_server_name(
        self, sock: ssl.SSLSocket | ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext
    ) -> int | None:
        if not server_name:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        try:
            names = self._route(sock, normal_host(server_name))
            context = self._context_for(names) if names else None
        except Exception:
            logger.exception("routing %s failed", server_name)
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        if context is None:
            logger.debug("no load balancer for %s: handshake refused", server_name)
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        sock.context = context
        setattr(sock, _SNI_ATTRIBUTE, normal_host(server_name))
        return None

    def _route(self, sock: ssl.SSLSocket | ssl.SSLObject, host: str) -> CertificateNames | None:
        """On an ALB's own address, that ALB's certificates, whatever DNS says of the host;
        on the shared address, those of the ALB the host leads to."""
        local = sock.getsockname()[0] if isinstance(sock, ssl.SSLSocket) else None
        alb = self.addresses.name_at(local) if self.addresses and local else None
        route_at = getattr(self.routes, "route_at", None)
        if alb is not None and route_at is not None:
            return cast(CertificateNames | None, route_at(alb, host))
        return self.routes.route(host)

    def _context_for(self, names: CertificateNames) -> ssl.SSLContext:
        ordered = list(
            dict.fromkeys(normal_host(n) for n in names)
        )  # the first name becomes the CN
        key = frozenset(ordered)
        with self._contexts_lock:
            context = self._contexts.get(key)
            if context is None:
                context = self._new_context(ordered)
                self._contexts[key] = context
            return context

    def _new_context(self, names: list[str]) -> ssl.SSLContext:
        assert self._certs_dir is not None
        stem = f"cert-{len(self._contexts)}"
        cert_path, key_path = self.ca.issue_files(Path(self._certs_dir.name), stem, names)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_path, key_path)
        return context

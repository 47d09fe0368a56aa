"""The HTTP layer: request parsing, authentication, routing, JSON responses and watch streams."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import discovery
from .api import ResourceApi
from .auth import TokenAuthenticator
from .authz import ADMIN, Authorizer, Identity, attributes_of
from .errors import ApiError, PlainTextError, page_not_found, path_not_found, unauthorized
from .routing import Request, Response, WatchStream, parse_body, parse_route
from .store import ObjectStore
from .validation import warnings

log = logging.getLogger(__name__)

_PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})


class ApiHTTPServer(ThreadingHTTPServer):
    """A threading server that knows its open connections, so that stop() can end them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        store: ObjectStore,
        authenticator: TokenAuthenticator,
    ) -> None:
        super().__init__(address, ApiRequestHandler)
        self.authorizer = Authorizer(store)
        self.store = store
        self.api = ResourceApi(store)
        self.authenticator = authenticator
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log instead of printing: clients that hang up or reject our certificate are routine."""
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Shut every open connection (idle keep-alives and watches) so their threads end."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ApiRequestHandler(BaseHTTPRequestHandler):
    """Serves one connection; every response is JSON (or a chunked watch stream)."""

    protocol_version = "HTTP/1.1"
    server: ApiHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # delayed ACKs add 40 ms to every response on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        self.server.track(self.connection, add=False)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # --- request ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        """Read the whole body, always: an unread body corrupts the next request on the connection."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self, method: str) -> None:
        body = self._read_body()
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"  # the Python client asks for "/version/"
        with warnings.collecting() as self._warnings:
            self._serve_collecting(method, body, url.query, path)

    def _serve_collecting(self, method: str, body: bytes, raw_query: str, path: str) -> None:
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        try:
            identity = self.server.authenticator.identify(self.headers.get("Authorization"))
            if path not in _PUBLIC_PATHS and identity is None:
                raise unauthorized()
            self._identity: Identity = identity or ADMIN
            result = self._route(method, path, query, body)
        except PlainTextError as exc:
            self._send_text(exc.code, exc.message + "\n")
            return
        except ApiError as exc:
            self._send_json(exc.code, exc.status())
            return
        except Exception:
            log.exception("internal error serving %s %s", method, self.path)
            error = ApiError(
                500, "InternalError", "an internal error occurred in the sandbox API server"
            )
            self._send_json(500, error.status())
            return
        if isinstance(result, WatchStream):
            self._stream(result)
        else:
            self._send_json(result.code, result.body, result.content_type)

    def _route(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> Response | WatchStream:
        registry = self.server.store.registry
        parts = [p for p in path.split("/") if p]
        if path in ("/healthz", "/livez", "/readyz"):
            return Response(200, {"status": "ok"})
        if (
            method == "GET"
            and parts in (["api"], ["apis"])
            and discovery.wants_aggregated(self.headers.get("Accept") or "")
        ):
            listing = discovery.aggregated_discovery(registry, core=parts == ["api"])
            return Response(200, listing, discovery.AGGREGATED_MEDIA)
        if method == "GET":
            document = self._document(parts, path)
            if document is not None:
                return Response(200, document)
        route = parse_route(registry, parts)
        if route is None:
            if not _group_version_served(registry, parts):
                raise page_not_found()  # e.g. a CR before its CRD is Established
            raise path_not_found()
        if route.rtype.kind == "SelfSubjectAccessReview":
            if method != "POST":
                raise ApiError(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                )
            content_type = self.headers.get("Content-Type") or "application/json"
            review = parse_body(Request(method, route, query, content_type, body, ""))
            return Response(201, self.server.authorizer.review(self._identity, review))
        self.server.authorizer.check(self._identity, attributes_of(method, route, query))
        request = Request(
            method=method,
            route=route,
            query=query,
            content_type=self.headers.get("Content-Type") or "application/json",
            body=body,
            user_agent=self.headers.get("User-Agent") or "",
            accept=self.headers.get("Accept") or "application/json",
        )
        return self.server.api.handle(request)

    def _document(self, parts: list[str], path: str) -> dict[str, Any] | None:
        """Discovery, version and OpenAPI documents; None for other paths."""
        registry = self.server.store.registry
        if path == "/version":
            return discovery.version_info()
        if parts == ["api"]:
            host, port = self.server.server_address[:2]
            return discovery.core_versions(f"{host!s}:{port}")
        if len(parts) == 2 and parts[0] == "api":
            return discovery.resource_list(registry, "", parts[1]) or _raise_not_found()
        if parts == ["apis"]:
            return discovery.api_group_list(registry)
        if len(parts) == 2 and parts[0] == "apis":
            return discovery.api_group(registry, parts[1]) or _raise_not_found()
        if len(parts) == 3 and parts[0] == "apis":
            return discovery.resource_list(registry, parts[1], parts[2]) or _raise_not_found()
        if parts[:2] == ["openapi", "v3"]:
            if len(parts) == 2:
                return discovery.openapi_index(registry)
            rest = parts[2:]
            if rest[0] == "api" and len(rest) == 2:
                return discovery.openapi_gv_document(registry, "", rest[1]) or _raise_not_found()
            if rest[0] == "apis" and len(rest) == 3:
                return (
                    discovery.openapi_gv_document(registry, rest[1], rest[2]) or _raise_not_found()
                )
            _raise_not_found()
        if parts[:1] == ["openapi"]:
            _raise_not_found()
        return None

    # --- response --------------------------------------------------------------------------

    def _send_json(
        self, code: int, body: dict[str, Any], content_type: str = "application/json"
    ) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-cache, private")
            for text in getattr(self, "_warnings", ()):
                self.send_header("Warning", warnings.header_value(text))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _send_text(self, code: int, text: str) -> None:
        data = text.encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _stream(self, watch: WatchStream) -> None:
        """Stream watch events as JSON lines until the timeout, a close, or server stop."""
        store, watcher = self.server.store, watch.watcher
        deadline = time.monotonic() + watch.timeout
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache, private")
            self.end_headers()
            self.wfile.flush()
            while not self.server.stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                event = watcher.next(min(remaining, 0.5))
                if event is None:
                    if watcher.closed:
                        break
                    continue
                obj = event.object
                if event.type in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
                    obj = {**obj, "apiVersion": watch.rtype.api_version}
                if watch.render is not None and event.type in ("ADDED", "MODIFIED", "DELETED"):
                    obj = watch.render(obj)
                line = json.dumps({"type": event.type, "object": obj}, separators=(",", ":"))
                self._write_chunk(line.encode() + b"\n")
            self._write_chunk(b"")
        except OSError:
            self.close_connection = True  # the client went away
        finally:
            store.stop_watch(watcher)


def _raise_not_found() -> dict[str, Any]:
    raise page_not_found()


def _group_version_served(registry: Any, parts: list[str]) -> bool:
    """Whether the path's group and version are served at all (else the mux's plain 404)."""
    if len(parts) >= 2 and parts[0] == "api":
        return parts[1] in registry.group_versions().get("", [])
    if len(parts) >= 3 and parts[0] == "apis":
        return parts[2] in registry.group_versions().get(parts[1], [])
    return False

"""KubeApiServer: the Kubernetes API stand-in, started and stopped as one object."""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .auth import TokenAuthenticator
from .authz import Identity
from .controllers import ControllerManager
from .gc import GarbageCollector
from .handler import ApiHTTPServer
from .kubeconfig import write_kubeconfig
from .store import ObjectStore

log = logging.getLogger(__name__)


class KubeApiServer:
    """A Kubernetes API server on 127.0.0.1 that kubectl and the Python client accept.

    Example::

        server = KubeApiServer()
        server.start()
        server.write_kubeconfig(tmp_path / "kubeconfig")
        ...
        server.stop()
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] = ("sandbox-token",),
        accept_eks_tokens: bool = True,
        tls: ssl.SSLContext | None = None,
        deployment_ready_delay: float = 0.5,
        run_controllers: bool = True,
        allow_anonymous: bool | None = None,
        enforce_webhooks: bool = True,
        gc_delay: float = 0.1,
        crd_established_delay: float = 0.2,
        access_entries: Mapping[str, tuple[str, Sequence[str]]] | None = None,
    ) -> None:
        """Configure the server; ``start()`` binds it.

        Args:
            tokens: static bearer tokens accepted.
            accept_eks_tokens: also accept well-formed, unexpired ``k8s-aws-v1.`` tokens.
            tls: serve HTTPS with this context (see :func:`server_tls_context`).
            deployment_ready_delay: seconds before a created or changed Deployment is ready.
            run_controllers: start with the built-in controllers on (``controllers.set_enabled``).
            allow_anonymous: accept requests without credentials; by default only over plain
                HTTP, where kubectl (client-go) never sends a bearer token.
            enforce_webhooks: refuse writes that a matching admission webhook without ready
                endpoints would fail (``failurePolicy: Fail``), as a real cluster does.
            gc_delay: seconds before the garbage collector and namespace controller act on a
                delete (dependents, Foreground / Orphan finalizers, Terminating namespaces).
            crd_established_delay: seconds before a new CRD is Established and its kinds are
                served (before that they answer ``404 page not found``).
            access_entries: token -> (user, groups) for identities whose rights RBAC decides,
                like EKS access entries; the other tokens are cluster admins.
        """
        self.host = host
        self.port = port
        self.tls = tls
        self.store = ObjectStore()
        self.store.enforce_webhooks = enforce_webhooks
        self.store.crd_established_delay = crd_established_delay
        self.authenticator = TokenAuthenticator(
            tokens,
            accept_eks_tokens=accept_eks_tokens,
            allow_anonymous=tls is None if allow_anonymous is None else allow_anonymous,
            access_entries={
                token: Identity(user, (*groups, "system:authenticated"))
                for token, (user, groups) in (access_entries or {}).items()
            },
        )
        self.controllers = ControllerManager(
            self.store, deployment_ready_delay=deployment_ready_delay
        )
        self.controllers.enabled = run_controllers
        self.gc = GarbageCollector(self.store, delay=gc_delay)
        self._httpd: ApiHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> KubeApiServer:
        if self._httpd is not None:
            return self
        httpd = ApiHTTPServer(
            (self.host, self.port), store=self.store, authenticator=self.authenticator
        )
        if self.tls is not None:
            # The handshake runs in the connection's thread, not in the accept loop.
            httpd.socket = self.tls.wrap_socket(
                httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits for one poll
            name="sandbox-kube-api",
            daemon=True,
        )
        self._thread.start()
        self.controllers.start()
        self.gc.start()
        log.info("sandbox Kubernetes API serving on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving: end watches and open connections, then the controller thread."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        self.store.close_all_watches()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.controllers.stop()
        self.gc.stop()

    def __enter__(self) -> KubeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_kubeconfig(
        self,
        path: str | os.PathLike[str],
        *,
        token: str = "sandbox-token",
        ca_pem: bytes | None = None,
        context: str = "sandbox",
    ) -> Path:
        """Write a kubeconfig for this server (pass ``ca_pem`` when serving TLS)."""
        return write_kubeconfig(path, self.url, token=token, ca_pem=ca_pem, context=context)


def server_tls_context(
    cert_path: str | os.PathLike[str], key_path: str | os.PathLike[str]
) -> ssl.SSLContext:
    """A server-side TLS context from PEM files, for ``KubeApiServer(tls=...)``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_path), str(key_path))
    return context

"""The ALB controller's admission webhooks, served as the real controller (v2.x, v3.x) serves them.

Port 9443 of the controller's pods answers HTTPS with the serving certificate of the Secret
``kube-system/aws-load-balancer-webhook-tls`` (the one the flow generates), at the paths the
bundled webhook configurations name. It answers only while the controller Deployment is ready,
and the sandbox can hold it back (``answering=False``, or ``answer_after`` seconds of readiness)
to show the gap between a ready Deployment and a serving webhook, where real API servers fail
Ingress writes with ``failed calling webhook "vingress.elbv2.k8s.aws"``.

The reviews are pure functions of the request: they read nothing from the cluster, so a call
made while the API server holds its store lock can never wait on it.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
DEPLOYMENT = "aws-load-balancer-controller"
SECRET = "aws-load-balancer-webhook-tls"
PORT = 9443

Review = dict[str, Any]


def _allowed(patch: list[dict[str, Any]] | None = None) -> Review:
    response: Review = {"allowed": True}
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    return response


def _denied(message: str) -> Review:
    return {"allowed": False, "status": {"code": 403, "reason": "Forbidden", "message": message}}


def validate_ingress(request: Review) -> Review:
    """vingress: the stand-in models no IngressGroup or IngressClassParams rule; it admits."""
    return _allowed()


def mutate_pod(request: Review) -> Review:
    """mpod: readiness gates go on pods behind TargetGroupBindings; the sandbox runs no pods."""
    return _allowed()


def mutate_target_group_binding(request: Review) -> Review:
    """mtargetgroupbinding: defaults ``spec.ipAddressType`` as the target group's (ipv4 here)."""
    spec = (request.get("object") or {}).get("spec") or {}
    if spec.get("ipAddressType"):
        return _allowed()
    return _allowed([{"op": "add", "path": "/spec/ipAddressType", "value": "ipv4"}])


def validate_target_group_binding(request: Review) -> Review:
    """vtargetgroupbinding: the target group and target type of a binding cannot change."""
    if request.get("operation") != "UPDATE":
        return _allowed()
    new = (request.get("object") or {}).get("spec") or {}
    old = (request.get("oldObject") or {}).get("spec") or {}
    changed = [
        f"spec.{name}"
        for name in ("targetGroupARN", "targetType")
        if new.get(name) != old.get(name)
    ]
    if changed:
        return _denied(
            f"TargetGroupBinding update may not change these fields: {','.join(changed)}"
        )
    return _allowed()


def validate_ingress_class_params(request: Review) -> Review:
    """vingressclassparams: admits (the stand-in checks no IngressClassParams fields)."""
    return _allowed()


#: Paths as the controller registers them (see deployments/aws-load-balancer-controller/webhooks.yaml).
REVIEWS: dict[str, Callable[[Review], Review]] = {
    "/validate-networking-v1-ingress": validate_ingress,
    "/mutate-v1-pod": mutate_pod,
    "/mutate-elbv2-k8s-aws-v1beta1-targetgroupbinding": mutate_target_group_binding,
    "/validate-elbv2-k8s-aws-v1beta1-targetgroupbinding": validate_target_group_binding,
    "/validate-elbv2-k8s-aws-v1beta1-ingressclassparams": validate_ingress_class_params,
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _WebhookHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("webhook %s " + format, self.address_string(), *args)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        review_fn = REVIEWS.get(self.path.split("?", 1)[0])
        if review_fn is None:
            self._send(404, b"404 page not found\n", "text/plain")
            return
        try:
            review = json.loads(body)
            request = review["request"]
            response = {"uid": request["uid"], **review_fn(request)}
        except (ValueError, KeyError, TypeError) as error:
            self._send(400, f"bad AdmissionReview: {error}\n".encode(), "text/plain")
            return
        self.server.reviewed.append((self.path.split("?", 1)[0], request.get("operation", "")))
        self.server.review_versions.append(str(review.get("apiVersion")))
        answer = {
            "apiVersion": review.get("apiVersion"),
            "kind": "AdmissionReview",
            "response": response,
        }
        self._send(200, json.dumps(answer).encode(), "application/json")

    def _send(self, code: int, data: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _WebhookHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    reviewed: list[tuple[str, str]]
    review_versions: list[str]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log instead of printing: an API server refusing the webhook's certificate (a test of
        exactly that) or hanging up is routine, as it is to the real controller's server."""
        log.debug("webhook connection from %s ended with an error", client_address, exc_info=True)


class AlbWebhookServer:
    """The controller pods' port 9443, following the Deployment and the TLS Secret in a store.

    ``attach(store)`` makes the API server's pod network dial it for the controller's pods and
    keeps it in step with the store (listening once the Deployment is ready and the Secret holds
    a certificate, re-reading a renewed certificate).
    """

    def __init__(self, *, answering: bool = True, answer_after: float = 0.0) -> None:
        self.answering = answering
        self.answer_after = answer_after
        #: Connections still to refuse before answering (see ``set_answering``).
        self.refuse = 0
        #: How many connections were refused because the webhook was held back.
        self.refused = 0
        #: (path, operation) of every review answered, oldest first.
        self.reviewed: list[tuple[str, str]] = []
        #: The AdmissionReview apiVersion of each review answered (v2.x lists v1beta1, v3.4+ v1).
        self.review_versions: list[str] = []
        self._ready_since: float | None = None
        self._tls: tuple[str, str, str] | None = None  # ca, cert, key as in the Secret
        self._httpd: _WebhookHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="kfalb-alb-webhook-")
        self._lock = threading.Lock()

    # -- the sandbox's knobs ------------------------------------------------------------------

    def set_answering(
        self, answering: bool, *, after: float | None = None, refuse: int = 0
    ) -> None:
        """Answer (or not); ``after``: only once the controller has been ready that long;
        ``refuse``: refuse the next that many connections first (a race shown without timing)."""
        with self._lock:
            self.answering = answering
            self.refuse = refuse
            if after is not None:
                self.answer_after = after

    # -- following the store --------------------------------------------------------------------

    def attach(self, store: Any) -> AlbWebhookServer:
        """Serve the controller's pods in ``store``'s pod network and follow its objects."""
        store.network.serve(
            namespace=NAMESPACE, workload=DEPLOYMENT, port=PORT, address=self.address
        )
        store.subscribe(self._observe)
        for api_version, kind, name in (
            ("apps/v1", "Deployment", DEPLOYMENT),
            ("v1", "Secret", SECRET),
        ):
            found = store.find(api_version, kind, name, NAMESPACE)
            if found is not None:
                self._observe("ADDED", store.resource_type(api_version, kind), found)
        return self

    def _observe(self, event: str, rtype: Any, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        if meta.get("namespace") != NAMESPACE or rtype.group not in ("apps", ""):
            return
        gone = event == "DELETED"
        if rtype.kind == "Deployment" and meta.get("name") == DEPLOYMENT:
            ready = not gone and bool((obj.get("status") or {}).get("readyReplicas"))
            with self._lock:
                if not ready:
                    self._ready_since = None
                elif self._ready_since is None:
                    self._ready_since = time.monotonic()
        elif rtype.kind == "Secret" and meta.get("name") == SECRET:
            data = {} if gone else obj.get("data") or {}
            material = tuple(str(data.get(k, "")) for k in ("ca.crt", "tls.crt", "tls.key"))
            with self._lock:
                self._tls = material if all(material) else None  # type: ignore[assignment]

    # -- what the pod network dials --------------------------------------------------------------

    def address(self) -> tuple[str, int] | None:
        """The local listener while the webhook answers; None (connection refused) otherwise."""
        with self._lock:
            ready_for = None if self._ready_since is None else time.monotonic() - self._ready_since
            if self._tls is None or ready_for is None:
                self._close()
                return None
            if not self.answering or ready_for < self.answer_after or self.refuse > 0:
                self.refuse = max(0, self.refuse - 1)
                self.refused += 1
                return None
            return self._listen(self._tls)

    def _listen(self, tls: tuple[str, str, str]) -> tuple[str, int]:
        if self._httpd is not None and getattr(self._httpd, "tls", None) == tls:
            host, port = self._httpd.server_address[:2]
            return str(host), int(port)
        self._close()
        directory = Path(self._dir.name)
        (directory / "tls.crt").write_bytes(base64.b64decode(tls[1]))
        (directory / "tls.key").write_bytes(base64.b64decode(tls[2]))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
        httpd = _WebhookHTTPServer(("127.0.0.1", 0), _Handler)
        # The handshake runs in the connection's thread, not in the accept loop.
        httpd.socket = context.wrap_socket(
            httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        httpd.reviewed = self.reviewed
        httpd.review_versions = self.review_versions
        httpd.tls = tls  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="alb-webhook",
            daemon=True,
        )
        self._thread.start()
        log.info("ALB controller stand-in: webhooks serving on %s", httpd.server_address)
        host, port = httpd.server_address[:2]
        return str(host), int(port)

    def _close(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()

    def stop(self) -> None:
        with self._lock:
            self._close()
        self._dir.cleanup()

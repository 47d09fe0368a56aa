"""Calling one admission webhook as kube-apiserver does: resolve, dial, verify TLS, review.

The Service of a webhook is resolved to one ready endpoint (its Endpoints object, as the real
server's service resolver does), the endpoint to a local socket through the sandbox's pod
network, and the call is an HTTPS POST of an ``AdmissionReview`` verified against the
configuration's ``caBundle`` for the Service's DNS name. Failures carry the real server's text
(``dial tcp ...: connect: connection refused``, ``context deadline exceeded``, ``x509: ...``).
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from .podnetwork import Address, PodNetwork
from .resources import ResourceType
from .storebase import Object

#: AdmissionReview versions the stand-in speaks, in the real server's order of preference.
REVIEW_VERSIONS = ("v1", "v1beta1")
_OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}
#: The identity requests reach webhooks with (the stand-in has one admin user).
ADMIN_USER = {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}


class CallFailed(Exception):
    """The webhook could not be called or answered badly; ``detail`` follows the webhook's name."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Verdict:
    """A webhook's answer: allowed or not, its ``status`` and (mutating only) a JSON patch."""

    allowed: bool
    status: dict[str, Any] = field(default_factory=dict)
    patch: list[Any] | None = None


@dataclass(frozen=True)
class Target:
    """Where a call goes: the URL as the real server prints it, the address it dials."""

    url: str
    host: str  # the name the certificate must carry
    dial: str  # "ip:port" as printed in dial errors
    address: Address | None  # the local listener, None when nothing listens


def review_version(hook: dict[str, Any]) -> str:
    """The AdmissionReview version sent: the first of the hook's list that the server speaks."""
    for version in hook.get("admissionReviewVersions") or []:
        if version in REVIEW_VERSIONS:
            return str(version)
    return "v1"


def review_request(
    *,
    uid: str,
    rtype: ResourceType,
    operation: str,
    subresource: str,
    obj: Object | None,
    old: Object | None,
    dry_run: bool,
) -> dict[str, Any]:
    """The ``request`` of an AdmissionReview for one write."""
    meta = (obj or old or {}).get("metadata") or {}
    kind = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
    resource = {"group": rtype.group, "version": rtype.version, "resource": rtype.plural}
    request: dict[str, Any] = {
        "uid": uid,
        "kind": kind,
        "resource": resource,
        "requestKind": kind,
        "requestResource": resource,
        "name": meta.get("name", ""),
        "operation": operation,
        "userInfo": ADMIN_USER,
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": _OPTIONS_KIND.get(operation, "")},
    }
    if subresource:
        request["subResource"] = subresource
        request["requestSubResource"] = subresource
    if rtype.namespaced:
        request["namespace"] = meta.get("namespace", "")
    return request


def resolve(
    hook: dict[str, Any],
    *,
    service: Object | None,
    endpoints: Object | None,
    network: PodNetwork,
) -> Target:
    """Where the hook's clientConfig points; CallFailed when the Service cannot be resolved."""
    config = hook.get("clientConfig") or {}
    timeout = f"?timeout={hook.get('timeoutSeconds', 10)}s"
    if "url" in config:
        parsed = urlsplit(str(config["url"]))
        host, port = parsed.hostname or "", parsed.port or 443
        return Target(f"{config['url']}{timeout}", host, f"{host}:{port}", (host, port))
    ref = config.get("service") or {}
    name, namespace = ref.get("name", ""), ref.get("namespace", "")
    port = int(ref.get("port", 443))
    host = f"{name}.{namespace}.svc"
    url = f"https://{host}:{port}{ref.get('path', '/')}{timeout}"
    if service is None:
        raise CallFailed(f'failed to call webhook: Post "{url}": service "{name}" not found')
    svc_port = next(
        (p for p in (service.get("spec") or {}).get("ports") or [] if p.get("port") == port),
        None,
    )
    if svc_port is None:
        raise CallFailed(
            f'failed to call webhook: Post "{url}": no service port {port} found for service "{name}"'
        )
    for subset in (endpoints or {}).get("subsets") or []:
        ports = [p for p in subset.get("ports") or [] if p.get("name") == svc_port.get("name")]
        if not ports and len(subset.get("ports") or []) == 1:
            ports = subset["ports"]  # an unnamed single port
        addresses = subset.get("addresses") or []
        if ports and addresses:
            ip, target_port = str(addresses[0].get("ip")), int(ports[0].get("port"))
            local = network.dial(ip, target_port, addresses[0].get("targetRef"))
            return Target(url, host, f"{ip}:{target_port}", local)
    raise CallFailed(
        f'failed to call webhook: Post "{url}": no endpoints available for service "{name}"'
    )


def call(hook: dict[str, Any], target: Target, review: dict[str, Any]) -> Verdict:
    """POST the review to the target; CallFailed with the real text when that does not work."""
    seconds = float(hook.get("timeoutSeconds", 10))
    failed = f'failed to call webhook: Post "{target.url}": '
    if target.address is None:
        raise CallFailed(f"{failed}dial tcp {target.dial}: connect: connection refused")
    context = _client_context(hook)
    path = "/" + target.url.split("/", 3)[3] if target.url.count("/") >= 3 else "/"
    body = json.dumps(review).encode()
    try:
        raw = socket.create_connection(target.address, timeout=seconds)
    except ConnectionRefusedError:
        raise CallFailed(f"{failed}dial tcp {target.dial}: connect: connection refused") from None
    except TimeoutError:
        raise CallFailed(f"{failed}context deadline exceeded") from None
    try:
        try:
            tls = context.wrap_socket(raw, server_hostname=target.host)
        except ssl.SSLCertVerificationError as error:
            raise CallFailed(
                f"{failed}tls: failed to verify certificate: {_x509(error, target, hook)}"
            ) from None
        connection = http.client.HTTPSConnection(target.host, timeout=seconds)
        connection.sock = tls
        connection.request(
            "POST", path, body, {"Content-Type": "application/json", "Accept": "application/json"}
        )
        response = connection.getresponse()
        data = response.read()
    except TimeoutError:
        raise CallFailed(f"{failed}context deadline exceeded") from None
    except (OSError, http.client.HTTPException) as error:
        raise CallFailed(f"{failed}{error}") from None
    finally:
        raw.close()
    if response.status != 200:
        raise CallFailed(
            f"failed to call webhook: the server responded with the status code {response.status} "
            "but did not return more information"
        )
    return parse_response(data, uid=review["request"]["uid"], version=review["apiVersion"])


def parse_response(data: bytes, *, uid: str, version: str) -> Verdict:
    """The verdict of an AdmissionReview answer, checked as the real server checks it."""
    invalid = "received invalid webhook response: "
    try:
        review = json.loads(data)
    except ValueError as error:
        raise CallFailed(f"{invalid}{error}") from None
    if not isinstance(review, dict) or review.get("kind") != "AdmissionReview":
        raise CallFailed(f"{invalid}expected webhook response of {version}, Kind=AdmissionReview")
    response = review.get("response")
    if not isinstance(response, dict):
        raise CallFailed(f"{invalid}webhook response was absent")
    if version == "admission.k8s.io/v1":
        if review.get("apiVersion") != version:
            raise CallFailed(
                f"{invalid}expected webhook response of {version}, Kind=AdmissionReview, "
                f"got {review.get('apiVersion')}, Kind=AdmissionReview"
            )
        if response.get("uid") != uid:
            raise CallFailed(
                f'{invalid}expected response.uid="{uid}", got "{response.get("uid", "")}"'
            )
    patch = None
    if response.get("patch"):
        if response.get("patchType") != "JSONPatch":
            raise CallFailed(
                f'{invalid}expected patchType "JSONPatch", got "{response.get("patchType", "")}"'
            )
        try:
            patch = json.loads(base64.b64decode(response["patch"]))
        except ValueError as error:
            raise CallFailed(f"{invalid}{error}") from None
    return Verdict(bool(response.get("allowed")), dict(response.get("status") or {}), patch)


def _client_context(hook: dict[str, Any]) -> ssl.SSLContext:
    bundle = (hook.get("clientConfig") or {}).get("caBundle")
    context = ssl.create_default_context()
    if bundle:
        # A caBundle replaces the system roots, as in client-go.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            context.load_verify_locations(cadata=base64.b64decode(bundle).decode())
        except (ValueError, ssl.SSLError):
            pass  # an unusable bundle trusts nothing: verification fails below
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _x509(error: ssl.SSLCertVerificationError, target: Target, hook: dict[str, Any]) -> str:
    """Go's x509 wording for a verification failure."""
    code = getattr(error, "verify_code", 0)
    if code == 62:  # hostname mismatch
        names = _served_names(target, float(hook.get("timeoutSeconds", 10)))
        return f"x509: certificate is valid for {', '.join(names)}, not {target.host}"
    if code in (9, 10):
        return "x509: certificate has expired or is not yet valid"
    return "x509: certificate signed by unknown authority"


def _served_names(target: Target, seconds: float) -> list[str]:
    """The DNS names of the certificate the endpoint serves (read without verifying it)."""
    assert target.address is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(target.address, timeout=seconds) as raw,
            context.wrap_socket(raw, server_hostname=target.host) as tls,
        ):
            der = tls.getpeercert(binary_form=True) or b""
        cert = x509.load_der_x509_certificate(der)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return [str(name) for name in sans.get_values_for_type(x509.DNSName)]
    except (OSError, ValueError, x509.ExtensionNotFound):
        return []

"""Tests of the sandbox HTTPS endpoint (the ALB in front of Kubeflow) with ssl and http.client."""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator

import pytest
from cryptography import x509

from sandbox.ca import SandboxCA
from sandbox.https_endpoint import DEX_AUTH_PATH, HttpsEndpoint, StaticRouteTable

SUB_CERT = ["*.sub.example.com", "sub.example.com"]


class _Connection(http.client.HTTPSConnection):
    """HTTPS to the endpoint's port, with SNI and certificate check for ``host`` (no DNS)."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext) -> None:
        super().__init__(host, port, context=context, timeout=5)
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


@pytest.fixture(scope="module")
def ca() -> SandboxCA:
    return SandboxCA()


@pytest.fixture
def routes() -> StaticRouteTable:
    return StaticRouteTable({"*.sub.example.com": SUB_CERT, "kubeflow.other.org": SUB_CERT})


@pytest.fixture
def endpoint(ca: SandboxCA, routes: StaticRouteTable) -> Iterator[HttpsEndpoint]:
    with HttpsEndpoint(ca, routes, http_port=0) as running:
        yield running


@pytest.fixture
def trust(ca: SandboxCA) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=ca.cert_pem)


def _get(
    endpoint: HttpsEndpoint, trust: ssl.SSLContext, host: str, path: str = "/"
) -> http.client.HTTPResponse:
    conn = _Connection(host, endpoint.port, trust)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_dashboard_redirects_to_dex_login(endpoint: HttpsEndpoint, trust: ssl.SSLContext) -> None:
    first = _get(endpoint, trust, "kubeflow.sub.example.com")
    assert first.status == 302
    location = first.getheader("Location") or ""
    assert location == DEX_AUTH_PATH
    assert location.startswith("/dex/auth?client_id=kubeflow-oidc-authservice&")
    conn = _Connection("kubeflow.sub.example.com", endpoint.port, trust)
    conn.request("GET", location)
    login = conn.getresponse()
    assert login.status == 200
    assert b"Log in to Your Account" in login.read()
    conn.close()
    assert _get(endpoint, trust, "kubeflow.sub.example.com", "/healthz/ready").status == 200


def test_presented_certificate_has_exactly_the_route_names(
    endpoint: HttpsEndpoint, trust: ssl.SSLContext
) -> None:
    conn = _Connection("kubeflow.sub.example.com", endpoint.port, trust)
    conn.connect()
    assert isinstance(conn.sock, ssl.SSLSocket)
    der = conn.sock.getpeercert(binary_form=True)
    conn.close()
    assert der is not None
    san = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert san.value.get_values_for_type(x509.DNSName) == SUB_CERT


def test_certificate_not_covering_the_name_fails_verification(
    endpoint: HttpsEndpoint, trust: ssl.SSLContext
) -> None:
    # An ALB exists for the name, but its certificate is for another domain.
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        _get(endpoint, trust, "kubeflow.other.org")


@pytest.mark.parametrize("host", ["kubeflow.unknown.org", "a.b.sub.example.com"])
def test_unrouted_name_fails_the_handshake(
    endpoint: HttpsEndpoint, trust: ssl.SSLContext, host: str
) -> None:
    with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
        _get(endpoint, trust, host)
    assert _get(endpoint, trust, "kubeflow.sub.example.com").status == 302  # still serving


def test_no_server_name_fails_the_handshake(endpoint: HttpsEndpoint) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", endpoint.port), timeout=5) as raw,
        pytest.raises(ssl.SSLError),
    ):
        context.wrap_socket(raw)  # no server_hostname: no SNI


def test_client_without_the_sandbox_ca_rejects_the_certificate(endpoint: HttpsEndpoint) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _get(
            endpoint,
            ssl.create_default_context(cafile=None, cadata=SandboxCA().cert_pem),
            "kubeflow.sub.example.com",
        )


def test_certificates_are_cached_per_name_set(
    endpoint: HttpsEndpoint, trust: ssl.SSLContext, routes: StaticRouteTable
) -> None:
    def peer(host: str) -> bytes | None:
        conn = _Connection(host, endpoint.port, trust)
        conn.connect()
        assert isinstance(conn.sock, ssl.SSLSocket)
        der = conn.sock.getpeercert(binary_form=True)
        conn.close()
        return der

    routes.set("kubeflow.sub2.example.com", ["kubeflow.sub2.example.com"])
    assert peer("kubeflow.sub.example.com") == peer("central.sub.example.com")
    assert peer("kubeflow.sub2.example.com") != peer("kubeflow.sub.example.com")


def test_routes_are_consulted_on_every_handshake(
    endpoint: HttpsEndpoint, trust: ssl.SSLContext, routes: StaticRouteTable
) -> None:
    routes.remove("*.sub.example.com")
    with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
        _get(endpoint, trust, "kubeflow.sub.example.com")
    routes.set("*.sub.example.com", SUB_CERT)
    assert _get(endpoint, trust, "kubeflow.sub.example.com").status == 302


def test_failing_route_table_fails_only_that_handshake(
    ca: SandboxCA, trust: ssl.SSLContext
) -> None:
    class Broken:
        def route(self, host: str) -> list[str] | None:
            raise RuntimeError("moto is down")

    with (
        HttpsEndpoint(ca, Broken()) as endpoint,
        pytest.raises(ssl.SSLError, match="INTERNAL_ERROR"),
    ):
        _get(endpoint, trust, "kubeflow.sub.example.com")


def test_plain_http_redirects_to_https(endpoint: HttpsEndpoint) -> None:
    assert endpoint.http_port is not None
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.http_port, timeout=5)
    conn.request(
        "GET",
        "/pipeline/?ns=kubeflow",
        headers={"Host": f"kubeflow.sub.example.com:{endpoint.http_port}"},
    )
    moved = conn.getresponse()
    moved.read()
    assert moved.status == 301
    assert (
        moved.getheader("Location")
        == f"https://kubeflow.sub.example.com:{endpoint.port}/pipeline/?ns=kubeflow"
    )
    conn.request("GET", "/", headers={"Host": "nobody.unknown.org"})
    assert conn.getresponse().status == 404
    conn.close()


def test_requests_are_recorded(endpoint: HttpsEndpoint, trust: ssl.SSLContext) -> None:
    _get(endpoint, trust, "Kubeflow.Sub.Example.com", "/healthz/ready")
    last = endpoint.requests[-1]
    assert (last.server_name, last.method, last.path, last.status) == (
        "kubeflow.sub.example.com",
        "GET",
        "/healthz/ready",
        200,
    )


def test_stop_closes_idle_keep_alive_connections(
    ca: SandboxCA, routes: StaticRouteTable, trust: ssl.SSLContext
) -> None:
    endpoint = HttpsEndpoint(ca, routes).start()
    conn = _Connection("kubeflow.sub.example.com", endpoint.port, trust)
    conn.request("GET", "/healthz/ready")
    conn.getresponse().read()  # HTTP/1.1: the connection stays open
    endpoint.stop()
    assert conn.sock is not None
    try:
        data = conn.sock.recv(1)
    except TimeoutError:
        pytest.fail("the idle connection was left open")
    except (ssl.SSLError, ConnectionError):
        data = b""  # a reset is as good as a close
    assert data == b""
    conn.close()
    with pytest.raises(RuntimeError):
        _ = endpoint.port


def test_answers_come_from_the_istio_gateway(
    endpoint: HttpsEndpoint, trust: ssl.SSLContext
) -> None:
    response = _get(endpoint, trust, "kubeflow.sub.example.com", "/healthz/ready")
    assert response.headers.get_all("Server") == ["istio-envoy"]


ALB_A = "k8s-istiosys-istioing-aaaaaaaaaa-1.us-west-2.elb.amazonaws.com"
ALB_B = "k8s-istiosys-istioing-bbbbbbbbbb-2.us-west-2.elb.amazonaws.com"


class _TwoAlbs:
    """DNS leads every name to ALB A; ALB B has no HTTPS listener yet."""

    def route(self, host: str) -> list[str] | None:
        return SUB_CERT

    def route_at(self, alb: str, host: str) -> list[str] | None:
        return SUB_CERT if alb == ALB_A else None


def _get_at(address: str, port: int, trust: ssl.SSLContext, host: str) -> int:
    raw = socket.create_connection((address, port), timeout=5)
    with trust.wrap_socket(raw, server_hostname=host) as tls:
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.sock = tls
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        return response.status


def test_each_alb_answers_on_its_own_address_for_itself_only(
    ca: SandboxCA, trust: ssl.SSLContext
) -> None:
    """A request through an ALB's own address reaches that ALB, whatever DNS says of the name:
    one that cannot serve the name fails there while the shared address still answers."""
    from sandbox.https_endpoint import AlbAddresses

    addresses = AlbAddresses()
    with HttpsEndpoint(ca, _TwoAlbs(), addresses=addresses) as endpoint:
        a, b = addresses.address_of(ALB_A), addresses.address_of(f"dualstack.{ALB_B}.")
        if addresses.fallback in (a, b):
            pytest.skip("this host serves only 127.0.0.1 on its loopback")
        assert a != b
        assert addresses.address_of(ALB_A) == a  # stable
        assert (addresses.name_at(a), addresses.name_at(b)) == (ALB_A, ALB_B)
        host = "kubeflow.sub.example.com"
        assert _get_at(a, endpoint.port, trust, host) == 302
        with pytest.raises(ssl.SSLError):  # B serves no certificate: no answer through it
            _get_at(b, endpoint.port, trust, host)
        assert _get_at("127.0.0.1", endpoint.port, trust, host) == 302  # by name: A

        endpoint.unhealthy.add(ALB_A)  # no healthy target: the ALB itself says 503
        seen: list[str | None] = []
        endpoint.listeners.append(lambda served: seen.append(served.alb))
        assert _get_at(a, endpoint.port, trust, host) == 503
        assert seen == [ALB_A]
        assert endpoint.requests[-1].server_name == host

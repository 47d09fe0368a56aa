"""End to end through the sandbox: resolve the dashboard name over DNS, then open it over HTTPS."""

from __future__ import annotations

import http.client
import socket
import ssl

import dns.resolver

from sandbox.ca import SandboxCA
from sandbox.dns import AliasTarget, DnsServer, Record, StaticZoneSource, Zone
from sandbox.https_endpoint import HttpsEndpoint, StaticRouteTable

ALB = "k8s-istiosys-kubeflow-0123456789.us-east-1.elb.amazonaws.com"


def test_dashboard_over_sandbox_dns_and_https() -> None:
    sub_ns = ["ns-7.sub-dns.test"]
    zones = StaticZoneSource(
        [
            Zone(
                "ZR",
                "example.com",
                False,
                ["ns-1.root-dns.test"],
                [Record("sub.example.com", "NS", 300, sub_ns)],
            ),
            Zone(
                "ZS",
                "sub.example.com",
                False,
                sub_ns,
                [Record("*.sub.example.com", "A", 0, [], AliasTarget(ALB))],
            ),
        ]
    )
    ca = SandboxCA()
    routes = StaticRouteTable({"*.sub.example.com": ["*.sub.example.com"]})
    with (
        DnsServer(zones, alb_exists=lambda name: name == ALB) as dns_server,
        HttpsEndpoint(ca, routes) as https,
    ):
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns_server.address[0]]
        resolver.port = dns_server.address[1]
        (address,) = [r.to_text() for r in resolver.resolve("kubeflow.sub.example.com", "A")]

        context = ssl.create_default_context(cadata=ca.cert_pem)
        raw = socket.create_connection((address, https.port), timeout=5)
        with context.wrap_socket(raw, server_hostname="kubeflow.sub.example.com") as tls:
            tls.sendall(
                b"GET / HTTP/1.1\r\nHost: kubeflow.sub.example.com\r\nConnection: close\r\n\r\n"
            )
            response = http.client.HTTPResponse(tls)
            response.begin()
            assert response.status == 302
            assert (response.getheader("Location") or "").startswith("/dex/auth?")

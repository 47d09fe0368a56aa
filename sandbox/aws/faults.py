"""An unreliable network in front of the AWS sandbox: throttling, 5xx and lost answers, seeded.

``FaultMiddleware`` wraps the sandbox's WSGI app. For each request of kubeflow-alb's clients
(their User-Agent carries ``kubeflow-alb``; the sandbox's own stand-ins are left alone) it rolls
a seeded die and either

- throttles it (not applied): Route53/IAM/STS/ELBv2 ``Throttling``, EC2 ``RequestLimitExceeded``
  (HTTP 503), ACM/EKS ``ThrottlingException``;
- fails it with a server error (not applied): ``InternalFailure`` 500 or ``ServiceUnavailable``
  503 (EC2: ``InternalError`` / ``Unavailable``);
- drops it after applying it: moto handles the request, then the answer is lost, as a reset
  connection or a 500;
- or lets it through.

Each error is written in the service's own wire protocol (rest-xml, query, EC2 query, JSON
1.1, rest-json), so botocore parses and retries it exactly as it would one from AWS.
"""

from __future__ import annotations

import json
import random
import re
import socket
import struct
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: Only requests from these clients are faulted: the product under test, not the stand-ins.
USER_AGENT_MARK = "kubeflow-alb"
_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_QUERY_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
    "route53": "https://route53.amazonaws.com/doc/2013-04-01/",
}
_STATUS_TEXT = {400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error",
                503: "Service Unavailable"}  # fmt: skip

StartResponse = Callable[..., Any]


@dataclass
class FaultPlan:
    """Rates (0..1, summing to at most 1) of each fault, and the seed of the die."""

    throttle: float = 0.0
    error5xx: float = 0.0
    drop_after_apply: float = 0.0
    seed: int = 0
    #: How many of each fault were injected (``throttle``, ``error5xx``, ``drop-reset``...).
    injected: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        rates = (self.throttle, self.error5xx, self.drop_after_apply)
        if any(not 0.0 <= rate <= 1.0 for rate in rates) or sum(rates) > 1.0:
            raise ValueError(f"fault rates must be within 0..1 and sum to at most 1: {rates}")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.throttle + self.error5xx + self.drop_after_apply > 0

    def roll(self) -> tuple[str, float]:
        """The fault for the next request ("" for none) and a second roll for its variant."""
        with self._lock:
            die, variant = self._random.random(), self._random.random()
        for name, rate in (
            ("throttle", self.throttle),
            ("error5xx", self.error5xx),
            ("drop", self.drop_after_apply),
        ):
            if die < rate:
                return name, variant
            die -= rate
        return "", variant

    def describe(self) -> str:
        return (
            f"throttle={self.throttle:g},error5xx={self.error5xx:g},"
            f"drop-after-apply={self.drop_after_apply:g},seed={self.seed}"
        )


def parse_faults(text: str) -> FaultPlan:
    """``throttle=0.3,error5xx=0.05,drop-after-apply=0.05[,seed=N]`` as a FaultPlan."""
    names = {"throttle": "throttle", "error5xx": "error5xx", "drop-after-apply": "drop_after_apply",
             "seed": "seed"}  # fmt: skip
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, raw = item.partition("=")
        if key.strip() not in names or not raw:
            raise ValueError(f"unknown fault {item!r}; use {', '.join(names)} (name=value)")
        try:
            values[names[key.strip()]] = int(raw) if key.strip() == "seed" else float(raw)
        except ValueError:
            raise ValueError(f"fault {item!r}: {raw!r} is not a number") from None
    return FaultPlan(**values)


def service_of(environ: dict[str, Any]) -> str:
    """The SigV4 service name of a request (iam, route53, acm...), or "" when unsigned."""
    found = _SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return found.group(1) if found else ""


def error_response(
    service: str, kind: str, variant: float
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of a throttling ("throttle") or server ("error5xx") error."""
    request_id = str(uuid.uuid4())
    server_error = kind != "throttle"
    unavailable = server_error and variant < 0.5
    if service == "ec2":
        code, status, message = (
            ("Unavailable", 503, "The server is overloaded and can't handle the request.")
            if unavailable
            else ("InternalError", 500, "An internal error has occurred.")
            if server_error
            else ("RequestLimitExceeded", 503, "Request limit exceeded.")
        )
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}"
                f"</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}"
                "</RequestID></Response>")  # fmt: skip
        return status, [("Content-Type", "text/xml;charset=UTF-8")], body.encode()
    code, status, message = (
        ("ServiceUnavailable", 503, "Service Unavailable")
        if unavailable
        else ("InternalFailure", 500, "We encountered an internal error. Please try again.")
        if server_error
        else ("ThrottlingException" if service in ("acm", "eks") else "Throttling", 400,
              "Rate exceeded")
    )  # fmt: skip
    headers = [("x-amzn-RequestId", request_id)]
    if service == "acm":  # JSON 1.1
        headers.append(("Content-Type", "application/x-amz-json-1.1"))
        return status, headers, json.dumps({"__type": code, "message": message}).encode()
    if service == "eks":  # rest-json: the code travels in a header
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", f"{code}:")]
        return status, headers, json.dumps({"message": message}).encode()
    namespace = _QUERY_NAMESPACES.get(service, "")
    kind_of = "Receiver" if server_error else "Sender"
    body = (f"<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{kind_of}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>")  # fmt: skip
    headers.append(("Content-Type", "text/xml"))
    return status, headers, body.encode()


def _reset(environ: dict[str, Any]) -> bool:
    """Reset the request's connection (RST, no answer); False when the server gives no socket."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)  # the handler then sees EOF and closes: RST, no reply
    except OSError:
        pass
    return True


class FaultMiddleware:
    """WSGI middleware injecting the plan's faults into kubeflow-alb's AWS requests."""

    def __init__(self, app: Callable[..., Iterable[bytes]], plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        service = service_of(environ)
        if not service or USER_AGENT_MARK not in environ.get("HTTP_USER_AGENT", ""):
            return self.app(environ, start_response)
        fault, variant = self.plan.roll()
        if fault in ("throttle", "error5xx"):
            self.plan.injected[fault] += 1
            return self._answer(start_response, *error_response(service, fault, variant))
        if fault != "drop":
            return self.app(environ, start_response)
        # Apply the request for real (moto builds the whole answer inside this call)...
        result = self.app(environ, lambda *args, **kwargs: lambda data: None)
        try:
            for _ in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        # ...then lose the answer: a reset connection, or a 500 instead of the real answer.
        if variant < 0.5 and _reset(environ):
            self.plan.injected["drop-reset"] += 1
            raise ConnectionResetError("sandbox fault: connection reset after the request applied")
        self.plan.injected["drop-500"] += 1
        return self._answer(start_response, *error_response(service, "error5xx", 1.0))

    @staticmethod
    def _answer(
        start_response: StartResponse, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> list[bytes]:
        start_response(
            f"{status} {_STATUS_TEXT.get(status, 'Error')}",
            [*headers, ("Content-Length", str(len(body)))],
        )
        return [body]

"""Which AWS operation a sandbox request is, and the fault rules that target one operation.

The operation is read the way the service's own protocol carries it: the ``Action`` form field
(query: IAM, EC2, ELBv2, STS), the ``X-Amz-Target`` header (JSON 1.1: ACM), or the method and
path of the operation's ``requestUri`` in botocore's service model (rest-xml: Route53;
rest-json: EKS).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs

import botocore.session

#: Operations with these prefixes only read; every other operation writes.
READ_PREFIXES = ("Describe", "Get", "List", "Head", "Lookup", "Search", "Test", "Check")
#: SigV4 service names whose operations travel in the method and path (botocore model names).
_REST_SERVICES = {"route53": "route53", "eks": "eks"}
_OPERATION = re.compile(r"[A-Z][A-Za-z0-9]{2,80}")


@dataclass(frozen=True)
class Request:
    """One request to the AWS sandbox, as the fault rules see it."""

    service: str
    operation: str
    method: str
    path: str
    body: bytes

    @property
    def mutating(self) -> bool:
        return bool(self.operation) and not self.operation.startswith(READ_PREFIXES)

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """What a resend of the same call (botocore's retry) has in common with the first send."""
        return (
            self.service,
            self.operation,
            self.path,
            hashlib.sha256(self.body).hexdigest(),
        )

    def describe(self) -> str:
        return f"{self.service}:{self.operation}"


def is_operation_name(text: str) -> bool:
    """True for a name shaped like an AWS operation (``CreateRole``)."""
    return _OPERATION.fullmatch(text) is not None


@cache
def _routes(service: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    """(method, path pattern, operation) of a rest service, most specific first."""
    model = botocore.session.get_session().get_service_model(service)
    routes: list[tuple[int, str, re.Pattern[str], str]] = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = str(http["requestUri"]).split("?", 1)[0].rstrip("/")
        pattern, literal = "", 0
        for part in re.split(r"(\{[^}]+\})", uri):
            if part.startswith("{"):
                pattern += ".+" if part.endswith("+}") else "[^/]+"
            else:
                pattern += re.escape(part)
                literal += len(part)
        routes.append((literal, str(http["method"]), re.compile(pattern + "/?"), name))
    routes.sort(key=lambda route: -route[0])
    return tuple((method, pattern, name) for _, method, pattern, name in routes)


def operation_of(service: str, environ: dict[str, Any], body: bytes) -> str:
    """The operation name of a request ("" when it cannot be told)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:  # JSON protocols: "CertificateManager.RequestCertificate"
        return str(target).rsplit(".", 1)[-1]
    method = environ.get("REQUEST_METHOD", "GET")
    # The path as sent: PATH_INFO is decoded, and a label may hold an encoded "/" (an ARN).
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    path = str(raw).split("?", 1)[0]
    rest = _REST_SERVICES.get(service)
    if rest is not None:
        for wanted, pattern, name in _routes(rest):
            if wanted == method and pattern.fullmatch(path):
                return name
        return ""
    fields = parse_qs(environ.get("QUERY_STRING", ""))
    if "form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        fields.update(parse_qs(body.decode("utf-8", "replace")))
    return str((fields.get("Action") or [""])[0])


@dataclass
class OperationRule:
    """Lose the answer of `operation` (``*``: of every mutating request) after applying it.

    A named operation loses the answers of its first `times` requests; ``*`` loses the first
    `times` answers of each distinct request (a resend of the same call counts as the same), so
    every write of a run is applied once with its answer lost, then retried.
    """

    operation: str
    times: int = 1
    #: "reset" (connection reset), "500" (InternalFailure) or "" (the seeded die decides).
    how: str = ""

    def __post_init__(self) -> None:
        if self.operation != "*" and not is_operation_name(self.operation):
            raise ValueError(f"{self.operation!r} is not an AWS operation name (e.g. CreateRole)")
        if self.times < 1:
            raise ValueError(f"{self.operation}: times must be at least 1, not {self.times}")
        if self.how not in ("", "reset", "500"):
            raise ValueError(f"{self.operation}: how is reset or 500, not {self.how!r}")
        self._spent: dict[Any, int] = {}

    def take(self, request: Request) -> bool:
        """True when this request's answer is to be lost (and counts it)."""
        if self.operation == "*":
            if not request.mutating:
                return False
            key: Any = request.identity
        elif request.operation == self.operation:
            key = self.operation
        else:
            return False
        spent = self._spent.get(key, 0)
        if spent >= self.times:
            return False
        self._spent[key] = spent + 1
        return True

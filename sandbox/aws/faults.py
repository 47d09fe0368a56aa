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

Rules can also target one operation (``drop-after-apply=CreateRole``, ``drop-after-apply:CreateRole=2``;
``drop-after-apply=*`` loses the first answer of every distinct write, each once) and kill the
client's process group when the sandbox sees a given call (``kill-at=CreateRole``: the call is
applied, then the group registered as the kill target gets SIGKILL, as a crash at that step).

Each error is written in the service's own wire protocol (rest-xml, query, EC2 query, JSON
1.1, rest-json), so botocore parses and retries it exactly as it would one from AWS.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import signal
import socket
import struct
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sandbox.aws.fault_rules import OperationRule, Request, is_operation_name, operation_of

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
#: Decides whether a request is the one to kill the client at.
KillTrigger = Callable[[Request], bool]


@dataclass
class FaultPlan:
    """Rates (0..1, summing to at most 1) of each fault, the seed of the die, and the rules
    that target operations."""

    throttle: float = 0.0
    error5xx: float = 0.0
    drop_after_apply: float = 0.0
    seed: int = 0
    #: Answers lost after applying, by operation (see ``OperationRule``).
    rules: list[OperationRule] = field(default_factory=list)
    #: Operations at which the kill target gets SIGKILL (``kill-at=``), once.
    kill_at: tuple[str, ...] = ()
    #: The process group SIGKILLed by ``kill_at`` (or by ``arm_kill`` without a hook).
    kill_group: int | None = None
    #: How many of each fault were injected (``throttle``, ``error5xx``, ``drop-reset``...).
    injected: Counter[str] = field(default_factory=Counter)
    #: The requests whose answers were lost after they applied (``service:Operation``), in order.
    lost: list[str] = field(default_factory=list)
    #: What the client was killed at (``service:Operation``, or the label given to ``kill_now``).
    killed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        rates = (self.throttle, self.error5xx, self.drop_after_apply)
        if any(not 0.0 <= rate <= 1.0 for rate in rates) or sum(rates) > 1.0:
            raise ValueError(f"fault rates must be within 0..1 and sum to at most 1: {rates}")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        #: Held around each faulted request while a kill is armed: nothing the client sent
        #: concurrently is applied after the kill.
        self.serial = threading.RLock()
        self._trigger: KillTrigger | None = None
        self._hook: Callable[[], None] | None = None
        self._dead = False
        if self.kill_at:
            wanted = set(self.kill_at)
            self.arm_kill(lambda request: request.operation in wanted)

    @property
    def active(self) -> bool:
        return (
            self.throttle + self.error5xx + self.drop_after_apply > 0
            or bool(self.rules)
            or self.armed
        )

    @property
    def armed(self) -> bool:
        """True while a kill is armed or has just fired (until the next ``arm_kill``)."""
        return self._trigger is not None or self._dead

    def lose_answer(self, operation: str, *, times: int = 1, how: str = "") -> OperationRule:
        """Lose the answer of `operation` (``*``: of every write) after applying it."""
        rule = OperationRule(operation, times=times, how=how)
        with self._lock:
            self.rules.append(rule)
        return rule

    def arm_kill(self, trigger: KillTrigger, hook: Callable[[], None] | None = None) -> None:
        """SIGKILL the client (``hook``, else the ``kill_group``) at the first request for which
        `trigger` is true, after applying it; requests after that are reset unapplied until
        the next arming (they come from the dead process)."""
        with self._lock:
            self._trigger, self._hook, self._dead = trigger, hook, False

    def disarm(self) -> None:
        with self._lock:
            self._trigger, self._hook, self._dead = None, None, False

    def clear(self) -> None:
        """No rule, no kill, nothing counted: a reliable network again (rates stay)."""
        self.disarm()
        with self._lock:
            self.rules.clear()
            self.lost.clear()
            self.killed.clear()
            self.injected.clear()

    def kill_now(self, label: str) -> None:
        """Kill the client now (for triggers seen elsewhere, e.g. the Kubernetes API server)."""
        with self._lock:
            hook, self._trigger, self._dead = self._hook, None, True
            self.killed.append(label)
        if hook is not None:
            hook()
        elif self.kill_group is not None:
            try:
                os.killpg(self.kill_group, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def kill_due(self, request: Request) -> str:
        """ "kill" when this request triggers the kill, "dead" when the client is dead already."""
        with self._lock:
            if self._dead:
                return "dead"
            trigger = self._trigger
        return "kill" if trigger is not None and trigger(request) else ""

    def rule_for(self, request: Request) -> OperationRule | None:
        with self._lock:
            return next((rule for rule in self.rules if rule.take(request)), None)

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
        rules = "".join(
            f",drop-after-apply:{rule.operation}={rule.times}" for rule in self.rules
        ) + "".join(f",kill-at={operation}" for operation in self.kill_at)
        return (
            f"throttle={self.throttle:g},error5xx={self.error5xx:g},"
            f"drop-after-apply={self.drop_after_apply:g},seed={self.seed}{rules}"
        )


def parse_faults(text: str) -> FaultPlan:
    """``throttle=0.3,error5xx=0.05,drop-after-apply=0.05[,seed=N]`` as a FaultPlan.

    ``drop-after-apply`` also takes an operation (``drop-after-apply=CreateHostedZone``: its
    first answer is lost; ``drop-after-apply:CreateRole=2``: its first two), or ``*`` (the first
    answer of every distinct write). ``kill-at=CreateRole`` (repeatable) with
    ``kill-group=PGID`` SIGKILLs that process group when the sandbox sees the call.
    """
    names = {"throttle": "throttle", "error5xx": "error5xx", "drop-after-apply": "drop_after_apply",
             "seed": "seed", "kill-group": "kill_group"}  # fmt: skip
    values: dict[str, Any] = {}
    rules: list[OperationRule] = []
    kills: list[str] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, raw = (part.strip() for part in item.partition("="))
        target = key.partition(":")[2]
        try:
            if key == "kill-at" and is_operation_name(raw):
                kills.append(raw)
            elif key == "drop-after-apply" and (raw == "*" or is_operation_name(raw)):
                rules.append(OperationRule(raw))
            elif key.startswith("drop-after-apply:") and target:
                rules.append(OperationRule(target, times=int(raw)))
            elif key in names and raw:
                integer = key in ("seed", "kill-group")
                values[names[key]] = int(raw) if integer else float(raw)
            else:
                raise ValueError(
                    f"unknown fault {item!r}; use {', '.join(names)} (name=value), "
                    "drop-after-apply=Operation|*, drop-after-apply:Operation=N, kill-at=Operation"
                )
        except ValueError as error:
            if str(error).startswith("unknown fault"):
                raise
            raise ValueError(f"fault {item!r}: {error}") from None
    return FaultPlan(**values, rules=rules, kill_at=tuple(kills))


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


def _request(service: str, environ: dict[str, Any]) -> Request:
    """The request as the rules see it; its body is read once and put back for moto."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return Request(
        service=service,
        operation=operation_of(service, environ, body),
        method=environ.get("REQUEST_METHOD", "GET"),
        path=environ.get("PATH_INFO", "/"),
        body=body,
    )


class FaultMiddleware:
    """WSGI middleware injecting the plan's faults into kubeflow-alb's AWS requests."""

    def __init__(self, app: Callable[..., Iterable[bytes]], plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        service = service_of(environ)
        plan = self.plan
        if (
            not service
            or not plan.active
            or USER_AGENT_MARK not in environ.get("HTTP_USER_AGENT", "")
        ):
            return self.app(environ, start_response)
        request = _request(service, environ)
        if not plan.armed:
            return self._faulted(environ, start_response, request)
        with plan.serial:  # one at a time while a kill is armed
            due = plan.kill_due(request)
            if due == "dead":  # sent by the killed process before it died: never applied
                _reset(environ)
                raise ConnectionResetError("sandbox fault: the client was killed")
            if due == "kill":
                self._apply(environ)
                plan.kill_now(request.describe())
                _reset(environ)
                raise ConnectionResetError(f"sandbox fault: killed at {request.describe()}")
            return self._faulted(environ, start_response, request)

    def _faulted(
        self, environ: dict[str, Any], start_response: StartResponse, request: Request
    ) -> Iterable[bytes]:
        plan = self.plan
        rule = plan.rule_for(request)
        if rule is not None:
            fault, variant = "drop", {"reset": 0.0, "500": 1.0}.get(rule.how, plan.roll()[1])
        else:
            fault, variant = plan.roll()
        if fault in ("throttle", "error5xx"):
            plan.injected[fault] += 1
            return self._answer(start_response, *error_response(request.service, fault, variant))
        if fault != "drop":
            return self.app(environ, start_response)
        # Apply the request for real (moto builds the whole answer inside this call)...
        self._apply(environ)
        plan.lost.append(request.describe())
        # ...then lose the answer: a reset connection, or a 500 instead of the real answer.
        if variant < 0.5 and _reset(environ):
            plan.injected["drop-reset"] += 1
            raise ConnectionResetError("sandbox fault: connection reset after the request applied")
        plan.injected["drop-500"] += 1
        return self._answer(start_response, *error_response(request.service, "error5xx", 1.0))

    def _apply(self, environ: dict[str, Any]) -> None:
        result = self.app(environ, lambda *args, **kwargs: lambda data: None)
        try:
            for _ in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _answer(
        start_response: StartResponse, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> list[bytes]:
        start_response(
            f"{status} {_STATUS_TEXT.get(status, 'Error')}",
            [*headers, ("Content-Length", str(len(body)))],
        )
        return [body]

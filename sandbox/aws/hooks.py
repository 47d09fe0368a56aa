"""How the sandbox's rules reach moto: wrappers around moto methods, active per request.

moto's backends are process-wide, and other code in the same process (unit tests using
``mock_aws``) must keep moto's own behaviour. So every wrapper looks at a context variable
that only the sandbox's WSGI middleware sets, for the duration of one request to the
sandbox's server; anywhere else the original moto method runs unchanged.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from sandbox.aws.accounts import note_request, realism_for, route53_throttled

DnsCheck = Callable[[str, str, str], bool]


@dataclass(frozen=True)
class Realism:
    """The sandbox's knobs that the rules read while they handle a request."""

    region: str
    account_id: str = "123456789012"
    acm_validation_delay: float = 1.0
    dns_check: DnsCheck | None = None
    route53_sync_delay: float = 0.0
    alb_activation_delay: float | None = None


_CURRENT: ContextVar[Realism | None] = ContextVar("kfalb_aws_sandbox", default=None)
_INSTALL_LOCK = threading.Lock()
_STATE_LOCK = threading.RLock()
_WRAPPED_MARK = "__kfalb_sandbox_original__"

Around = Callable[..., Any]
T = TypeVar("T")


def current() -> Realism | None:
    """The settings of the sandbox whose request is being handled here, if any."""
    return _CURRENT.get()


@contextmanager
def activated(realism: Realism) -> Iterator[None]:
    """Make the rules apply to everything moto does inside the block."""
    token = _CURRENT.set(realism)
    try:
        yield
    finally:
        _CURRENT.reset(token)


class StrictMiddleware:
    """WSGI middleware: every request to the wrapped moto app runs with the rules on."""

    def __init__(self, app: Callable[..., Any], realism: Realism) -> None:
        self.app = app
        self.realism = realism

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # The key of an account added to this sandbox picks that account (sandbox.aws.accounts);
        # temporary credentials from AssumeRole act in the role's account, as in AWS.
        realism = realism_for(environ, self.realism)
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or request_account(
            environ, realism.account_id
        )
        seen = note_request(environ, account)
        if route53_throttled(seen):
            return _throttle(start_response)
        # moto reads the account from this header: each sandbox gets its own backends.
        environ.setdefault("HTTP_X_MOTO_ACCOUNT_ID", account)
        # moto (Flask) builds the whole body inside this call, so the context covers it.
        with activated(realism):
            return self.app(environ, start_response)


#: The access key id of a SigV4 request, in its Authorization header or presigned query string.
_CREDENTIAL = re.compile(r"Credential=(?P<key>[A-Z0-9]{16,128})(?:/|%2F)")


def request_account(environ: dict[str, Any], default: str) -> str:
    """The account a request is served from: the role's account for temporary credentials
    that the sandbox's AssumeRole issued (moto keeps them with the role's account), else
    `default`, the sandbox's own account."""
    found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", "")) or _CREDENTIAL.search(
        environ.get("QUERY_STRING", "")
    )
    if found is None or not found["key"].startswith("ASIA"):
        return default
    from moto.iam.models import iam_backends  # moto's registry, read only

    key = found["key"]
    for account_id, partitions in list(iam_backends.items()):
        for backend in list(partitions.values()):
            if key in backend.access_keys:
                return str(account_id)
    return default


def hook(owner: type, name: str, around: Around, *, always: bool = False) -> None:
    """Replace ``owner.name`` by ``around(realism, original, self, *args, **kwargs)``.

    Outside a sandbox request the original runs, unless ``always`` (then ``realism`` may be
    None). Hooking twice is a no-op, so installing is idempotent.
    """
    with _INSTALL_LOCK:
        present = owner.__dict__.get(name)
        if present is not None and hasattr(present, _WRAPPED_MARK):
            return
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            realism = _CURRENT.get()
            if realism is None and not always:
                return original(self, *args, **kwargs)
            return around(realism, original, self, *args, **kwargs)

        setattr(wrapper, _WRAPPED_MARK, original)
        setattr(owner, name, wrapper)


def arguments(method: Callable[..., Any], self: Any, args: Any, kwargs: Any) -> dict[str, Any]:
    """The call's arguments by parameter name, defaults filled in (moto mixes both styles)."""
    bound = inspect.signature(method).bind(self, *args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def extra_state(obj: Any, key: str, factory: Callable[[], T]) -> T:
    """Sandbox bookkeeping stored on a moto object, so that moto's reset clears it too."""
    attribute = f"_kfalb_{key}"
    with _STATE_LOCK:
        value = obj.__dict__.get(attribute)
        if value is None:
            value = factory()
            setattr(obj, attribute, value)
        return value  # type: ignore[no-any-return]


def state_lock() -> threading.RLock:
    """One lock for read-modify-write of sandbox bookkeeping across request threads."""
    return _STATE_LOCK


def _throttle(start_response: Callable[..., Any]) -> list[bytes]:
    """Route53's answer to a request over the account's rate (rest-xml, as AWS sends it)."""
    from sandbox.aws.faults import error_response

    status, headers, body = error_response("route53", "throttle", 0.0)
    start_response(f"{status} Bad Request", [*headers, ("Content-Length", str(len(body)))])
    return [body]

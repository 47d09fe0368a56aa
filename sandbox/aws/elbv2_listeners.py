"""ELBv2 listener certificates as AWS keeps them: one default, the others SNI only.

moto lists every certificate of a listener in DescribeListeners (AWS: only the default one;
the rest are seen with DescribeListenerCertificates), drops the SNI certificates when
ModifyListener sets a new default (AWS keeps them), and accepts an HTTPS listener without a
certificate or an HTTP one with one (AWS: ValidationError). moto also gives every listener an
SSL policy (``ELBSecurityPolicy-2016-08`` when none is named); AWS reports one only for HTTPS
and TLS listeners.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.elbv2.exceptions import ValidationError
from moto.elbv2.models import ELBv2Backend, FakeListener
from moto.elbv2.responses import ELBV2Response

from sandbox.aws.hooks import Realism, hook

_TLS = frozenset({"HTTPS", "TLS"})


def check_listener_certificates(protocol: str | None, arns: list[str]) -> None:
    if protocol == "HTTPS" and not arns:
        raise ValidationError("A certificate must be specified for HTTPS listeners")
    if protocol == "HTTP" and arns:
        raise ValidationError("A certificate cannot be specified for HTTP listeners")


def keep_sni(before: list[str], default: str) -> list[str]:
    """The listener's certificates once ``default`` replaces the default one."""
    return [default] + [arn for arn in before[1:] if arn != default]


def around_listener_write(
    backend: ELBv2Backend, original: Any, call: dict[str, Any], args: Any, kwargs: Any
) -> Any:
    """CreateListener / ModifyListener with AWS's certificate rules (hooked by ``elbv2``)."""
    arns = [c["CertificateArn"] for c in call.get("certificates") or []]
    if call.get("certificate"):
        arns.append(call["certificate"])
    if original.__name__ == "create_listener":
        check_listener_certificates(call.get("protocol"), arns)
        return _plain_has_no_policy(original(backend, *args, **kwargs))
    if original.__name__ != "modify_listener":
        return original(backend, *args, **kwargs)
    listener = backend.describe_listeners(load_balancer_arn=None, listener_arns=[call["arn"]])[0]
    before = list(listener.certificates or [])
    modified = original(backend, *args, **kwargs)
    if arns:
        modified.certificates = keep_sni(before, arns[0])
    return _plain_has_no_policy(modified)


def _plain_has_no_policy(listener: FakeListener) -> FakeListener:
    if listener.protocol not in _TLS:
        listener.ssl_policy = None  # type: ignore[assignment]  # AWS shows none
    return listener


class DescribedListener:
    """A listener as DescribeListeners shows it: only the default certificate."""

    def __init__(self, listener: FakeListener) -> None:
        self._listener = listener

    def __getattr__(self, name: str) -> Any:
        return getattr(self._listener, name)

    @property
    def certificates(self) -> list[str]:
        return list(self._listener.certificates or [])[:1]


def _around_describe_listeners(realism: Realism, original: Any, response: ELBV2Response) -> Any:
    result = original(response)
    payload = result.result if isinstance(result, ActionResult) else None
    if isinstance(payload, dict) and "Listeners" in payload:
        payload["Listeners"] = [DescribedListener(item) for item in payload["Listeners"]]
    return result


def install() -> None:
    hook(ELBV2Response, "describe_listeners", _around_describe_listeners)

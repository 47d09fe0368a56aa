"""ALB attributes as AWS reports them and enforces them: every attribute, with its default
until it is changed; deletion protection refuses DeleteLoadBalancer.

moto reports only the four attributes it sets at creation (and cross-zone load balancing as
``false``, which an ALB cannot be), plus those changed since; AWS's
DescribeLoadBalancerAttributes lists every attribute of the load balancer's type. Values
are the defaults of the ELBv2 API reference (LoadBalancerAttribute). moto deletes a load
balancer whatever its ``deletion_protection.enabled``; AWS answers HTTP 400
``OperationNotPermitted`` "Load balancer '<arn>' cannot be deleted because deletion protection
is enabled" until the attribute is set to false.
"""

from __future__ import annotations

from typing import Any

from moto.elbv2.models import ELBv2Backend

from sandbox.aws.errors import OperationNotPermitted
from sandbox.aws.hooks import Realism, hook

#: An ALB's attributes and their defaults (ipv6.deny_all_igw_traffic depends on the scheme).
ALB_DEFAULTS = {
    "access_logs.s3.enabled": "false",
    "access_logs.s3.bucket": "",
    "access_logs.s3.prefix": "",
    "client_keep_alive.seconds": "3600",
    "connection_logs.s3.enabled": "false",
    "connection_logs.s3.bucket": "",
    "connection_logs.s3.prefix": "",
    "deletion_protection.enabled": "false",
    "idle_timeout.timeout_seconds": "60",
    "load_balancing.cross_zone.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true",
    "waf.fail_open.enabled": "false",
    "zonal_shift.config.enabled": "false",
}
_FILLED = "_kfalb_attributes_filled"


def _fill(backend: ELBv2Backend, arn: str) -> None:
    """Give an ALB AWS's defaults once; values changed since are kept."""
    balancer = backend.load_balancers.get(arn)
    if balancer is None or balancer.type != "application" or balancer.__dict__.get(_FILLED):
        return
    defaults = {
        **ALB_DEFAULTS,
        "ipv6.deny_all_igw_traffic": "true" if balancer.scheme == "internal" else "false",
    }
    # moto's creation-time cross-zone value is not one an ALB can have; the rest are defaults.
    balancer.attrs.pop("load_balancing.cross_zone.enabled", None)
    balancer.attrs = {**defaults, **balancer.attrs}
    setattr(balancer, _FILLED, True)


def _around_describe(
    realism: Realism, original: Any, backend: ELBv2Backend, arn: str, *args: Any, **kwargs: Any
) -> Any:
    _fill(backend, arn)
    return original(backend, arn, *args, **kwargs)


def _around_delete(
    realism: Realism, original: Any, backend: ELBv2Backend, arn: str, *args: Any, **kwargs: Any
) -> Any:
    balancer = backend.load_balancers.get(arn)
    if balancer is not None and balancer.attrs.get("deletion_protection.enabled") == "true":
        raise OperationNotPermitted(
            f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
        )
    return original(backend, arn, *args, **kwargs)


def install() -> None:
    for name in ("describe_load_balancer_attributes", "modify_load_balancer_attributes"):
        hook(ELBv2Backend, name, _around_describe)
    hook(ELBv2Backend, "delete_load_balancer", _around_delete)

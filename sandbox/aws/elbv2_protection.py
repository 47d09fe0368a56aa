"""ELBv2 deletion protection as AWS enforces it and moto 5.2.5 does not.

moto deletes a load balancer whatever its `deletion_protection.enabled` attribute says; AWS
refuses with OperationNotPermitted, "Load balancer '<arn>' cannot be deleted because deletion
protection is enabled" (as AWS CLI users and CloudFormation report it), until the attribute is
set to false.
"""

from __future__ import annotations

from typing import Any

from moto.elbv2.models import ELBv2Backend

from sandbox.aws.errors import OperationNotPermitted
from sandbox.aws.hooks import Realism, hook


def _around_delete(realism: Realism, original: Any, backend: ELBv2Backend, arn: str) -> None:
    balancer = backend.load_balancers.get(arn)
    if balancer is not None and balancer.attrs.get("deletion_protection.enabled") == "true":
        raise OperationNotPermitted(
            f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
        )
    original(backend, arn)


def install() -> None:
    hook(ELBv2Backend, "delete_load_balancer", _around_delete)

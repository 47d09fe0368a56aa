"""EC2 tag rules: DeleteTags on a resource that does not exist fails, as CreateTags does.

moto checks that the resources exist for CreateTags but silently accepts DeleteTags on
any id; real EC2 answers with the resource's NotFound code (e.g. InvalidSubnetID.NotFound).
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models import EC2Backend

from sandbox.aws.hooks import Realism, hook


def _around_delete_tags(
    realism: Realism,
    original: Any,
    backend: EC2Backend,
    resource_ids: list[str],
    tags: dict[str, Any],
) -> bool:
    backend.do_resources_exist(resource_ids)
    return bool(original(backend, resource_ids, tags))


def install() -> None:
    hook(EC2Backend, "delete_tags", _around_delete_tags)

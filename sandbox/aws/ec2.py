"""EC2 rules real EC2 enforces and moto 5.2.5 does not: tags of missing resources, groups in use.

moto checks that the resources exist for CreateTags but silently accepts DeleteTags on
any id; real EC2 answers with the resource's NotFound code (e.g. InvalidSubnetID.NotFound).
moto also deletes a security group that a load balancer or a network interface still uses, or
that another group's rule names; real EC2 refuses with DependencyViolation (the load balancer's
network interfaces hold the group until the load balancer is gone).
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import DependencyViolationError
from moto.ec2.models import EC2Backend
from moto.elbv2.models import elbv2_backends

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


def group_users(backend: EC2Backend, group_id: str) -> list[str]:
    """What holds the group: load balancers that use it, network interfaces in it, other groups
    whose rules name it."""
    users = [
        balancer.arn
        for balancer in list(
            elbv2_backends[backend.account_id][backend.region_name].load_balancers.values()
        )
        if group_id in (balancer.security_groups or [])
    ]
    users += [
        eni.id
        for eni in list(backend.enis.values())
        if any(group.id == group_id for group in eni.group_set)
    ]
    for groups in list(backend.groups.values()):
        for other in list(groups.values()):
            if other.id == group_id:
                continue
            rules = [*other.ingress_rules, *other.egress_rules]
            if any((rule.source_group or {}).get("GroupId") == group_id for rule in rules):
                users.append(other.id)
    return users


def check_group_unused(backend: EC2Backend, group_id: str) -> None:
    if group_users(backend, group_id):
        raise DependencyViolationError(f"resource {group_id} has a dependent object")


def _around_delete_security_group(
    realism: Realism,
    original: Any,
    backend: EC2Backend,
    name: str | None = None,
    group_id: str | None = None,
) -> None:
    group = backend.get_security_group_by_name_or_id(group_id or name or "")
    if group is not None:
        check_group_unused(backend, group.id)
    original(backend, name=name, group_id=group_id)


def install() -> None:
    hook(EC2Backend, "delete_tags", _around_delete_tags)
    hook(EC2Backend, "delete_security_group", _around_delete_security_group)

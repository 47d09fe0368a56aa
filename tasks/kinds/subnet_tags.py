"""The ALB controller's subnet discovery tags, held by reference (each stack's marker lists the
keys it holds; a tag goes with its last holder)."""

from __future__ import annotations

from typing import Any

from core.resources import SubnetTagChange
from tasks.aws.ec2 import delete_subnet_tags, ensure_subnet_tags, observe_subnets
from tasks.kinds.base import Env, Got, Look, Verbs


def observe(look: Look) -> dict[str, Any]:
    if look.cluster is None:
        return {}
    return {"subnets": observe_subnets.fn(look.ctx, look.cluster)}


def ensure(env: Env, got: Got) -> tuple[SubnetTagChange, ...]:
    if env.cluster is None:
        return ()
    added: tuple[SubnetTagChange, ...] = ensure_subnet_tags.fn(
        env.ctx, env.cluster, stack=env.spec.name
    )
    return added


def delete(env: Env) -> str:
    added = env.seen.sweep.subnet_tags if env.seen.sweep else ()
    if added and delete_subnet_tags.fn(env.ctx, added, cluster_name=env.spec.cluster.name):
        return f"removed the stack's subnet tags ({len(added)} held)"
    return ""


VERBS = Verbs(observe=observe, ensure=ensure, delete=delete)

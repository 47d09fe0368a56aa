"""The controller's AWS identity, the cluster's and shared by its stacks: the IAM OIDC provider
(IRSA), the policy, the role, the EKS Pod Identity association (pod-identity). Read only when
the stack installs the controller (otherwise its owner's identity is not ours to look at)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from core import identity
from core.cleanup_report import held
from core.desired import partition_of, policy_arn, role_arn
from core.observation import Observation, controller_is_ours
from core.resources import OidcProviderState, PolicyState, RoleState
from core.spec import StackSpec
from core.state import Kind
from tasks.aws.clients import AwsContext
from tasks.aws.iam import (
    delete_role,
    ensure_oidc_provider,
    ensure_role,
    observe_oidc_provider,
    observe_role,
)
from tasks.aws.iam_legacy import delete_legacy_policy, delete_legacy_role
from tasks.aws.iam_policy import delete_policy, ensure_policy, observe_policy
from tasks.aws.owned import delete_owned_oidc_provider
from tasks.aws.pod_identity import (
    delete_pod_identity_association,
    ensure_pod_identity_association,
    observe_pod_identity_agent,
    observe_pod_identity_association,
    require_pod_identity_agent,
)
from tasks.kinds.base import Env, Got, Look, Verbs
from tasks.logs import run_logger


def other_users(spec: StackSpec, seen: Observation) -> tuple[str, ...]:
    """The controller's other users: they reach AWS through its role, so they hold the role and
    policy too (a stack of the previous version, whose own role the controller leaves for this
    one, included)."""
    found = seen.controller
    return tuple(u for u in found.users if u != spec.name) if found and found.owned else ()


def _arns(env: Env) -> tuple[str, str]:
    caller = env.seen.identity
    account = caller.account if caller else ""
    partition = partition_of(caller.arn) if caller else "aws"
    return (
        policy_arn(env.spec, account=account, partition=partition),
        role_arn(env.spec, account=account, partition=partition),
    )


def _ours(look: Look) -> bool:
    return look.sweeping or controller_is_ours(look.spec, look.found)


def observe_oidc(look: Look) -> dict[str, Any]:
    cluster = look.cluster
    if not (_ours(look) and identity.needs_oidc_provider(look.spec)):
        return {}
    if cluster is None or not cluster.oidc_host_path:
        return {}
    return {"oidc_provider": observe_oidc_provider.fn(look.ctx, look.spec, cluster)}


def ensure_oidc(env: Env, got: Got) -> OidcProviderState | None:
    if not identity.needs_oidc_provider(env.spec) or env.cluster is None:
        return None
    provider: OidcProviderState = ensure_oidc_provider.fn(env.ctx, env.spec, env.cluster)
    return provider


def delete_oidc(env: Env) -> str:
    providers = [p for p in (env.seen.sweep.oidc_providers if env.seen.sweep else ()) if p.owned]
    done = [p.arn for p in providers
            if delete_owned_oidc_provider.fn(env.ctx, p.arn, stack=env.spec.name,
                                             cluster_name=env.spec.cluster.name)]  # fmt: skip
    return f"removed OIDC providers {', '.join(done)} (or this stack's use of them)" if done else ""


def observe_iam_policy(look: Look) -> dict[str, Any]:
    if not _ours(look):
        return {}
    return {"policy": observe_policy.fn(look.ctx, look.spec, identity=look.identity)}


def ensure_iam_policy(env: Env, got: Got) -> Any:
    return ensure_policy.fn(env.ctx, env.spec, users=other_users(env.spec, env.seen))


_IamItem = TypeVar("_IamItem", PolicyState, RoleState)


def _delete(
    env: Env,
    shared: _IamItem | None,
    legacy: _IamItem | None,
    *deletes: Callable[[AwsContext, StackSpec], bool],
) -> list[str]:
    """Drop the stack's hold on the shared item (deleting it when it was the last user), then
    delete the stack's 0.1.0 one the sweep found; the ARNs of what was removed."""
    found = (held(shared, env.spec.name, env.record), legacy)
    return [
        item.arn
        for item, delete in zip(found, deletes, strict=True)
        if item is not None and item.owned and delete(env.ctx, env.spec)
    ]


def delete_iam_policy(env: Env) -> str:
    legacy = env.seen.sweep.legacy_policy if env.seen.sweep else None
    done = _delete(env, env.seen.policy, legacy, delete_policy.fn, delete_legacy_policy.fn)
    return f"deleted IAM policies {', '.join(done)}" if done else ""


def observe_iam_role(look: Look) -> dict[str, Any]:
    if not _ours(look):
        return {}
    expected = look.found.oidc_provider
    cluster, caller = look.cluster, look.identity
    if expected is None and identity.needs_oidc_provider(look.spec) and cluster is not None:
        # The trust policy names the provider's ARN, which is known even while it is gone.
        partition = partition_of(caller.arn) if caller else "aws"
        account = caller.account if caller else ""
        expected = OidcProviderState(
            arn=f"arn:{partition}:iam::{account}:oidc-provider/{cluster.oidc_host_path}",
            url=cluster.oidc_host_path or "",
        )
    return {"role": observe_role.fn(look.ctx, look.spec, expected)}


def ensure_iam_role(env: Env, got: Got) -> RoleState:
    provider = got.get(Kind.OIDC_PROVIDER) if identity.needs_oidc_provider(env.spec) else None
    policy, _ = _arns(env)
    role: RoleState = ensure_role.fn(
        env.ctx, env.spec, provider, policy_arn=policy, users=other_users(env.spec, env.seen)
    )
    return role


def delete_iam_role(env: Env) -> str:
    legacy = env.seen.sweep.legacy_role if env.seen.sweep else None
    done = _delete(env, env.seen.role, legacy, delete_role.fn, delete_legacy_role.fn)
    return f"removed IAM roles {', '.join(done)} (or this stack's use of them)" if done else ""


def observe_association(look: Look) -> dict[str, Any]:
    """Read with either identity: a stack switched from pod-identity to irsa may still hold one."""
    cluster = look.cluster
    if cluster is None or not _ours(look):
        return {}
    found: dict[str, Any] = {
        "pod_identity": observe_pod_identity_association.fn(look.ctx, look.spec, cluster.name)
    }
    if identity.uses_pod_identity(look.spec):
        found["pod_identity_agent"] = observe_pod_identity_agent.fn(look.ctx, cluster.name)
    return found


def check_agent(env: Env) -> None:
    """The Pod Identity Agent is the cluster's: we cannot make it, so it stops setup first."""
    if identity.uses_pod_identity(env.spec) and env.cluster is not None:
        status = env.seen.pod_identity_agent
        require_pod_identity_agent(env.spec, cluster=env.cluster.name, status=status)


def ensure_association(env: Env, got: Got) -> Any:
    """Associate the controller's service account with its role (pod-identity); with irsa,
    remove the association this stack held (only its use of it, when others hold it too)."""
    if env.cluster is None:
        return None
    if not identity.uses_pod_identity(env.spec):
        said = delete_association(env)
        if said:
            run_logger().info("%s: the controller uses IRSA now", said)
        return None
    name = env.cluster.name
    _, role = _arns(env)
    return ensure_pod_identity_association.fn(
        env.ctx, env.spec, name, role_arn=role, users=other_users(env.spec, env.seen)
    )


def delete_association(env: Env) -> str:
    found = held(env.seen.pod_identity, env.spec.name, env.record)
    if found is None or not found.owned:
        return ""
    if delete_pod_identity_association.fn(env.ctx, env.spec, found.cluster_name):
        return f"removed Pod Identity association {found.arn} (or this stack's use of it)"
    return ""


OIDC = Verbs(
    observe=observe_oidc,
    observe_after=(Kind.CONTROLLER,),
    current=lambda env: env.seen.oidc_provider,
    ensure=ensure_oidc,
    delete=delete_oidc,
)
POLICY = Verbs(
    observe=observe_iam_policy,
    observe_after=(Kind.CONTROLLER,),
    current=lambda env: env.seen.policy,
    ensure=ensure_iam_policy,
    delete=delete_iam_policy,
)
ROLE = Verbs(
    observe=observe_iam_role,
    observe_after=(Kind.CONTROLLER, Kind.OIDC_PROVIDER),
    current=lambda env: env.seen.role,
    ensure=ensure_iam_role,
    delete=delete_iam_role,
)
ASSOCIATION = Verbs(observe=observe_association, observe_after=(Kind.CONTROLLER,),
                    current=lambda env: env.seen.pod_identity, ensure=ensure_association,
                    delete=delete_association, check=check_agent)  # fmt: skip

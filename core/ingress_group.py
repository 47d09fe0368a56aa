"""One stack's share of an ALB that an IngressGroup shares among stacks (pure).

With `stack.ingressGroup` several stacks' Ingresses make one ALB: the controller merges their
listeners' certificates, their rules (renumbered across the group) and their target groups.
Each stack declares only its own part, so its observed ALB is narrowed to that part before the
planner compares: the target groups of its Ingress, the rules that forward to them (numbered
again from 1, as a lone Ingress's are), and its certificates when the listener holds them all.
"""

from __future__ import annotations

from core.alb_facts import NONE
from core.alb_observed import group_label
from core.resources import ListenerState, LoadBalancerState, RuleState

#: Our AWS tag naming the IngressGroup, in place of the stack's mark on a shared ALB: the
#: controller refuses members whose tags annotations disagree on a key.
GROUP_TAG = "kubeflow-alb/ingress-group"


def member_tags(tags: dict[str, str], *, stack_tag: str, group: str) -> dict[str, str]:
    """The tags annotation of a group member: the stack's tags without its own mark (which
    would differ between members), with the group's."""
    return {**{k: v for k, v in tags.items() if k != stack_tag}, GROUP_TAG: group}


def member_view(
    state: LoadBalancerState, *, ingress_key: str, desired: dict[str, str]
) -> LoadBalancerState:
    """The part of a shared ALB that belongs to Ingress `ingress_key` (`namespace/name`).

    Args:
        state: the shared ALB as observed.
        ingress_key: our Ingress; the controller names its target groups `<key>-<svc>:<port>`.
        desired: our desired ALB fields (their certificates are the ones we look for).
    """
    ours = {g.arn for g in state.target_groups if group_label(g).startswith(f"{ingress_key}-")}
    listeners = tuple(
        _listener(listener, ours, _wanted_certificates(desired, listener))
        for listener in state.listeners
    )
    return state.model_copy(
        update={
            "listeners": listeners,
            "target_groups": tuple(g for g in state.target_groups if g.arn in ours),
        }
    )


def _wanted_certificates(desired: dict[str, str], listener: ListenerState) -> tuple[str, ...]:
    prefix = f"listener {listener.protocol.upper()}:{listener.port}"
    default = desired.get(f"{prefix} certificate", NONE)
    sni = desired.get(f"{prefix} sni-certificates", NONE)
    found = [default] if default != NONE else []
    found += [arn for arn in sni.split(",") if arn and arn != NONE]
    return tuple(found)


def _listener(listener: ListenerState, ours: set[str], wanted: tuple[str, ...]) -> ListenerState:
    certificates = listener.certificate_arns
    if wanted and set(wanted) <= set(certificates):
        certificates = wanted  # all of ours are served; the others are the group's
    rules = listener.rules
    if rules is not None:
        mine = [rule for rule in rules if _forwards_to(rule, ours)]
        mine.sort(key=lambda rule: int(rule.priority) if rule.priority.isdigit() else 1 << 31)
        rules = tuple(
            rule.model_copy(update={"priority": str(index)}) for index, rule in enumerate(mine, 1)
        )
    return listener.model_copy(update={"certificate_arns": certificates, "rules": rules})


def _forwards_to(rule: RuleState, groups: set[str]) -> bool:
    return any(set(action.target_group_arns) & groups for action in rule.actions)

"""Setup's owner preflight: is anything this stack would write already someone else's?

Read only. It reads the host rules of every Ingress in the cluster and the root zone's records
at the dashboard host and `*.<subdomain>`, and with the stack's observation decides through the
one owner check, pure `core.owners`; any conflict stops the run before anything is created.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from core import naming
from core.observation import Observation
from core.owners import HostRule, MemberEvent, conflicts, refuse
from core.resources import RecordSetState
from core.spec import StackSpec
from tasks.aws.clients import AwsContext
from tasks.aws.root_dns import root_dns
from tasks.aws.route53_records import observe_record_sets
from tasks.concurrent import together
from tasks.k8s.clients import KubeTarget, connect
from tasks.k8s.cluster import list_objects
from tasks.logs import run_logger
from tasks.retry import retrying_task

_INGRESS = ("networking.k8s.io/v1", "Ingress")
#: Record types that serve a name (an NS set at the subdomain is the delegation itself).
_SERVING = ("A", "AAAA", "CNAME")


@retrying_task
def find_host_rules(target: KubeTarget) -> tuple[HostRule, ...]:
    """The hosts every Ingress of the cluster routes, with its key and stack label. Read only."""
    with connect(target) as kube:
        ingresses = list_objects(kube, "networking.k8s.io/v1", "Ingress")
    rules = []
    for ingress in ingresses:
        meta = ingress.get("metadata") or {}
        key = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        labels = meta.get("labels") or {}
        stack = (
            labels.get(naming.STACK_TAG)
            if labels.get(naming.MANAGED_BY_TAG) == naming.TOOL
            else None
        )
        for rule in (ingress.get("spec") or {}).get("rules") or []:
            if rule.get("host"):
                rules.append(HostRule(ingress=key, host=str(rule["host"]), stack=stack))
    return tuple(rules)


#: The controller's events that say whether an Ingress's group built (the last one counts).
_BUILD_REASONS = ("FailedBuildModel", "FailedDeployModel", "SuccessfullyReconciled")


@retrying_task
def find_group_events(target: KubeTarget, spec: StackSpec) -> tuple[MemberEvent, ...]:
    """The latest build event of each other Ingress of the stack's IngressGroup. Read only."""
    group = spec.stack.ingress_group
    if group is None:
        return ()
    with connect(target) as kube:
        members = {
            f"{meta.get('namespace', '')}/{meta.get('name', '')}": meta.get("namespace", "")
            for meta in (i.get("metadata") or {} for i in list_objects(kube, *_INGRESS))
            if (meta.get("annotations") or {}).get(naming.GROUP_ANNOTATION) == group
            and not meta.get("deletionTimestamp")
        }
        members.pop(spec.ingress_key, None)
        latest: dict[str, tuple[str, MemberEvent]] = {}
        for namespace in sorted(set(members.values())):
            for event in list_objects(kube, "v1", "Event", namespace=namespace):
                about = event.get("involvedObject") or {}
                key = f"{about.get('namespace', '')}/{about.get('name', '')}"
                when = str(event.get("lastTimestamp") or event.get("eventTime") or "")
                if about.get("kind") != "Ingress" or key not in members:
                    continue
                if event.get("reason") in _BUILD_REASONS and when >= latest.get(key, ("",))[0]:
                    found = MemberEvent(key, str(event["reason"]), str(event.get("message", "")))
                    latest[key] = (when, found)
    return tuple(found for _, found in sorted(latest.values(), key=lambda pair: pair[0]))


def _root_records(
    ctx: AwsContext, spec: StackSpec, zone_id: str | None, keys: list[tuple[str, str]]
) -> tuple[RecordSetState, ...]:
    """The root zone's records at the stack's names (none without a root zone in Route53)."""
    if zone_id is None:
        return ()
    return tuple(observe_record_sets.fn(root_dns(ctx, spec), zone_id, keys))


@retrying_task
def preflight_owners(
    ctx: AwsContext,
    target: KubeTarget,
    spec: StackSpec,
    seen: Observation,
    *,
    recorded: Iterable[str] = (),
    look_around: bool = True,
) -> None:
    """Stop with every conflict found: the controller's IAM, our Ingress name, the dashboard host,
    the zone or the `*.<subdomain>` record held by another owner (a shared item another stack
    uses is none). `look_around`: also read every Ingress's hosts and the root zone's records
    (not needed when the plan has nothing to apply). Read only; nothing is created before it."""
    hosts: tuple[HostRule, ...] = ()
    root_records: tuple[RecordSetState, ...] = ()
    group: tuple[MemberEvent, ...] = ()
    if look_around:  # three reads, none needing another: together
        root = seen.root_zone
        names = (spec.dashboard_host, naming.wildcard(spec.subdomain))
        keys = [(name, kind) for name in names for kind in _SERVING]
        reads: list[Callable[[], Any]] = [
            partial(find_host_rules.fn, target),
            partial(find_group_events.fn, target, spec),
            partial(_root_records, ctx, spec, root.zone_id if root else None, keys),
        ]
        hosts, group, root_records = together(reads)
    found = conflicts(
        spec, seen, recorded=recorded, hosts=hosts, root_records=root_records, group_events=group
    )
    refuse(spec, found)
    run_logger().info(
        "No other owner of %s, %s or %s",
        spec.ingress_key,
        spec.dashboard_host,
        naming.wildcard(spec.subdomain),
    )

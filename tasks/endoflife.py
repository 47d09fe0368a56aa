"""The ALB's end of life: delete the front door (the Ingress) through its controller and, when
it stays terminating, say why (core.endoflife); remove the controller's finalizer only after a
sweep by the stack's tags proves that nothing of the stack is left in AWS."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from core import naming, sharing
from core.alb_options import lifting_annotation
from core.endoflife import (
    Cause,
    ControllerEvent,
    EndOfLife,
    EndOfLifeBlocked,
    HeldGroup,
    blocked,
    described,
    diagnose,
    said_since,
)
from core.errors import OwnershipError, SpecError, WaitTimeout
from core.kubestate import IngressRef
from core.manifests import ALB_PREFIX, Manifest
from core.settings import get_settings
from core.spec import StackSpec
from core.waits import WAITS
from tasks.aws.clients import AwsContext, client
from tasks.aws.controller_identity import identity_problem
from tasks.aws.elbv2 import CLUSTER_TAG, delete_controller_resources, find_leftovers
from tasks.aws.errors import aws_task
from tasks.k8s.apply import resource_for
from tasks.k8s.cleanup import ALB_FINALIZER, release_ingress
from tasks.k8s.clients import Kube, KubeTarget, connect
from tasks.k8s.cluster import get, list_objects, riding_out_blips
from tasks.k8s.errors import is_not_found, translated
from tasks.k8s.ingress import lift_annotation, read_ingress
from tasks.logs import run_logger
from tasks.waits import wait_for

_INGRESS = ("networking.k8s.io/v1", "Ingress")
_GROUP = ALB_PREFIX + "group.name"


class SweepNeeded(WaitTimeout):
    """The controller cannot finish (its AWS identity is broken), but kubeflow-alb can: the
    stack's resources are swept by their tags, then the finalizer goes."""


def _meta(obj: Manifest) -> dict[str, Any]:
    meta: dict[str, Any] = obj.get("metadata") or {}
    return meta


def _key(obj: Manifest) -> str:
    return f"{_meta(obj).get('namespace', '')}/{_meta(obj).get('name', '')}"


def _events(kube: Kube, objects: list[Manifest], since: str) -> tuple[ControllerEvent, ...]:
    """The Warning events about these Ingresses since `since` (RFC 3339, as the API writes)."""
    keys = {_key(obj) for obj in objects}
    found = []
    for namespace in sorted({_meta(obj).get("namespace", "") for obj in objects}):
        for event in list_objects(kube, "v1", "Event", namespace=namespace):
            about = event.get("involvedObject") or {}
            on = f"{about.get('namespace', '')}/{about.get('name', '')}"
            when = str(event.get("lastTimestamp") or event.get("eventTime") or "")
            if (
                event.get("type") == "Warning"
                and about.get("kind") == "Ingress"
                and on in keys
                and when >= since
            ):
                stamp = f"{_meta(event).get('uid', '')}:{event.get('count', 1)}:{when}"
                message = str(event.get("message", "")).strip()
                found.append(
                    (when, ControllerEvent(on, str(event.get("reason", "")), message, stamp))
                )
    return tuple(event for _, event in sorted(found, key=lambda pair: pair[0]))


def _protected(obj: Manifest) -> bool:
    """The Ingress's annotation keeps deletion protection on (cleanup would lift it)."""
    try:
        return bool(lifting_annotation(_meta(obj).get("annotations") or {}))
    except SpecError:  # an annotation the controller cannot read: it says so itself
        return False


def _conditions(live: Manifest) -> tuple[str, ...]:
    status = live.get("status") or {}
    found = [
        f"{c.get('type')}={c.get('status')} ({c.get('reason')}: {c.get('message')})"
        for c in status.get("conditions") or []
        if c.get("status") != "True"
    ]
    for entry in (status.get("loadBalancer") or {}).get("ingress") or []:
        found += [
            f"port {p.get('port')}: {p['error']}"
            for p in entry.get("ports") or []
            if p.get("error")
        ]
    return tuple(found)


def _held_groups(ctx: AwsContext, spec: StackSpec) -> tuple[HeldGroup, ...]:
    """The stack's security groups (its tags, as the controller made them for it), each with
    the network interfaces that are not a load balancer's (those of a deleted ALB go by
    themselves within minutes). Read while the controller deletes: a group gone meanwhile is
    simply not there."""
    ec2, held = client(ctx, "ec2"), []
    groups = ec2.describe_security_groups(
        Filters=[
            {"Name": f"tag:{CLUSTER_TAG}", "Values": [spec.cluster.name]},
            {"Name": f"tag:{naming.STACK_TAG}", "Values": [spec.name]},
            {"Name": f"tag:{naming.MANAGED_BY_TAG}", "Values": [naming.TOOL]},
        ]
    )["SecurityGroups"]
    for group in groups:
        interfaces = ec2.describe_network_interfaces(
            Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}]
        )["NetworkInterfaces"]
        holders = tuple(
            f"{eni['NetworkInterfaceId']} ({eni.get('Description') or 'no description'})"
            for eni in interfaces
            if not str(eni.get("Description", "")).startswith("ELB ")
        )
        held.append(HeldGroup(group_id=group["GroupId"], holders=holders))
    return tuple(held)


def _identity(ctx: AwsContext, kube: Kube, spec: StackSpec) -> str | None:
    """The AWS identity problem of a controller kubeflow-alb installed (whose identity it
    made: IRSA or Pod Identity). Another's may use what cleanup cannot see (a node role, keys
    in its environment), and Auto Mode's runs outside the cluster: not judged."""
    ns, name = naming.CONTROLLER_NAMESPACE, naming.CONTROLLER_NAME
    deployment = get(kube, "apps/v1", "Deployment", name, ns)
    if deployment is None or not sharing.made_by_tool(_meta(deployment).get("labels") or {}):
        return None
    account = get(kube, "v1", "ServiceAccount", naming.CONTROLLER_SERVICE_ACCOUNT, ns) or {}
    role = (_meta(account).get("annotations") or {}).get("eks.amazonaws.com/role-arn")
    return identity_problem(ctx, cluster_name=spec.cluster.name, role_arn=role)


def look_at_end_of_life(ctx: AwsContext, kube: Kube, spec: StackSpec, live: Manifest) -> EndOfLife:
    """Everything cleanup can see of why the terminating Ingress `live` is not gone yet."""
    annotations = _meta(live).get("annotations") or {}
    group = annotations.get(_GROUP) or None
    others = []
    if group:
        others = [
            obj
            for obj in list_objects(kube, *_INGRESS)
            if (_meta(obj).get("annotations") or {}).get(_GROUP) == group
            and _key(obj) != _key(live)
        ]
    members = [obj for obj in others if not _meta(obj).get("deletionTimestamp")]
    since = str(_meta(live).get("deletionTimestamp") or "")
    return EndOfLife(
        ingress=_key(live),
        group=group,
        protected=_protected(live),
        protected_members=tuple(
            _key(obj) for obj in others if _meta(obj).get("deletionTimestamp") and _protected(obj)
        ),
        members=tuple(_key(obj) for obj in others),
        events=_events(kube, [live, *members], since),
        conditions=_conditions(live),
        held_groups=_held_groups(ctx, spec),
        identity_problem=_identity(ctx, kube, spec),
    )


def _delete(kube: Kube, spec: StackSpec) -> Manifest | None:
    live = get(kube, *_INGRESS, spec.ingress_name, naming.INGRESS_NAMESPACE)
    if live is None:
        return None
    labels = _meta(live).get("labels") or {}
    if not naming.is_owned(labels, spec.name):
        raise OwnershipError(
            f"Ingress {_key(live)} does not carry stack {spec.name!r}'s labels; not deleting it. "
            "Delete it yourself if it is a leftover (the ALB controller then removes its ALB)."
        )
    resource = resource_for(kube, {"apiVersion": _INGRESS[0], "kind": _INGRESS[1]})
    if resource is not None and not _meta(live).get("deletionTimestamp"):
        with translated(f"Deleting Ingress {_key(live)}"):
            try:
                resource.delete(name=spec.ingress_name, namespace=naming.INGRESS_NAMESPACE)
            except Exception as error:
                if not is_not_found(error):
                    raise
    return live


_Seen = tuple[Manifest | None, EndOfLife | None, Cause | None]


def _lift_when_leaving(kube: Kube, spec: StackSpec) -> None:
    """A terminating Ingress that still asks for deletion protection keeps the controller from
    deleting it (and blocks its whole group). Lifted on the terminating Ingress, as upstream
    documents: a member being deleted is no part of the group's ALB any more, so the ALB stays
    as the group's other members declare it (cleanup lifts a lone Ingress's before deleting)."""
    state = read_ingress(kube, naming.INGRESS_NAMESPACE, spec.ingress_name)
    if state is not None and state.deleting and state.owned_by(spec.name):
        lift_annotation(kube, state)


def _leaving(key: str, last: _Seen | None) -> str:
    """What the wait for the Ingress's deletion last saw, in words."""
    live, seen, _ = last or (None, None, None)
    if live is None:
        return f"Ingress {key} is gone"
    finalizers = _meta(live).get("finalizers") or []
    return f"Ingress {key} is being deleted, finalizers {finalizers}; " + (
        described(seen) if seen else "not looked at yet"
    )


@aws_task
def delete_front_door(ctx: AwsContext, target: KubeTarget, spec: StackSpec) -> bool:
    """Delete the stack's Ingress and wait until its controller has removed the ALB, target
    groups and security group (then it drops its finalizer). While it stays terminating,
    cleanup looks at why (the controller's events on it and its group, its conditions, the
    stack's security groups, the controller's AWS identity) and stops as soon as a cause shows,
    naming it and the next step; within KFALB_CLEANUP_TIMEOUT_SECONDS. False when there was
    no Ingress.

    Raises:
        EndOfLifeBlocked: a cause only someone else can remove (deletion protection, a security
            group held by another interface, a group member that does not build).
        SweepNeeded: the controller's identity is broken; kubeflow-alb can sweep by tags.
        WaitTimeout: no cause showed within the bound (what was last seen is in the message).
    """
    settings = get_settings()
    every = max(settings.poll_max_interval_seconds, 1.0)  # a look costs a few reads of each API
    with connect(target) as kube:
        first = _delete(kube, spec)
        if first is None:
            return False
        _lift_when_leaving(kube, spec)
        key, looked = _key(first), [float("-inf")]
        latest: list[EndOfLife | None] = [None]
        # Already terminating (an earlier run deleted it): its Events so far are the baseline.
        before: list[EndOfLife | None] = [None]
        resumed = bool(_meta(first).get("deletionTimestamp"))

        def fetch() -> _Seen:
            live = get(kube, *_INGRESS, spec.ingress_name, naming.INGRESS_NAMESPACE)
            if live is None:
                return (None, None, None)
            if time.monotonic() - looked[0] >= every:
                looked[0] = time.monotonic()
                latest[0] = look_at_end_of_life(ctx, kube, spec, live)
                if resumed and before[0] is None:
                    before[0] = latest[0]
            if latest[0] is None:
                return (live, None, None)
            return (live, latest[0], diagnose(said_since(latest[0], before[0])))

        nothing_yet: _Seen = (first, None, None)
        live, seen, cause = wait_for(
            WAITS.deleted_by_controller.of(key),
            riding_out_blips(fetch, nothing_yet),
            until=lambda found: found[0] is None or found[2] is not None,
            settings=settings,
            describe=partial(_leaving, key),
        )
    if live is None:
        run_logger().info("Ingress %s deleted by its controller", key)
        return True
    assert seen is not None  # accepted only with a cause
    assert cause is not None
    raise (SweepNeeded if cause.sweepable else EndOfLifeBlocked)(blocked(seen, cause))


@aws_task
def release_after_sweep(ctx: AwsContext, target: KubeTarget, spec: StackSpec) -> bool:
    """Sweep the stack's load balancers, target groups and security groups by its tags (with
    kubeflow-alb's rights), look again, and only when nothing of it is left remove the
    controller's finalizer from the stack's Ingress (and its TargetGroupBindings), saying so.
    False when there was nothing to release.

    Raises:
        EndOfLifeBlocked: the sweep left something (named); the finalizer stays.
    """
    delete_controller_resources.fn(ctx, spec)
    left = find_leftovers(ctx, spec)
    if not left.empty:
        named = [*left.load_balancer_arns, *left.target_group_arns, *left.security_group_ids]
        raise EndOfLifeBlocked(
            f"Not removing the controller's finalizer {ALB_FINALIZER} from Ingress "
            f"{naming.INGRESS_NAMESPACE}/{spec.ingress_name}: the sweep by stack {spec.name}'s "
            f"tags still finds {', '.join(named)}. Remove those (or what holds them), then run "
            "cleanup again."
        )
    released: bool = release_ingress.fn(
        target, stack=spec.name, ingress=IngressRef(name=spec.ingress_name)
    )
    if released:
        run_logger().warning(
            "Removed the controller's finalizer %s from Ingress %s/%s: the sweep by stack %s's "
            "tags found none of its load balancers, target groups or security groups left.",
            ALB_FINALIZER,
            naming.INGRESS_NAMESPACE,
            spec.ingress_name,
            spec.name,
        )
    return released

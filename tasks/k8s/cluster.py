"""Small reads shared by the controller and Ingress tasks (typed lookups, Warning events), and
the preflight check of this identity's permissions."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from prefect import task

from core.errors import PreflightError, TransientError
from core.manifests import Manifest
from tasks.concurrent import together
from tasks.k8s.apply import read, resource_for
from tasks.k8s.clients import Kube, KubeTarget, connect
from tasks.k8s.errors import is_not_found, translated
from tasks.logs import run_logger

T = TypeVar("T")

#: At most this many Warning events go into an error message.
MAX_EVENTS = 8


def get(
    kube: Kube, api_version: str, kind: str, name: str, namespace: str | None = None
) -> Manifest | None:
    """One live object as a dict, or None."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return read(kube, {"apiVersion": api_version, "kind": kind, "metadata": meta})


def list_objects(
    kube: Kube,
    api_version: str,
    kind: str,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
) -> list[Manifest]:
    """Live objects of a kind (empty when the kind is not served)."""
    resource = resource_for(kube, {"apiVersion": api_version, "kind": kind})
    if resource is None:
        return []
    with translated(f"Listing {kind} in {namespace or 'all namespaces'}"):
        try:
            found = resource.get(namespace=namespace, label_selector=label_selector)
        except Exception as error:
            if is_not_found(error):
                return []
            raise
    items: list[Manifest] = found.to_dict().get("items") or []
    return items


def warning_events(
    kube: Kube, *, namespace: str, kind: str, name: str = "", name_prefix: str = ""
) -> list[str]:
    """Recent Warning events about an object of `kind` (by name, or name prefix), newest last."""
    events = [
        event
        for event in list_objects(kube, "v1", "Event", namespace=namespace)
        if event.get("type") == "Warning"
        and (event.get("involvedObject") or {}).get("kind") == kind
        and _matches(str((event.get("involvedObject") or {}).get("name", "")), name, name_prefix)
    ]
    events.sort(key=_event_time)
    return [
        f"{(event.get('involvedObject') or {}).get('name')}: {event.get('reason')}: "
        f"{event.get('message', '').strip()}"
        + (f" (x{event['count']})" if (event.get("count") or 1) > 1 else "")
        for event in events[-MAX_EVENTS:]
    ]


def riding_out_blips(fetch: Callable[[], T], initial: T) -> Callable[[], T]:
    """`fetch` for a long wait: a transient API error counts as "nothing new" instead of ending
    the wait (the wait's own deadline still bounds it)."""
    last = [initial]

    def poll() -> T:
        try:
            last[0] = fetch()
        except TransientError as error:
            run_logger().warning("Still waiting; the API failed once: %s", error)
        return last[0]

    return poll


def _matches(found: str, name: str, prefix: str) -> bool:
    return found == name if name else found.startswith(prefix)


def _event_time(event: Manifest) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


#: What applying an object takes: server-side apply reads, then creates or patches.
APPLY_VERBS = ("get", "create", "patch")


def _apply_checks(kube: Kube, objects: list[Manifest]) -> list[dict[str, str]]:
    """SelfSubjectAccessReview resourceAttributes for applying ``objects`` (deduplicated)."""
    # Custom resources of CRDs that are not installed yet are not in discovery: take their
    # plural and scope from the CRD among the objects.
    crd_kinds = {
        (crd["spec"]["group"], crd["spec"]["names"]["kind"]): (
            crd["spec"]["names"]["plural"],
            crd["spec"].get("scope") == "Namespaced",
        )
        for crd in objects
        if crd.get("kind") == "CustomResourceDefinition"
    }
    checks: list[dict[str, str]] = []
    for obj in objects:
        group = str(obj.get("apiVersion", "")).rpartition("/")[0]
        resource = resource_for(kube, obj)
        if resource is not None:
            plural, namespaced = resource.name, bool(resource.namespaced)
        elif (group, obj.get("kind")) in crd_kinds:
            plural, namespaced = crd_kinds[(group, str(obj.get("kind")))]
        else:
            continue
        namespace = (obj.get("metadata") or {}).get("namespace", "") if namespaced else ""
        for verb in APPLY_VERBS:
            check = {"verb": verb, "group": group, "resource": plural, "namespace": namespace}
            if check not in checks:
                checks.append(check)
    return checks


def _describe_check(check: dict[str, str]) -> str:
    resource = f"{check['resource']}.{check['group']}" if check["group"] else check["resource"]
    where = f"in namespace {check['namespace']}" if check["namespace"] else "at the cluster scope"
    return f"{check['verb']} {resource} {where}"


@task
def preflight_permissions(target: KubeTarget, objects: list[Manifest]) -> None:
    """Check, with SelfSubjectAccessReviews, that this identity may apply every object setup will
    apply (get, create and patch each kind where it goes); stop before anything is created."""
    with connect(target) as kube:
        review = resource_for(
            kube, {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview"}
        )
        if review is None:
            run_logger().warning(
                "%s does not serve SelfSubjectAccessReview: not checked", kube.server
            )
            return

        def denied(check: dict[str, str]) -> str | None:
            body = {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": check},
            }
            with translated(f"Checking whether this identity may {_describe_check(check)}"):
                answer = review.create(body=body).to_dict()
            allowed = (answer.get("status") or {}).get("allowed")
            return None if allowed else _describe_check(check)

        # One review per verb and resource; they only read, so they go out together.
        answers = together([partial(denied, check) for check in _apply_checks(kube, objects)])
        missing = [said for said in answers if said is not None]
    if missing:
        raise PreflightError(
            f"The identity used for {kube.server} ({target.describe()}) lacks Kubernetes "
            f"permissions that setup needs: it may not {'; '.join(missing)}. Grant them (on EKS: "
            "an access entry with the AmazonEKSClusterAdminPolicy, or RBAC for these resources), "
            "or let someone who has them install the controller and use controller mode 'skip'."
        )
    run_logger().info("This identity may apply all %d objects at %s", len(objects), kube.server)

"""The field selectors each kind supports (its field label conversion functions); others are 400."""

from __future__ import annotations

from sandbox.kube.errors import ApiError, bad_request
from sandbox.kube.resources import ResourceType

_COMMON = frozenset({"metadata.name", "metadata.namespace"})
# (group, kind) -> labels beyond metadata.name / metadata.namespace.
FIELD_LABELS: dict[tuple[str, str], frozenset[str]] = {
    ("", "Pod"): frozenset(
        {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        }
    ),
    ("", "Secret"): frozenset({"type"}),
    ("", "Namespace"): frozenset({"status.phase"}),
    ("", "Node"): frozenset({"spec.unschedulable"}),
    ("", "Event"): frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
    ("apps", "ReplicaSet"): frozenset({"status.replicas"}),
    ("batch", "Job"): frozenset({"status.successful"}),
}


def _labels(selector: str) -> list[str]:
    labels = []
    for part in selector.split(","):
        part = part.strip()
        for op in ("!=", "==", "="):
            if op in part:
                labels.append(part.split(op, 1)[0].strip())
                break
    return [label for label in labels if label]


def check_field_selector(rtype: ResourceType, selector: str | None) -> None:
    """Raise the real 400 for a field selector the kind does not support."""
    if not selector:
        return
    allowed = _COMMON | FIELD_LABELS.get((rtype.group, rtype.kind), frozenset())
    for label in _labels(selector):
        if label in allowed:
            continue
        if (rtype.group, rtype.kind) not in FIELD_LABELS:  # DefaultMetaV1FieldSelectorConversion
            raise bad_request(
                f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'
            )
        raise _unsupported(label)


def _unsupported(label: str) -> ApiError:
    return bad_request(f"field label not supported: {label}")

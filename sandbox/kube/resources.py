"""The resource types the stand-in serves: built-in kinds plus those defined by CRDs."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

StorageKey = tuple[str, str]  # (group, plural): every served version shares one storage


@dataclass(frozen=True)
class ResourceType:
    """One served ``group/version/resource`` and what the API knows about it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: frozenset[str] = field(default_factory=frozenset)
    categories: tuple[str, ...] = ()
    # Kinds whose spec changes bump metadata.generation (controllers report observedGeneration).
    has_generation: bool = False
    # Served from a CustomResourceDefinition: no strategic merge patch, no built-in defaults.
    custom: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> StorageKey:
        return (self.group, self.plural)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


def _builtin(
    api_version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: Iterable[str] = (),
    status: bool = False,
    generation: bool = False,
    categories: Iterable[str] = (),
) -> ResourceType:
    group, _, version = api_version.rpartition("/")
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        namespaced=namespaced,
        short_names=tuple(short),
        subresources=frozenset({"status"} if status else set()),
        categories=tuple(categories),
        has_generation=generation,
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _builtin("v1", "Namespace", "namespaces", namespaced=False, short=["ns"], status=True),
    _builtin("v1", "Service", "services", short=["svc"], status=True, categories=["all"]),
    _builtin("v1", "ServiceAccount", "serviceaccounts", short=["sa"]),
    _builtin("v1", "Secret", "secrets"),
    _builtin("v1", "ConfigMap", "configmaps", short=["cm"]),
    _builtin("v1", "Endpoints", "endpoints", short=["ep"]),
    _builtin("v1", "Event", "events", short=["ev"]),
    _builtin("v1", "Pod", "pods", short=["po"], status=True, generation=True, categories=["all"]),
    ResourceType(
        group="apps",
        version="v1",
        kind="Deployment",
        plural="deployments",
        namespaced=True,
        short_names=("deploy",),
        subresources=frozenset({"status", "scale"}),
        categories=("all",),
        has_generation=True,
    ),
    _builtin("rbac.authorization.k8s.io/v1", "Role", "roles"),
    _builtin("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    _builtin("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False),
    _builtin(
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
    ),
    _builtin(
        "networking.k8s.io/v1", "Ingress", "ingresses", short=["ing"], status=True, generation=True
    ),
    _builtin("networking.k8s.io/v1", "IngressClass", "ingressclasses", namespaced=False),
    _builtin(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short=["crd", "crds"],
        status=True,
        generation=True,
    ),
    _builtin(
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        namespaced=False,
        generation=True,
    ),
    _builtin(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        namespaced=False,
        generation=True,
    ),
    # Stored, not enforced (the server runs no admission policies): the Gateway API's standard
    # install ships its `safe-upgrades` policy and binding.
    _builtin(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        namespaced=False,
        status=True,
        generation=True,
    ),
    _builtin(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        namespaced=False,
        generation=True,
    ),
    _builtin("discovery.k8s.io/v1", "EndpointSlice", "endpointslices"),
    _builtin("coordination.k8s.io/v1", "Lease", "leases"),
    _builtin("events.k8s.io/v1", "Event", "events", short=["ev"]),
    # Answered by the authorizer (sandbox.kube.authz), never stored.
    _builtin(
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        namespaced=False,
    ),
    # The rest of a 1.3x server's built-in groups: stored and served, with no behaviour.
    _builtin("v1", "Node", "nodes", namespaced=False, short=["no"], status=True),
    _builtin(
        "v1", "PersistentVolume", "persistentvolumes", namespaced=False, short=["pv"], status=True
    ),
    _builtin("v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=["pvc"], status=True),
    _builtin("v1", "ResourceQuota", "resourcequotas", short=["quota"], status=True),
    _builtin("v1", "LimitRange", "limitranges", short=["limits"]),
    _builtin("v1", "PodTemplate", "podtemplates"),
    _builtin(
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        short=["rc"],
        status=True,
        generation=True,
        categories=["all"],
    ),
    _builtin(
        "apps/v1",
        "ReplicaSet",
        "replicasets",
        short=["rs"],
        status=True,
        generation=True,
        categories=["all"],
    ),
    _builtin(
        "apps/v1",
        "StatefulSet",
        "statefulsets",
        short=["sts"],
        status=True,
        generation=True,
        categories=["all"],
    ),
    _builtin(
        "apps/v1",
        "DaemonSet",
        "daemonsets",
        short=["ds"],
        status=True,
        generation=True,
        categories=["all"],
    ),
    _builtin("apps/v1", "ControllerRevision", "controllerrevisions"),
    _builtin("batch/v1", "Job", "jobs", status=True, generation=True, categories=["all"]),
    _builtin(
        "batch/v1",
        "CronJob",
        "cronjobs",
        short=["cj"],
        status=True,
        generation=True,
        categories=["all"],
    ),
    _builtin(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=["hpa"],
        status=True,
        generation=True,
        categories=["all"],
    ),
    _builtin(
        "autoscaling/v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=["hpa"],
        status=True,
        generation=True,
        categories=["all"],
    ),
    _builtin(
        "policy/v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short=["pdb"],
        status=True,
        generation=True,
    ),
    _builtin("storage.k8s.io/v1", "StorageClass", "storageclasses", namespaced=False, short=["sc"]),
    _builtin("storage.k8s.io/v1", "CSIDriver", "csidrivers", namespaced=False),
    _builtin("storage.k8s.io/v1", "CSINode", "csinodes", namespaced=False),
    _builtin(
        "storage.k8s.io/v1", "VolumeAttachment", "volumeattachments", namespaced=False, status=True
    ),
    _builtin(
        "scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", namespaced=False, short=["pc"]
    ),
    _builtin("node.k8s.io/v1", "RuntimeClass", "runtimeclasses", namespaced=False),
    _builtin(
        "certificates.k8s.io/v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        namespaced=False,
        short=["csr"],
        status=True,
    ),
    _builtin(
        "apiregistration.k8s.io/v1", "APIService", "apiservices", namespaced=False, status=True
    ),
    _builtin(
        "flowcontrol.apiserver.k8s.io/v1",
        "FlowSchema",
        "flowschemas",
        namespaced=False,
        status=True,
        generation=True,
    ),
    _builtin(
        "flowcontrol.apiserver.k8s.io/v1",
        "PriorityLevelConfiguration",
        "prioritylevelconfigurations",
        namespaced=False,
        status=True,
        generation=True,
    ),
    _builtin("authentication.k8s.io/v1", "TokenReview", "tokenreviews", namespaced=False),
    _builtin("resource.k8s.io/v1", "DeviceClass", "deviceclasses", namespaced=False),
    _builtin("resource.k8s.io/v1", "ResourceClaim", "resourceclaims", status=True),
    _builtin("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", short=["netpol"]),
)


class Registry:
    """The served resource types; CRDs add and remove theirs while the server runs."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN_TYPES) -> None:
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rtype in types:
            self.register(rtype)

    def register(self, rtype: ResourceType) -> None:
        with self._lock:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def unregister(self, group: str, plural: str) -> None:
        """Stop serving every version of ``group/plural`` (its CRD is gone)."""
        with self._lock:
            for key in [k for k in self._types if k[0] == group and k[2] == plural]:
                del self._types[key]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for rtype in self._types.values():
                if (rtype.group, rtype.version, rtype.kind) == (group, version, kind):
                    return rtype
        return None

    def by_key(self, key: StorageKey) -> list[ResourceType]:
        """Every served version of one storage key."""
        with self._lock:
            return [t for t in self._types.values() if t.key == key]

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types.values())

    def group_versions(self) -> dict[str, list[str]]:
        """Group name to its versions, preferred (highest) first, in registration order."""
        groups: dict[str, list[str]] = {}
        for rtype in self.all():
            versions = groups.setdefault(rtype.group, [])
            if rtype.version not in versions:
                versions.append(rtype.version)
        return {g: sorted(v, key=version_priority, reverse=True) for g, v in groups.items()}

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self.all() if (t.group, t.version) == (group, version)]


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA > beta > alpha, then by numbers (v2 > v1beta3 > v1alpha1)."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (-1, 0, 0)
    major, stage, minor = match.groups()
    rank = {"alpha": 0, "beta": 1, None: 2}[stage]
    return (rank, int(major), int(minor or 0))

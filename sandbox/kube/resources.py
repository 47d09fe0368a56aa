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
    _builtin("discovery.k8s.io/v1", "EndpointSlice", "endpointslices"),
    _builtin("coordination.k8s.io/v1", "Lease", "leases"),
    _builtin("events.k8s.io/v1", "Event", "events", short=["ev"]),
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

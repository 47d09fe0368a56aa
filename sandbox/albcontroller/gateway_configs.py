"""The controller's GatewayClass, LoadBalancerConfiguration and TargetGroupConfiguration
reconcilers, and how a Gateway's configuration is resolved (v3.5.0, with its texts).

- GatewayClass (`gateway.k8s.aws/alb`): finalizer `gateway.k8s.aws/gatewayclass` (kept while
  Gateways use the class); a `parametersRef` without namespace is `InvalidParametersRef`, a
  missing LoadBalancerConfiguration `NotFound`; else `Accepted`, with the configuration's
  resourceVersion noted in `elbv2.k8s.aws/last-processed-config`. Only an `Accepted` condition
  that exists is updated (the CRD's default status provides it).
- LoadBalancerConfiguration / TargetGroupConfiguration: every one gets its finalizer
  (`gateway.k8s.aws/loadbalancerconfigurations`, `.../targetgroupconfigurations`), removed on
  deletion once no GatewayClass or Gateway of the controller uses it.
- A Gateway: its class must be accepted; the class's and the Gateway's configurations (same
  namespace) are resolved, finalized and merged; a default TargetGroupConfiguration must exist
  and have no targetReference.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from sandbox.albcontroller.gateway_status import now
from sandbox.albcontroller.kube import Cluster
from sandbox.albcontroller.tgconfig import merge_load_balancer_configurations

API = "gateway.k8s.aws/v1"
LBC = "LoadBalancerConfiguration"
TGC = "TargetGroupConfiguration"
CLASS_FINALIZER = "gateway.k8s.aws/gatewayclass"
LBC_FINALIZER = "gateway.k8s.aws/loadbalancerconfigurations"
TGC_FINALIZER = "gateway.k8s.aws/targetgroupconfigurations"
PROCESSED = "elbv2.k8s.aws/last-processed-config"
PROTECTION = "deletion_protection.enabled"


class ConfigError(Exception):
    """A Gateway's configuration cannot be resolved; the text is its `Accepted` message."""


@dataclass
class Resolved:
    config: dict[str, Any] = field(default_factory=dict)
    default_props: dict[str, Any] = field(default_factory=dict)
    protected: bool = False


def _get(cluster: Cluster, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    return cluster.get(API, kind, name, namespace)


def _not_found(kind: str, name: str) -> str:
    return f'{kind.lower()}s.gateway.k8s.aws "{name}" not found'


def _lbc_of_class(cluster: Cluster, klass: dict[str, Any]) -> dict[str, Any] | None:
    ref = (klass.get("spec") or {}).get("parametersRef")
    if not ref:
        return None
    if not ref.get("namespace"):
        raise ConfigError("Namespace must be specified in ParametersRef")
    found = _get(cluster, LBC, ref["name"], ref["namespace"])
    if found is None:
        raise ConfigError(_not_found(LBC, ref["name"]))
    return found


def _default_props(cluster: Cluster, lbc: dict[str, Any] | None, owner: str) -> dict[str, Any]:
    reference = ((lbc or {}).get("spec") or {}).get("defaultTargetGroupConfiguration")
    if lbc is None or not reference:
        return {}
    name, namespace = reference["name"], lbc["metadata"]["namespace"]
    found = _get(cluster, TGC, name, namespace)
    prefix = (
        f'failed to resolve default TargetGroupConfiguration "{name}" referenced by {owner} '
        f'LoadBalancerConfiguration "{lbc["metadata"]["name"]}" in namespace "{namespace}": '
    )
    if found is None:
        raise ConfigError(prefix + _not_found(TGC, name))
    if (found.get("spec") or {}).get("targetReference"):
        raise ConfigError(
            prefix + f'TargetGroupConfiguration "{name}" in namespace "{namespace}" has '
            "targetReference set and cannot be used as a defaultTargetGroupConfiguration — a "
            "default TGC must not have targetReference"
        )
    return dict((found.get("spec") or {}).get("defaultConfiguration") or {})


def _version(lbc: dict[str, Any], tgc_name: str | None, cluster: Cluster) -> str:
    version = str(lbc["metadata"].get("resourceVersion", ""))
    if tgc_name:
        tgc = _get(cluster, TGC, tgc_name, lbc["metadata"]["namespace"])
        if tgc is not None:
            version += "-" + str(tgc["metadata"].get("resourceVersion", ""))
    return version


def resolve(cluster: Cluster, gateway: dict[str, Any], klass: dict[str, Any]) -> Resolved:
    """The Gateway's merged LoadBalancerConfiguration spec and default target group props."""
    accepted = next(
        (
            c
            for c in (klass.get("status") or {}).get("conditions") or []
            if c.get("type") == "Accepted"
        ),
        None,
    )
    if accepted is None or accepted.get("status") != "True":
        raise ConfigError(
            f"Unable to materialize gateway when gateway class [{klass['metadata']['name']}] is "
            "not accepted"
        )
    class_lbc = _lbc_of_class(cluster, klass)
    if class_lbc is not None:
        cluster.add_finalizer(class_lbc, LBC_FINALIZER)
        reference = (class_lbc.get("spec") or {}).get("defaultTargetGroupConfiguration") or {}
        latest = _version(class_lbc, reference.get("name"), cluster)
        stored = (klass["metadata"].get("annotations") or {}).get(PROCESSED)
        if stored != latest:
            raise ConfigError(
                f"GatewayClass [{klass['metadata']['name']}] hasn't processed latest loadbalancer "
                f"config. Processed version {stored or ''}, Latest version {latest}"
            )
    ref = ((gateway.get("spec") or {}).get("infrastructure") or {}).get("parametersRef") or {}
    gateway_lbc = None
    if ref.get("kind") == LBC and ref.get("name"):
        gateway_lbc = _get(cluster, LBC, ref["name"], gateway["metadata"]["namespace"])
        if gateway_lbc is None:
            raise ConfigError(_not_found(LBC, ref["name"]))
        gateway_lbc = cluster.add_finalizer(gateway_lbc, LBC_FINALIZER)
    class_props = _default_props(cluster, class_lbc, "GatewayClass")
    gateway_props = _default_props(cluster, gateway_lbc, "Gateway")
    spec = merge_load_balancer_configurations(
        (class_lbc or {}).get("spec") if class_lbc else None,
        (gateway_lbc or {}).get("spec") if gateway_lbc else None,
    )
    prefer_class = ((class_lbc or {}).get("spec") or {}).get("mergingMode") != "prefer-gateway"
    props = {**gateway_props, **class_props} if prefer_class else {**class_props, **gateway_props}
    protected = any(
        item.get("key") == PROTECTION and str(item.get("value")).lower() == "true"
        for item in spec.get("loadBalancerAttributes") or []
    )
    return Resolved(config=spec, default_props=props, protected=protected)


def _uses(klass: dict[str, Any], gateways: list[dict[str, Any]], lbc: dict[str, Any]) -> bool:
    meta = lbc["metadata"]
    ref = (klass.get("spec") or {}).get("parametersRef") or {}
    if ref.get("kind") == LBC and (ref.get("namespace"), ref.get("name")) == (
        meta["namespace"],
        meta["name"],
    ):
        return True
    for gateway in gateways:
        if gateway["spec"].get("gatewayClassName") != klass["metadata"]["name"]:
            continue
        gw_ref = ((gateway.get("spec") or {}).get("infrastructure") or {}).get(
            "parametersRef"
        ) or {}
        same = gateway["metadata"]["namespace"] == meta["namespace"]
        if same and gw_ref.get("kind") == LBC and gw_ref.get("name") == meta["name"]:
            return True
    return False


def sync_configurations(
    cluster: Cluster, classes: dict[str, dict[str, Any]], gateways: list[dict[str, Any]]
) -> None:
    """The class and configuration reconcilers' pass (finalizers, class status)."""
    lbcs = cluster.items(API, LBC)
    in_use = [lbc for lbc in lbcs if any(_uses(k, gateways, lbc) for k in classes.values())]
    for lbc in lbcs:
        _finalize(cluster, lbc, LBC_FINALIZER, keep=lbc in in_use)
    for tgc in cluster.items(API, TGC):
        meta = tgc["metadata"]
        used = any(
            ((lbc.get("spec") or {}).get("defaultTargetGroupConfiguration") or {}).get("name")
            == meta["name"]
            and lbc["metadata"]["namespace"] == meta["namespace"]
            for lbc in in_use
        )
        _finalize(cluster, tgc, TGC_FINALIZER, keep=used)
    for klass in classes.values():
        _sync_class(cluster, klass, gateways)


def _finalize(cluster: Cluster, obj: dict[str, Any], finalizer: str, *, keep: bool) -> None:
    try:
        if not obj["metadata"].get("deletionTimestamp"):
            cluster.add_finalizer(obj, finalizer)
        elif not keep:  # still in use: the real one logs "... is still in use" and retries
            cluster.remove_finalizer(obj, finalizer)
    except ApiException:
        pass  # a conflict with another writer: the next pass tries again


def _sync_class(cluster: Cluster, klass: dict[str, Any], gateways: list[dict[str, Any]]) -> None:
    meta = klass["metadata"]
    if meta.get("deletionTimestamp"):
        used = any(g["spec"].get("gatewayClassName") == meta["name"] for g in gateways)
        if not used:
            cluster.remove_finalizer(klass, CLASS_FINALIZER)
        return
    klass = cluster.add_finalizer(klass, CLASS_FINALIZER)
    ref = (klass.get("spec") or {}).get("parametersRef")
    if ref and not ref.get("namespace"):
        message = "Namespace must be specified in ParametersRef for LoadBalancerConfiguration"
        _class_condition(cluster, klass, "False", "InvalidParametersRef", message)
        return
    lbc = None
    if ref:
        lbc = _get(cluster, LBC, ref["name"], ref["namespace"])
        if lbc is None:
            message = f"LoadBalancerConfiguration ({ref['name']},{ref['namespace']}) not found"
            _class_condition(cluster, klass, "False", "NotFound", message)
            return
    if lbc is not None:
        reference = (lbc.get("spec") or {}).get("defaultTargetGroupConfiguration") or {}
        version = _version(lbc, reference.get("name"), cluster)
        if (meta.get("annotations") or {}).get(PROCESSED) != version:
            klass = cluster.annotate(
                klass, {PROCESSED: version, PROCESSED + "-timestamp": str(int(time.time()))}
            )
    _class_condition(cluster, klass, "True", "Accepted", "Accepted")


def _class_condition(
    cluster: Cluster, klass: dict[str, Any], status: str, reason: str, message: str
) -> None:
    conditions = list((klass.get("status") or {}).get("conditions") or [])
    generation = klass["metadata"].get("generation")
    for item in conditions:
        if item.get("type") != "Accepted":
            continue
        wanted = {"status": status, "reason": reason, "message": message,
                  "observedGeneration": generation}  # fmt: skip
        if all(item.get(k) == v for k, v in wanted.items()):
            return
        item.update(wanted, lastTransitionTime=now())
        cluster.patch_status(klass, {"conditions": conditions})
        return

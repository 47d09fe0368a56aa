"""EKS Pod Identity associations and EKS add-ons, which moto 5.2.5 does not have at all.

The operations are served with the shapes of the botocore model (moto serialises the results):
CreatePodIdentityAssociation (a second one for the same namespace and service account is
``ResourceInUseException: Association already exists: <id>``, HTTP 409; the same
clientRequestToken and request again returns the first answer), List (filtered by namespace
and service account), Describe, Update (the role), Delete, and CreateAddon / DescribeAddon
(``No addon: <name> found in cluster: <cluster>``) / ListAddons / DeleteAddon. Association ids
are ``a-`` and 17 lower-case letters or digits; another length is ``InvalidParameterException:
The parameter associationId should be 19 characters long.``. A cluster that does not exist is
``ResourceNotFoundException: No cluster found for name: <name>.``. The state lives on moto's EKS
backend, so an account reset clears it. Outside sandbox requests the operations are missing, as
in moto.
"""

from __future__ import annotations

import secrets
import string
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.eks import urls
from moto.eks.models import EKSBackend, eks_backends
from moto.eks.responses import EKSResponse

from sandbox.aws.errors import EksInvalidParameter, EksResourceInUse, EksResourceNotFound
from sandbox.aws.hooks import Realism, current, extra_state, hook, state_lock

_ALPHABET = string.ascii_lowercase + string.digits
_PATHS = {
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations$": "association",
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations/(?P<associationId>[^/]+)$": "one",
    "{0}/clusters/(?P<name>[^/]+)/addons$": "addons",
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)$": "addon",
}


def _associations(backend: EKSBackend) -> dict[str, dict[str, Any]]:
    return extra_state(backend, "pod_identity_associations", dict)


def _addons(backend: EKSBackend) -> dict[tuple[str, str], dict[str, Any]]:
    return extra_state(backend, "addons", dict)


def _tokens(backend: EKSBackend) -> dict[str, str]:
    return extra_state(backend, "pod_identity_tokens", dict)


def _require_cluster(backend: EKSBackend, name: str) -> None:
    if name not in backend.clusters:
        raise EksResourceNotFound(f"No cluster found for name: {name}.")


def _association(backend: EKSBackend, cluster: str, association_id: str) -> dict[str, Any]:
    _require_cluster(backend, cluster)
    if len(association_id) != 19:
        raise EksInvalidParameter("The parameter associationId should be 19 characters long.")
    found = _associations(backend).get(association_id)
    if found is None or found["clusterName"] != cluster:
        raise EksResourceNotFound(f"Pod Identity association {association_id} not found.")
    return found


def _now() -> datetime:
    return datetime.now(UTC)


class _Operations:
    """The new operations, added to moto's EKSResponse (they read the request through it)."""

    @staticmethod
    def _param(response: EKSResponse, *names: str) -> Any:
        for name in names:
            value = response._get_param(name)
            if value is not None:
                return value
        return None

    @staticmethod
    def _backend(response: EKSResponse) -> EKSBackend:
        if current() is None:  # moto's own behaviour outside the sandbox
            raise NotImplementedError("not implemented by moto")
        return eks_backends[response.current_account][response.region]

    def create_pod_identity_association(self: Any) -> Any:
        backend, cluster = (
            _Operations._backend(self),
            _Operations._param(self, "clusterName", "name"),
        )
        _require_cluster(backend, cluster)
        namespace, account = self._get_param("namespace"), self._get_param("serviceAccount")
        role_arn, token = self._get_param("roleArn"), self._get_param("clientRequestToken")
        with state_lock():
            associations = _associations(backend)
            if token and token in _tokens(backend) and _tokens(backend)[token] in associations:
                return _result({"association": associations[_tokens(backend)[token]]})
            for item in associations.values():
                if (item["clusterName"], item["namespace"], item["serviceAccount"]) == (
                    cluster,
                    namespace,
                    account,
                ):
                    raise EksResourceInUse(f"Association already exists: {item['associationId']}")
            association_id = "a-" + "".join(secrets.choice(_ALPHABET) for _ in range(17))
            now = _now()
            item = {
                "clusterName": cluster,
                "namespace": namespace,
                "serviceAccount": account,
                "roleArn": role_arn,
                "associationArn": f"arn:aws:eks:{backend.region_name}:{backend.account_id}:"
                f"podidentityassociation/{cluster}/{association_id}",
                "associationId": association_id,
                "tags": dict(self._get_param("tags") or {}),
                "createdAt": now,
                "modifiedAt": now,
                "disableSessionTags": bool(self._get_param("disableSessionTags") or False),
            }
            associations[association_id] = item
            if token:
                _tokens(backend)[token] = association_id
        return _result({"association": item})

    def list_pod_identity_associations(self: Any) -> Any:
        backend, cluster = (
            _Operations._backend(self),
            _Operations._param(self, "clusterName", "name"),
        )
        _require_cluster(backend, cluster)
        namespace, account = self._get_param("namespace"), self._get_param("serviceAccount")
        summaries = [
            {
                key: item[key]
                for key in (
                    "clusterName",
                    "namespace",
                    "serviceAccount",
                    "associationArn",
                    "associationId",
                )
            }  # fmt: skip
            for item in _associations(backend).values()
            if item["clusterName"] == cluster
            and namespace in (None, item["namespace"])
            and account in (None, item["serviceAccount"])
        ]
        return _result({"associations": summaries})

    def describe_pod_identity_association(self: Any) -> Any:
        backend = _Operations._backend(self)
        cluster = _Operations._param(self, "clusterName", "name")
        found = _association(backend, cluster, self._get_param("associationId"))
        return _result({"association": found})

    def update_pod_identity_association(self: Any) -> Any:
        backend = _Operations._backend(self)
        cluster = _Operations._param(self, "clusterName", "name")
        with state_lock():
            found = _association(backend, cluster, self._get_param("associationId"))
            role_arn = self._get_param("roleArn")
            if role_arn:
                found["roleArn"] = role_arn
            found["modifiedAt"] = _now()
        return _result({"association": found})

    def delete_pod_identity_association(self: Any) -> Any:
        backend = _Operations._backend(self)
        cluster = _Operations._param(self, "clusterName", "name")
        with state_lock():
            found = _association(backend, cluster, self._get_param("associationId"))
            del _associations(backend)[found["associationId"]]
        return _result({"association": found})

    def create_addon(self: Any) -> Any:
        backend, cluster = (
            _Operations._backend(self),
            _Operations._param(self, "clusterName", "name"),
        )
        _require_cluster(backend, cluster)
        name = self._get_param("addonName")
        with state_lock():
            if (cluster, name) in _addons(backend):
                raise EksResourceInUse(f"Addon already exists: {name}")
            now = _now()
            addon = {
                "addonName": name,
                "clusterName": cluster,
                "status": "CREATING",
                "addonVersion": self._get_param("addonVersion") or "v1.3.10-eksbuild.2",
                "health": {"issues": []},
                "addonArn": f"arn:aws:eks:{backend.region_name}:{backend.account_id}:addon/"
                f"{cluster}/{name}/{uuid.uuid4()}",
                "createdAt": now,
                "modifiedAt": now,
                "tags": dict(self._get_param("tags") or {}),
            }
            _addons(backend)[(cluster, name)] = addon
            shown = dict(addon)
            addon["status"] = "ACTIVE"  # what the next look shows
        return _result({"addon": shown})

    def describe_addon(self: Any) -> Any:
        backend, cluster = (
            _Operations._backend(self),
            _Operations._param(self, "clusterName", "name"),
        )
        return _result({"addon": _addon(backend, cluster, self._get_param("addonName"))})

    def list_addons(self: Any) -> Any:
        backend, cluster = (
            _Operations._backend(self),
            _Operations._param(self, "clusterName", "name"),
        )
        _require_cluster(backend, cluster)
        return _result({"addons": sorted(n for c, n in _addons(backend) if c == cluster)})

    def delete_addon(self: Any) -> Any:
        backend, cluster = (
            _Operations._backend(self),
            _Operations._param(self, "clusterName", "name"),
        )
        with state_lock():
            addon = _addon(backend, cluster, self._get_param("addonName"))
            del _addons(backend)[(cluster, addon["addonName"])]
        return _result({"addon": {**addon, "status": "DELETING"}})


def _addon(backend: EKSBackend, cluster: str, name: str) -> dict[str, Any]:
    _require_cluster(backend, cluster)
    found = _addons(backend).get((cluster, name))
    if found is None:
        raise EksResourceNotFound(f"No addon: {name} found in cluster: {cluster}")
    return found


def _result(value: dict[str, Any]) -> Any:
    from moto.core.responses import ActionResult

    return ActionResult(value)


# --- tags on associations (moto's TagResource knows clusters only) -----------------------


def _tagged(backend: EKSBackend, arn: str) -> dict[str, str] | None:
    for item in _associations(backend).values():
        if item["associationArn"] == arn:
            tags: dict[str, str] = item["tags"]
            return tags
    return None


def _around_tag(
    realism: Realism, original: Any, backend: EKSBackend, resource_arn: str, tags: dict[str, str]
) -> None:
    found = _tagged(backend, resource_arn)
    if found is None:
        return original(backend, resource_arn, tags)  # type: ignore[no-any-return]
    with state_lock():
        found.update(tags)
    return None


def _around_untag(
    realism: Realism, original: Any, backend: EKSBackend, resource_arn: str, tag_keys: Any
) -> None:
    found = _tagged(backend, resource_arn)
    if found is None:
        return original(backend, resource_arn, tag_keys)  # type: ignore[no-any-return]
    with state_lock():
        for key in [tag_keys] if isinstance(tag_keys, str) else tag_keys:
            found.pop(key, None)
    return None


def _around_list_tags(
    realism: Realism, original: Any, backend: EKSBackend, resource_arn: str
) -> dict[str, str]:
    found = _tagged(backend, resource_arn)
    if found is None:
        return original(backend, resource_arn)  # type: ignore[no-any-return]
    return dict(found)


# --- the world's levers ------------------------------------------------------------------


def set_addon_status(account_id: str, region: str, cluster: str, name: str, status: str) -> None:
    """E.g. ``DEGRADED`` or ``CREATING`` for preflight tests."""
    backend = eks_backends[account_id][region]
    with state_lock():
        _addon(backend, cluster, name)["status"] = status


def forget_cluster(account_id: str, region: str, cluster: str) -> None:
    """A deleted cluster takes its associations and add-ons with it."""
    backend = eks_backends[account_id][region]
    with state_lock():
        associations = _associations(backend)
        for association_id in [k for k, v in associations.items() if v["clusterName"] == cluster]:
            del associations[association_id]
        for key in [key for key in _addons(backend) if key[0] == cluster]:
            del _addons(backend)[key]


def install() -> None:
    for path in _PATHS:
        urls.url_paths.setdefault(path, urls.response.dispatch)
    for name, member in vars(_Operations).items():
        if not name.startswith("_") and callable(member) and not hasattr(EKSResponse, name):
            setattr(EKSResponse, name, member)
    hook(EKSBackend, "tag_resource", _around_tag)
    hook(EKSBackend, "untag_resource", _around_untag)
    hook(EKSBackend, "list_tags_for_resource", _around_list_tags)

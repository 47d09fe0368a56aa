"""Admission webhooks really called by the stand-in: reviews, verdicts, patches, TLS, policies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.kube import ApiError, ObjectStore
from tests.sandbox.webhook_backend import HookServer, allow, patch_answer

HOOK_IP, HOOK_PORT = "10.0.0.5", 9443
URL = "https://hook.kube-system.svc:443/validate?timeout=10s"


@pytest.fixture
def hook() -> Iterator[HookServer]:
    server = HookServer()
    yield server
    server.stop()


@pytest.fixture
def store(hook: HookServer) -> ObjectStore:
    """A store with a selector-less Service and hand-written Endpoints that lead to ``hook``."""
    store = ObjectStore()
    for name, labels in (("default", {}), ("kube-system", {}), ("tenant", {"hooks": "on"})):
        store.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        )
    store.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hook", "namespace": "kube-system"},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": HOOK_PORT}]},
        }
    )
    store.create(
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "hook", "namespace": "kube-system"},
            "subsets": [
                {
                    "addresses": [{"ip": HOOK_IP}],
                    "ports": [{"name": "https", "port": HOOK_PORT}],
                }
            ],
        }
    )
    store.network.serve_ip(HOOK_IP, HOOK_PORT, lambda: hook.address)
    return store


def _config(
    hook: HookServer,
    *,
    kind: str = "ValidatingWebhookConfiguration",
    name: str = "v.example.com",
    path: str = "/validate",
    ca_bundle: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    webhook = {
        "name": name,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "clientConfig": {
            "service": {"name": "hook", "namespace": "kube-system", "path": path},
            "caBundle": hook.ca_bundle if ca_bundle is None else ca_bundle,
        },
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["configmaps"],
            }
        ],
        **fields,
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": [webhook],
    }


def _configmap(name: str = "cm", namespace: str = "default", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"k": "v"},
    }


def _refusal(store: ObjectStore, obj: dict[str, Any], **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as refused:
        store.apply(obj, **kwargs)
    return refused.value


def test_the_webhook_gets_an_admission_review_v1_and_its_yes_lets_the_write_through(
    store: ObjectStore, hook: HookServer
) -> None:
    store.create(_config(hook))
    store.apply(_configmap())
    assert store.get("v1", "ConfigMap", "cm", "default")["data"] == {"k": "v"}
    path, review = hook.requests[-1]
    assert path == "/validate?timeout=10s"
    assert (review["apiVersion"], review["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    request = review["request"]
    assert request["operation"] == "CREATE"
    assert request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert (request["namespace"], request["name"]) == ("default", "cm")
    assert request["object"]["data"] == {"k": "v"}
    assert request["oldObject"] is None
    assert request["dryRun"] is False
    assert request["uid"]


def test_every_matching_write_is_reviewed_no_op_re_applies_included(
    store: ObjectStore, hook: HookServer
) -> None:
    store.create(_config(hook))
    store.apply(_configmap())
    version = store.get("v1", "ConfigMap", "cm", "default")["metadata"]["resourceVersion"]
    store.apply(_configmap())  # changes nothing
    assert store.get("v1", "ConfigMap", "cm", "default")["metadata"]["resourceVersion"] == version
    operations = [review["request"]["operation"] for _, review in hook.requests]
    assert operations == ["CREATE", "UPDATE"]
    assert hook.requests[-1][1]["request"]["oldObject"]["data"] == {"k": "v"}
    store.delete("v1", "ConfigMap", "cm", "default")  # DELETE is not in the rule
    assert len(hook.requests) == 2


def test_a_denial_refuses_the_write_with_the_webhooks_message_and_code(
    store: ObjectStore, hook: HookServer
) -> None:
    store.create(_config(hook))
    hook.answers["/validate"] = lambda request: {
        "allowed": False,
        "status": {"message": "name cm is reserved"},
    }
    refused = _refusal(store, _configmap())
    assert (refused.code, refused.message) == (
        400,
        'admission webhook "v.example.com" denied the request: name cm is reserved',
    )
    hook.answers["/validate"] = lambda request: {
        "allowed": False,
        "status": {"code": 403, "reason": "Forbidden"},
    }
    refused = _refusal(store, _configmap())
    assert (refused.code, refused.reason) == (403, "Forbidden")
    assert (
        refused.message
        == 'admission webhook "v.example.com" denied the request without explanation'
    )
    assert store.find("v1", "ConfigMap", "cm", "default") is None


def test_a_mutating_patch_is_applied_before_validating_webhooks_see_the_object(
    store: ObjectStore, hook: HookServer
) -> None:
    store.create(
        _config(hook, kind="MutatingWebhookConfiguration", name="m.example.com", path="/mutate")
    )
    store.create(_config(hook))
    hook.answers["/mutate"] = patch_answer(
        [{"op": "add", "path": "/metadata/labels/injected", "value": "yes"}]
    )
    store.apply(_configmap())
    assert hook.paths() == ["/mutate", "/validate"]
    validated = hook.requests[1][1]["request"]["object"]
    assert validated["metadata"]["labels"] == {"injected": "yes"}
    stored = store.get("v1", "ConfigMap", "cm", "default")
    assert stored["metadata"]["labels"] == {"injected": "yes"}


def test_rules_match_operations_groups_resources_and_scope(
    store: ObjectStore, hook: HookServer
) -> None:
    store.create(
        _config(
            hook,
            rules=[
                {
                    "apiGroups": ["*"],
                    "apiVersions": ["*"],
                    "operations": ["DELETE"],
                    "resources": ["*"],
                    "scope": "Namespaced",
                }
            ],
        )
    )
    store.create(
        _config(
            hook,
            name="other-version.example.com",
            rules=[
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1beta1"],
                    "operations": ["*"],
                    "resources": ["configmaps"],
                }
            ],
        )
    )
    store.apply(_configmap())
    store.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "extra"}})
    assert hook.requests == []  # creates are not deletes, v1 is not v1beta1
    store.delete("v1", "Namespace", "extra")  # cluster-scoped: out of a Namespaced rule
    assert hook.requests == []
    store.delete("v1", "ConfigMap", "cm", "default")
    ((_, review),) = hook.requests
    assert review["request"]["operation"] == "DELETE"
    assert review["request"]["object"] is None
    assert review["request"]["oldObject"]["metadata"]["name"] == "cm"


def test_namespace_and_object_selectors_pick_the_writes_reviewed(
    store: ObjectStore, hook: HookServer
) -> None:
    store.create(
        _config(
            hook,
            namespaceSelector={"matchLabels": {"hooks": "on"}},
            objectSelector={"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]},
        )
    )
    store.apply(_configmap("a", "default"))
    store.apply(_configmap("b", "tenant", skip="yes"))
    assert hook.requests == []
    store.apply(_configmap("c", "tenant"))
    assert [review["request"]["name"] for _, review in hook.requests] == ["c"]


def test_failure_policy_ignore_lets_writes_through_an_unreachable_webhook_but_not_a_no(
    store: ObjectStore, hook: HookServer
) -> None:
    config = _config(hook, failurePolicy="Ignore")
    config["webhooks"][0]["clientConfig"]["service"]["name"] = "absent"
    store.create(config)
    store.apply(_configmap("through"))
    store.delete(
        "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "v.example.com"
    )
    store.create(_config(hook, failurePolicy="Ignore"))
    hook.answers["/validate"] = lambda request: {"allowed": False, "status": {"message": "no"}}
    assert _refusal(store, _configmap("denied")).code == 400


def test_a_webhook_that_does_not_answer_in_time_fails_with_deadline_exceeded(
    store: ObjectStore, hook: HookServer
) -> None:
    hook.hold = threading.Event()
    store.create(_config(hook, timeoutSeconds=1))
    refused = _refusal(store, _configmap())
    assert (refused.code, refused.message) == (
        500,
        'Internal error occurred: failed calling webhook "v.example.com": failed to call webhook: '
        'Post "https://hook.kube-system.svc:443/validate?timeout=1s": context deadline exceeded',
    )
    assert store.find("v1", "ConfigMap", "cm", "default") is None
    store.delete(
        "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "v.example.com"
    )
    store.create(_config(hook, timeoutSeconds=1, failurePolicy="Ignore"))
    store.apply(_configmap())  # Ignore: the write goes on without the slow webhook
    hook.hold.set()
    assert store.find("v1", "ConfigMap", "cm", "default") is not None


def test_a_ca_bundle_that_did_not_sign_the_serving_certificate_fails_x509(
    store: ObjectStore, hook: HookServer
) -> None:
    other = HookServer()
    try:
        store.create(_config(hook, ca_bundle=other.ca_bundle))
    finally:
        other.stop()
    refused = _refusal(store, _configmap())
    assert refused.code == 500
    assert refused.message.endswith(
        f'failed to call webhook: Post "{URL}": tls: failed to verify certificate: '
        "x509: certificate signed by unknown authority"
    )


def test_a_certificate_for_another_name_fails_with_the_names_it_is_valid_for(
    store: ObjectStore,
) -> None:
    wrong = HookServer(names=["other.kube-system.svc"])
    try:
        store.network.serve_ip(HOOK_IP, HOOK_PORT, lambda: wrong.address)
        store.create(_config(wrong))
        refused = _refusal(store, _configmap())
    finally:
        wrong.stop()
    assert refused.message.endswith(
        "tls: failed to verify certificate: x509: certificate is valid for "
        "other.kube-system.svc, not hook.kube-system.svc"
    )


def test_dry_run_needs_a_webhook_without_side_effects(store: ObjectStore, hook: HookServer) -> None:
    store.create(_config(hook))
    rtype = store.resource_type("v1", "ConfigMap")
    store.create_object(rtype, "default", _configmap(), manager="t", dry_run=True)
    assert hook.requests[-1][1]["request"]["dryRun"] is True
    assert store.find("v1", "ConfigMap", "cm", "default") is None
    store.delete(
        "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "v.example.com"
    )
    # admissionregistration/v1 takes only None and NoneOnDryRun: a hook with side effects on
    # dry runs ("Some", "Unknown") cannot be registered, so a dry run never reaches one.
    with pytest.raises(ApiError) as refused:
        store.create(_config(hook, sideEffects="Some"))
    assert refused.value.code == 422
    assert 'sideEffects: Unsupported value: "Some"' in refused.value.message
    store.create(_config(hook))
    store.apply(_configmap())  # a real write calls it
    assert len(hook.requests) == 2


def test_the_objects_own_validation_comes_before_the_validating_webhooks(
    store: ObjectStore, hook: HookServer
) -> None:
    store.create(
        _config(
            hook,
            rules=[
                {
                    "apiGroups": ["apps"],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE"],
                    "resources": ["deployments"],
                }
            ],
        )
    )
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "c"}}},
        },
    }
    with pytest.raises(ApiError) as refused:
        store.create(bad)
    assert refused.value.code == 422
    assert hook.requests == []


def test_a_v1beta1_only_webhook_gets_a_v1beta1_review(store: ObjectStore, hook: HookServer) -> None:
    store.create(_config(hook, admissionReviewVersions=["v1beta1"]))
    hook.answers["/validate"] = allow
    store.apply(_configmap())
    assert hook.requests[-1][1]["apiVersion"] == "admission.k8s.io/v1beta1"

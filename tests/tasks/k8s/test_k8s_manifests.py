"""Rendering the bundled kustomize bases with real kubectl, and setting their parameters."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from core import naming
from core.controller_versions import BUNDLED_VERSIONS, DEFAULT_CONTROLLER_VERSION
from core.errors import SpecError
from core.kubestate import ingress_fields
from core.manifests import (
    CLASS_ANNOTATION,
    PLACEHOLDER,
    ControllerParams,
    IngressParams,
    configure_ingress,
    key,
    select_ingress,
    tags_annotation,
    unresolved,
)
from tasks.k8s import manifests, webhook_tls

ALB = "alb.ingress.kubernetes.io/"
CERTS = (
    "arn:aws:acm:us-west-2:111122223333:certificate/sub",
    "arn:aws:acm:us-west-2:111122223333:certificate/root",
)


def controller_params(
    ca: bytes = b"-----BEGIN CERTIFICATE-----\nx\n", version: str = DEFAULT_CONTROLLER_VERSION
) -> ControllerParams:
    return ControllerParams(
        stack="platform-example-com",
        cluster_name="kubeflow",
        region="us-west-2",
        vpc_id="vpc-0abc",
        role_arn="arn:aws:iam::111122223333:role/kfalb-platform-example-com-lbc",
        ca_bundle=ca,
        version=version,
    )


def ingress_params(**overrides: object) -> IngressParams:
    values: dict[str, object] = {
        "stack": "platform-example-com",
        "certificate_arns": CERTS,
        "scheme": "internal",
        "tags": naming.ownership_tags("platform-example-com", {"team": "ml"}),
    }
    values.update(overrides)
    return IngressParams(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", BUNDLED_VERSIONS)
def test_controller_base_renders_every_kind_with_placeholders(version: str) -> None:
    objects = manifests.render(manifests.controller_base(version))
    kinds = sorted(obj["kind"] for obj in objects)
    # v3.5.0 ships its gateway.k8s.aws CRDs as its chart does (LoadBalancerConfiguration,
    # TargetGroupConfiguration, ListenerRuleConfiguration).
    crds = 5 if version == "v3.5.0" else 2
    assert kinds == sorted(
        [
            *["CustomResourceDefinition"] * crds,
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment",
            "IngressClassParams",
            "IngressClass",
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ]
    )
    # Cluster-scoped custom resource: kustomize must not have given it a namespace.
    params = next(obj for obj in objects if obj["kind"] == "IngressClassParams")
    assert "namespace" not in params["metadata"]
    assert params["metadata"]["labels"]["app.kubernetes.io/name"] == naming.CONTROLLER_NAME
    assert len(unresolved(objects)) == 4  # cluster, region, VPC id, role ARN; nothing else
    ingress_class = next(obj for obj in objects if obj["kind"] == "IngressClass")
    assert ingress_class["spec"]["controller"] == "ingress.k8s.aws/alb"


@pytest.mark.parametrize("version", BUNDLED_VERSIONS)
def test_controller_parameters_are_set_on_the_objects(version: str) -> None:
    tls = webhook_tls.generate()
    objects = manifests.controller_objects(controller_params(tls.ca_pem, version), tls)
    assert unresolved(objects) == []
    assert objects[0]["kind"] == "CustomResourceDefinition"
    assert objects[-1]["kind"].endswith("WebhookConfiguration")
    for obj in objects:
        assert naming.is_owned(obj["metadata"]["labels"], "platform-example-com"), key(obj)
    by_kind = {obj["kind"]: obj for obj in objects}
    sa = by_kind["ServiceAccount"]
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("-lbc")
    container = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"public.ecr.aws/eks/aws-load-balancer-controller:{version}"
    assert {
        "--cluster-name=kubeflow",
        "--aws-region=us-west-2",
        "--aws-vpc-id=vpc-0abc",
        "--ingress-class=alb",
    } <= set(container["args"])
    volume = by_kind["Deployment"]["spec"]["template"]["spec"]["volumes"][0]
    assert volume["secret"]["secretName"] == "aws-load-balancer-webhook-tls"
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        for hook in by_kind[kind]["webhooks"]:
            assert base64.b64decode(hook["clientConfig"]["caBundle"]) == tls.ca_pem
    secret = by_kind["Secret"]
    assert base64.b64decode(secret["data"]["tls.crt"]) == tls.cert_pem


def test_missing_controller_parameter_is_refused() -> None:
    objects = manifests.render(manifests.controller_base())
    params = controller_params()
    with pytest.raises(SpecError, match="vpc_id"):
        manifests.configure_controller(
            objects, ControllerParams(**{**params.__dict__, "vpc_id": ""})
        )


def test_ingress_base_gets_certificates_scheme_tags_and_labels() -> None:
    ingress = configure_ingress(manifests.ingress_source(), ingress_params())
    annotations = ingress["metadata"]["annotations"]
    assert key(ingress) == "Ingress istio-system/istio-ingress"
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert annotations[ALB + "certificate-arn"] == ",".join(CERTS)
    assert annotations[ALB + "scheme"] == "internal"
    assert annotations[ALB + "ssl-policy"].startswith("ELBSecurityPolicy-TLS13-1-2")
    assert annotations[ALB + "ssl-redirect"] == "443"
    assert json.loads(annotations[ALB + "listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert annotations[ALB + "target-type"] == "ip"
    assert annotations[ALB + "healthcheck-port"] == "15021"
    assert annotations[ALB + "healthcheck-path"] == "/healthz/ready"
    assert (
        "drop_invalid_header_fields.enabled=true" in annotations[ALB + "load-balancer-attributes"]
    )
    assert annotations[ALB + "tags"] == (
        "app.kubernetes.io/managed-by=kubeflow-alb,kubeflow-alb/stack=platform-example-com,team=ml"
    )
    assert naming.is_owned(ingress["metadata"]["labels"], "platform-example-com")
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["path"] == "/"
    assert path["backend"]["service"] == {"name": "istio-ingressgateway", "port": {"number": 80}}
    assert unresolved([ingress]) == []
    assert ingress_fields(ingress)["annotation:scheme"] == "internal"


def test_ingress_class_follows_the_controller_in_use() -> None:
    ingress = configure_ingress(
        manifests.ingress_source(), ingress_params(ingress_class="auto-alb")
    )
    assert ingress["spec"]["ingressClassName"] == "auto-alb"


def write_kubeflow_manifests(root: Path) -> Path:
    """The layout of kubeflow-manifests' load-balancer add-on: old-style kustomize with vars."""
    base = root / "awsconfigs/common/istio-ingress/base"
    https = root / "awsconfigs/common/istio-ingress/overlays/https"
    addon = root / "deployments/add-ons/load-balancer"
    for folder in (base, https, addon):
        folder.mkdir(parents=True)
    (base / "ingress.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: istio-ingress\n"
        "  annotations:\n    kubernetes.io/ingress.class: alb\n"
        "    alb.ingress.kubernetes.io/scheme: $(loadBalancerScheme)\n"
        "    alb.ingress.kubernetes.io/target-type: ip\n"
        "spec:\n  rules:\n  - http:\n      paths:\n      - path: /*\n"
        "        pathType: ImplementationSpecific\n        backend:\n          service:\n"
        "            name: istio-ingressgateway\n            port:\n              number: 80\n"
    )
    (base / "params.env").write_text("loadBalancerScheme=internet-facing\n")
    (base / "params.yaml").write_text(
        "varReference:\n- path: metadata/annotations\n  kind: Ingress\n"
    )
    (base / "kustomization.yaml").write_text(
        "namespace: istio-system\nresources:\n- ingress.yaml\n"
        "commonLabels:\n  kustomize.component: istio-ingress\n"
        "configMapGenerator:\n- name: istio-ingress-parameters\n  envs:\n  - params.env\n"
        "generatorOptions:\n  disableNameSuffixHash: true\n"
        "vars:\n- name: loadBalancerScheme\n  objref:\n    kind: ConfigMap\n"
        "    name: istio-ingress-parameters\n    apiVersion: v1\n"
        "  fieldref:\n    fieldpath: data.loadBalancerScheme\nconfigurations:\n- params.yaml\n"
    )
    (https / "ingress.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: istio-ingress\n"
        "  annotations:\n    alb.ingress.kubernetes.io/certificate-arn: $(certArn)\n"
        "    alb.ingress.kubernetes.io/listen-ports: '[{\"HTTPS\":443}]'\n"
    )
    (https / "params.env").write_text("certArn=\n")
    (https / "kustomization.yaml").write_text(
        "bases:\n- ../../base\npatchesStrategicMerge:\n- ingress.yaml\n"
        "generatorOptions:\n  disableNameSuffixHash: true\n"
        "configMapGenerator:\n- name: istio-ingress-parameters\n  behavior: merge\n"
        "  envs:\n  - params.env\n"
        "vars:\n- name: certArn\n  objref:\n    kind: ConfigMap\n"
        "    name: istio-ingress-parameters\n    apiVersion: v1\n"
        "  fieldref:\n    fieldpath: data.certArn\nnamespace: istio-system\n"
    )
    (addon / "kustomization.yaml").write_text(
        "resources:\n- ../../../awsconfigs/common/istio-ingress/overlays/https\n"
    )
    return addon


def test_users_kubeflow_manifests_ingress_is_converted(tmp_path: Path) -> None:
    addon = write_kubeflow_manifests(tmp_path)
    rendered = manifests.render(addon)
    assert {obj["kind"] for obj in rendered} == {"ConfigMap", "Ingress"}
    ingress = configure_ingress(
        manifests.ingress_source(str(addon)), ingress_params(scheme="internet-facing")
    )
    annotations = ingress["metadata"]["annotations"]
    assert CLASS_ANNOTATION not in annotations
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert annotations[ALB + "certificate-arn"] == ",".join(CERTS)
    assert annotations[ALB + "scheme"] == "internet-facing"
    assert annotations[ALB + "listen-ports"] == '[{"HTTPS":443}]'  # the user's choice is kept
    assert annotations[ALB + "tags"].startswith("app.kubernetes.io/managed-by=kubeflow-alb")
    labels = ingress["metadata"]["labels"]
    assert labels["kustomize.component"] == "istio-ingress"
    assert naming.is_owned(labels, "platform-example-com")


def test_manifests_path_without_the_ingress_is_a_spec_error(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n- cm.yaml\n")
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    with pytest.raises(SpecError, match="found Ingresses: none"):
        configure_ingress(manifests.ingress_source(str(tmp_path)), ingress_params())
    with pytest.raises(SpecError, match="not a kustomize directory"):
        manifests.render(tmp_path / "missing")


def test_broken_kustomization_names_kubectls_error(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n- nowhere.yaml\n")
    with pytest.raises(SpecError, match="nowhere.yaml"):
        manifests.render(tmp_path)


_CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n"


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bundle of our own in place of deployments/: cm/ uses its sibling shared/, which holds
    one ConfigMap named `first`; renders are kept in a cache under tmp_path."""
    bundle = tmp_path / "deployments"
    (bundle / "cm").mkdir(parents=True)
    (bundle / "cm" / "kustomization.yaml").write_text("resources:\n- ../shared\n")
    (bundle / "shared").mkdir()
    (bundle / "shared" / "kustomization.yaml").write_text("resources:\n- cm.yaml\n")
    (bundle / "shared" / "cm.yaml").write_text(_CONFIG_MAP.format("first"))
    monkeypatch.setattr(manifests, "DEPLOYMENTS", bundle)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return bundle


def _counted_renders(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The directories kubectl renders from now on, in order."""
    renders: list[Path] = []
    real = manifests._render
    monkeypatch.setattr(manifests, "_render", lambda path: renders.append(path) or real(path))
    return renders


def test_a_bundled_render_is_kept_until_a_bundled_file_changes(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "kustomization.yaml").write_text("resources:\n- cm.yaml\n")
    (user / "cm.yaml").write_text(_CONFIG_MAP.format("user"))
    renders = _counted_renders(monkeypatch)

    (first,) = manifests.render(bundle / "cm")
    first["metadata"]["name"] = "changed by a caller"
    (again,) = manifests.render(bundle / "cm")
    assert again["metadata"]["name"] == "first"  # each caller gets its own copy
    assert renders == [bundle / "cm"]
    # A sibling the base uses changes (another size): rendered anew.
    (bundle / "shared" / "cm.yaml").write_text(_CONFIG_MAP.format("second one"))
    (changed,) = manifests.render(bundle / "cm")
    assert changed["metadata"]["name"] == "second one"
    assert len(renders) == 2
    # A user's directory is never kept.
    manifests.render(user)
    (user / "cm.yaml").write_text(_CONFIG_MAP.format("user-edited"))
    (edited,) = manifests.render(user)
    assert edited["metadata"]["name"] == "user-edited"
    assert renders[2:] == [user, user]


def test_a_bundled_render_is_read_back_by_the_next_process_until_kubectl_changes(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders = _counted_renders(monkeypatch)

    def next_process() -> list[dict[str, object]]:
        manifests._BUNDLED_RENDERS.clear()  # what a new process starts with
        return manifests.render(bundle / "cm")

    first = next_process()
    assert next_process() == first
    assert len(renders) == 1  # the second process read the first one's render
    kept = list((tmp_path / "cache" / "kubeflow-alb" / "renders").iterdir())
    assert [path.suffix for path in kept] == [".json"]
    assert json.loads(kept[0].read_text()) == first
    # Another kubectl (an upgrade) renders anew; so does a cache that cannot be read back.
    other = tmp_path / "kubectl"
    other.write_text("#!/bin/sh\n")
    real_kubectl = manifests.kubectl()
    monkeypatch.setattr(manifests, "kubectl", lambda: str(other))
    monkeypatch.setattr(manifests, "_render", lambda path: renders.append(path) or [{"other": 1}])
    assert next_process() == [{"other": 1}]
    monkeypatch.setattr(manifests, "kubectl", lambda: real_kubectl)
    kept[0].write_text("{not json")
    assert next_process() == [{"other": 1}]  # rendered again (and kept again)
    assert len(renders) == 3


def test_ingress_selected_by_backend_when_named_otherwise() -> None:
    other = {
        "kind": "Ingress",
        "metadata": {"name": "web"},
        "spec": {"defaultBackend": {"service": {"name": "web"}}},
    }
    mine = {
        "kind": "Ingress",
        "metadata": {"name": "kubeflow"},
        "spec": {
            "rules": [
                {"http": {"paths": [{"backend": {"service": {"name": "istio-ingressgateway"}}}]}}
            ]
        },
    }
    assert select_ingress([other, mine]) is mine


def test_ingress_parameters_are_checked() -> None:
    ingress = {"kind": "Ingress", "metadata": {"name": "istio-ingress"}, "spec": {}}
    with pytest.raises(SpecError, match="certificate"):
        configure_ingress(ingress, ingress_params(certificate_arns=()))
    with pytest.raises(SpecError, match="scheme"):
        configure_ingress(ingress, ingress_params(scheme="public"))
    with pytest.raises(SpecError, match="separates tags"):
        tags_annotation({"team": "a,b"})
    placeholder = {**ingress, "metadata": {"name": "i", "annotations": {"x": PLACEHOLDER}}}
    with pytest.raises(SpecError, match=r"metadata\.annotations\.x"):
        configure_ingress(placeholder, ingress_params())


def test_the_versions_differ_where_their_charts_do() -> None:
    """v3.4+ lists AdmissionReview v1 only; v3 leaves its ALB Gateway API gate to its CRD
    detection and sets the NLB and ListenerSet ones off (v2.17.1 has no GatewayListenerSet gate
    and would refuse the flag). Webhook names and paths are the same."""
    by_version = {v: manifests.render(manifests.controller_base(v)) for v in BUNDLED_VERSIONS}

    def hooks(version: str) -> dict[str, tuple[str, ...]]:
        return {hook["name"]: (hook["clientConfig"]["service"]["path"],
                               *hook["admissionReviewVersions"])
                for obj in by_version[version] if obj["kind"].endswith("WebhookConfiguration")
                for hook in obj["webhooks"]}  # fmt: skip

    def args(version: str) -> list[str]:
        deployment = next(o for o in by_version[version] if o["kind"] == "Deployment")
        return list(deployment["spec"]["template"]["spec"]["containers"][0]["args"])

    v2, v3 = hooks("v2.17.1"), hooks("v3.5.0")
    assert v2.keys() == v3.keys() >= {"vingress.elbv2.k8s.aws", "mpod.elbv2.k8s.aws"}
    assert {review for _, review in v2.values()} == {"v1beta1"}
    assert {review for _, review in v3.values()} == {"v1"}
    assert {path for path, _ in v2.values()} == {path for path, _ in v3.values()}
    assert not any(arg.startswith("--feature-gates") for arg in args("v2.17.1"))
    assert "--feature-gates=NLBGatewayAPI=false,GatewayListenerSet=false" in args("v3.5.0")


def test_removal_knows_the_objects_of_every_version_once() -> None:
    every = manifests.every_controller_object()
    keys = [key(obj) for obj in every]
    assert len(keys) == len(set(keys))
    for version in BUNDLED_VERSIONS:
        assert {key(obj) for obj in manifests.render(manifests.controller_base(version))} <= set(
            keys
        )


def test_an_unbundled_version_has_no_base() -> None:
    with pytest.raises(SpecError, match="choose one of v2.17.1, v3.5.0"):
        manifests.controller_base("v2.4.7")


@pytest.mark.parametrize("version", BUNDLED_VERSIONS)
def test_iam_policy_is_the_published_document(version: str) -> None:
    policy = json.loads((manifests.controller_base(version) / "iam-policy.json").read_text())
    assert policy["Version"] == "2012-10-17"
    actions = {
        a
        for s in policy["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert len(policy["Statement"]) == 16
    assert {
        "elasticloadbalancing:CreateLoadBalancer",
        "ec2:AuthorizeSecurityGroupIngress",
    } <= actions


def _kustomize_dir(root: Path, ingress: str) -> Path:
    root.mkdir(parents=True)
    (root / "kustomization.yaml").write_text("resources:\n- ingress.yaml\n")
    (root / "ingress.yaml").write_text(ingress)
    return root


GATEWAY_INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: istio-ingress, namespace: istio-system}
spec:
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: istio-ingressgateway, port: {number: 80}}}
"""


def _a_file(root: Path) -> str:
    (root / "config.yaml").write_text("a: 1\n")
    return str(root / "config.yaml")


def test_check_manifests_path_accepts_a_kustomize_dir_with_the_ingress(tmp_path: Path) -> None:
    good = _kustomize_dir(tmp_path / "lb", GATEWAY_INGRESS)
    assert manifests.check_manifests_path(str(good)) == str(good.resolve())
    assert manifests.check_manifests_path(None) is None
    assert manifests.check_manifests_path(str(manifests.INGRESS_BASE))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: str(tmp / "absent"), r"'.*absent' does not exist on this machine"),
        (lambda tmp: "../" * 12 + "etc", r"'(\.\./)+etc' has no kustomization\.yaml"),
        (lambda tmp: _a_file(tmp), "'.*config.yaml' is not a directory"),
        (
            lambda tmp: str(_kustomize_dir(tmp / "broken", "kind: [")),
            r"kubectl kustomize .* failed",
        ),
        (
            lambda tmp: str(
                _kustomize_dir(
                    tmp / "other",
                    GATEWAY_INGRESS.replace("istio-ingress,", "other,").replace(
                        "istio-ingressgateway", "web"
                    ),
                )
            ),
            "expected one Ingress named 'istio-ingress'",
        ),
    ],
    ids=["missing", "dot-dot-etc", "a-file", "does-not-render", "no-gateway-ingress"],
)
def test_check_manifests_path_refuses_with_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: object, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(SpecError, match=r"^stack\.manifestsPath: " + message):
        manifests.check_manifests_path(path)

"""Setup refuses bad input and unmet prerequisites before creating anything; EKS access works."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.spec import StackSpec, load_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
ISTIO = "istio-system"


def _spec(**cluster: str) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["cluster"].update(cluster)
    return StackSpec.model_validate(data)


def _ours(world: Any) -> list[str]:
    """Kubernetes objects kubeflow-alb wrote (its field manager) or labelled as a stack's.

    The sandbox's own controllers keep writing (Deployment status, default service accounts),
    so "nothing created" is checked by author, not by a snapshot of everything.
    """
    from core.naming import FIELD_MANAGER, STACK_TAG

    store = world.kube.store
    found = []
    for rtype in store.registry.all():
        for obj in store.list_objects(rtype, None)[0]:
            meta = obj["metadata"]
            managers = {entry.get("manager") for entry in meta.get("managedFields") or []}
            if FIELD_MANAGER in managers or STACK_TAG in (meta.get("labels") or {}):
                found.append(f"{obj['kind']} {meta.get('namespace', '')}/{meta['name']}")
    return found


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unreachable_kubeconfig(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config = yaml.safe_load(Path(world.env["KUBECONFIG"]).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{_closed_port()}"
    broken = Path(world.env["KUBECONFIG"]).with_name("kubeconfig-unreachable")
    broken.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(broken))


def _cluster_missing(world: Any, monkeypatch: pytest.MonkeyPatch) -> StackSpec:
    return _spec(name="elsewhere")


def _cluster_creating(world: Any, monkeypatch: pytest.MonkeyPatch) -> StackSpec:
    world.aws.set_cluster_status("CREATING", cluster_name="kubeflow")
    return _spec()


def _root_zone_id_unknown(world: Any, monkeypatch: pytest.MonkeyPatch) -> StackSpec:
    data = _spec().model_dump(by_alias=True)
    data["route53"]["rootDomain"]["hostedZoneId"] = "Z0000000000000000000"
    return StackSpec.model_validate(data)


def _gateway_service_missing(world: Any, monkeypatch: pytest.MonkeyPatch) -> StackSpec:
    assert world.kube.store.delete("v1", "Service", "istio-ingressgateway", ISTIO)
    return _spec()


def _istio_namespace_missing(world: Any, monkeypatch: pytest.MonkeyPatch) -> StackSpec:
    world.kube.store.delete("v1", "Namespace", ISTIO)
    # A namespace goes only once its contents are gone (the namespace controller's passes).
    while world.kube.gc.collect():
        pass
    assert world.kube.store.find("v1", "Namespace", ISTIO) is None
    return _spec()


def _kubernetes_unreachable(world: Any, monkeypatch: pytest.MonkeyPatch) -> StackSpec:
    _unreachable_kubeconfig(world, monkeypatch)
    return _spec()


# How to break the world, and what the error must say.
BROKEN: list[tuple[Callable[[Any, pytest.MonkeyPatch], StackSpec], str]] = [
    (_cluster_missing, r"EKS cluster 'elsewhere' in region us-west-2 does not exist"),
    (_cluster_creating, r"EKS cluster 'kubeflow' .* is CREATING, not ACTIVE"),
    (
        _root_zone_id_unknown,
        r"Hosted zone Z0000000000000000000 .* does not exist in this AWS account",
    ),
    (_gateway_service_missing, r"Service istio-system/istio-ingressgateway does not exist"),
    (_istio_namespace_missing, r"Namespace istio-system does not exist"),
    (
        _kubernetes_unreachable,
        r"The Kubernetes API at https://127\.0\.0\.1:\d+ .* is not reachable",
    ),
]


@pytest.mark.parametrize(
    ("break_it", "message"), BROKEN, ids=[f.__name__.strip("_") for f, _ in BROKEN]
)
def test_preflight_stops_with_a_clear_message_and_nothing_created(
    sandbox_world: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    break_it: Callable[[Any, pytest.MonkeyPatch], StackSpec],
    message: str,
) -> None:
    from core.errors import PreflightError
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls
    from tasks.stack_block import load_record

    world = sandbox_world()
    spec = break_it(world, monkeypatch)
    zones = world.aws.route53_zones()
    before = api_calls()

    with pytest.raises(PreflightError, match=message):
        setup_load_balancer(spec=spec)

    assert api_calls().since(before).mutating_calls() == ()
    assert world.aws.route53_zones() == zones
    assert _ours(world) == []
    assert load_record(spec.name) is None


def test_eks_access_mints_a_token_and_needs_no_kubeconfig(
    sandbox_world: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.settings import get_settings
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.https import probe

    world = sandbox_world()
    _unreachable_kubeconfig(world, monkeypatch)  # so only the EKS endpoint can work
    spec = _spec()
    setup_load_balancer(spec=spec, kube_access="eks")

    assert probe(spec.dashboard_host, get_settings()).ok
    assert "Ingress istio-system/istio-ingress" in _ours(world)  # the check above can see writes
    ingress = world.kube.store.get("networking.k8s.io/v1", "Ingress", "istio-ingress", ISTIO)
    assert ingress["status"]["loadBalancer"]["ingress"][0]["hostname"].endswith(
        ".elb.amazonaws.com"
    )


BAD_CONFIGS = [
    ("subdomain-outside-root", {"route53": {"rootDomain": {"name": "example.com"},
                                            "subDomain": {"name": "platform.example.org"}}},
     "is not under the root domain 'example.com'"),
    ("misspelt-setting", {"kubeflow": {"alb": {"schema": "internal"}}},
     "kubeflow.alb.schema: is not a known setting"),
    ("unknown-region", {"cluster": {"name": "kubeflow", "region": "us-middle-1"}},
     "cluster.region: 'us-middle-1' is not an AWS region"),
    ("san-outside-subdomain",
     {"route53": {"rootDomain": {"name": "example.com"},
                  "subDomain": {"name": "platform.example.com",
                                "subjectAlternativeNames": ["*.example.com"]}}},
     "is outside the subdomain"),
    ("bad-scheme", {"kubeflow": {"alb": {"scheme": "public"}}}, "kubeflow.alb.scheme"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change", "message"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS]
)
def test_kfalb_setup_rejects_a_bad_config_with_no_aws_call(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: str,
    change: dict[str, Any],
    message: str,
) -> None:
    from kfalb.cli import EXIT_USAGE, main
    from tasks.aws.clients import api_calls

    # Any AWS call would be counted (and then fail): nothing listens there.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    config = yaml.safe_load(EXAMPLE.read_text()) | change
    path = tmp_path / f"{case}.yaml"
    path.write_text(yaml.safe_dump(config))
    before = api_calls()

    assert main(["setup", "--config", str(path)]) == EXIT_USAGE

    assert message in capsys.readouterr().err
    assert api_calls().since(before).calls == ()


def test_kfalb_setup_rejects_a_missing_or_unparsable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kfalb.cli import EXIT_USAGE, main

    assert main(["setup", "--config", str(tmp_path / "absent.yaml")]) == EXIT_USAGE
    assert "cannot read" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("cluster: [name: kubeflow\n")
    assert main(["setup", "--config", str(broken)]) == EXIT_USAGE
    assert "broken.yaml is not valid YAML at line" in capsys.readouterr().err

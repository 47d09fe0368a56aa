"""The setup flow in each world it meets: controller modes, scheme, SANs, CNAME, root outside Route53."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import StackSpec, load_spec
from core.state import Kind

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
SUB = "platform.example.com"
HELM_IMAGE = "public.ecr.aws/eks/aws-load-balancer-controller:v2.13.0"


def _spec(name: str, **stack: Any) -> StackSpec:
    """The example config with a stack name of this test (artifact keys are per stack)."""
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"].update(name=name, **stack)
    return StackSpec.model_validate(data)


def _with(spec: StackSpec, **changes: Any) -> StackSpec:
    data = spec.model_dump(by_alias=True)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = data
        for part in parents:
            target = target[part]
        target[leaf] = value
    return StackSpec.model_validate(data)


def _no_iam_of_ours(world: Any) -> None:
    iam = world.aws.client("iam")
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]] == []
    assert [
        r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("kfalb")
    ] == []


def _dashboard_answers(spec: StackSpec) -> Any:
    from core.settings import get_settings
    from tasks.https import probe

    answer = probe(spec.dashboard_host, get_settings())
    assert answer.ok, answer.describe()
    return answer


def _load_balancer(world: Any) -> dict[str, Any]:
    (balancer,) = world.aws.client("elbv2").describe_load_balancers()["LoadBalancers"]
    return dict(balancer)


def test_helm_controller_is_used_as_is_with_an_internal_alb_and_sans(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.stack_block import load_record

    world = sandbox_world(controller="preinstalled")
    spec = _with(_spec("helm-internal"), kubeflow__alb__scheme="internal",
                 route53__subDomain__subjectAlternativeNames=[f"*.ml.{SUB}"])  # fmt: skip
    setup_load_balancer(spec=spec)

    # Helm's controller serves the Ingress: nothing installed, no IRSA prerequisites made.
    _no_iam_of_ours(world)
    store = world.kube.store
    deployment = store.get("apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system")
    assert "kubeflow-alb/stack" not in deployment["metadata"]["labels"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == HELM_IMAGE
    assert store.find("v1", "Secret", "aws-load-balancer-webhook-tls", "kube-system") is None
    record = load_record(spec.name)
    assert record is not None
    controller = record.first(Kind.CONTROLLER)
    assert controller is not None
    assert not controller.owned

    # An internal ALB, in the private subnets (the ones tagged internal-elb).
    balancer = _load_balancer(world)
    assert balancer["Scheme"] == "internal"
    zones = {zone["SubnetId"] for zone in balancer["AvailabilityZones"]}
    assert zones == set(world.seeded.private_subnet_ids)

    # The SAN is in the subdomain certificate, and the ALB serves it.
    acm = world.aws.client("acm")
    listing = acm.list_certificates()["CertificateSummaryList"]
    (arn,) = [c["CertificateArn"] for c in listing if c["DomainName"] == f"*.{SUB}"]
    names = acm.describe_certificate(CertificateArn=arn)["Certificate"]["SubjectAlternativeNames"]
    assert set(names) == {f"*.{SUB}", f"*.ml.{SUB}"}
    assert f"*.ml.{SUB}" in _dashboard_answers(spec).certificate_names


def test_eks_auto_mode_serves_the_ingress_and_a_cname_points_at_the_alb(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world(controller="auto-mode")
    spec = _spec("auto-mode-cname", recordType="cname")
    setup_load_balancer(spec=spec)

    store = world.kube.store
    ingress = store.get("networking.k8s.io/v1", "Ingress", "istio-ingress", "istio-system")
    ingress_class = store.get(
        "networking.k8s.io/v1", "IngressClass", ingress["spec"]["ingressClassName"]
    )
    assert ingress_class["spec"]["controller"] == "eks.amazonaws.com/alb"
    assert (
        store.find("apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system") is None
    )
    _no_iam_of_ours(world)

    route53 = world.aws.client("route53")
    (zone,) = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == SUB + "."]
    records = {(r["Name"], r["Type"]): r for r in world.aws.record_sets(zone["Id"])}
    assert (f"*.{SUB}.", "A") not in records
    cname = records[(f"*.{SUB}.", "CNAME")]
    assert [r["Value"].rstrip(".") for r in cname["ResourceRecords"]] == [
        _load_balancer(world)["DNSName"]
    ]
    assert _dashboard_answers(spec).status == 302


def test_controller_skip_leaves_the_helm_install_alone(sandbox_world: Callable[..., Any]) -> None:
    from flows.setup_load_balancer import setup_load_balancer

    world = sandbox_world(controller="preinstalled")
    store = world.kube.store
    before = store.get("apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system")
    spec = _spec("skip-controller", controller="skip")
    setup_load_balancer(spec=spec)

    after = store.get("apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system")
    # The sandbox's deployment controller may still be writing the status (its rollout): what
    # setup must not touch is the object itself, its spec and who manages which field.
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"] == before["spec"]
    assert after["metadata"]["labels"] == before["metadata"]["labels"]
    assert {f["manager"] for f in after["metadata"]["managedFields"]} == {
        "helm",
        "deployment-controller",
    }
    assert [c["metadata"]["name"] for c in store.list("networking.k8s.io/v1", "IngressClass")] == [
        "alb"
    ]
    _no_iam_of_ours(world)
    assert _load_balancer(world)["Scheme"] == "internet-facing"
    _dashboard_answers(spec)


# --- the root domain at a DNS provider outside Route53 --------------------------------------


class _Registrar:
    """Plays the person at the root's DNS provider: adds what the flow's artifacts ask for."""

    def __init__(self, world: Any, stack: str) -> None:
        self._world, self._stack = world, stack
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-registrar", daemon=True)
        self.added: list[tuple[str, str, str]] = []

    def __enter__(self) -> _Registrar:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        delegation = self._markdown("delegation")
        if delegation is None:
            return
        name_servers = re.findall(r"^(\S+)\s+\d+\s+IN\s+NS\s+(\S+)$", delegation, re.M)
        self._add(name_servers, "NS")
        validation = self._markdown("validation-records")
        if validation is not None:
            self._add(re.findall(r"^(\S+)\s+CNAME\s+(\S+)$", validation, re.M), "CNAME")

    def _add(self, rows: list[tuple[str, str]], rtype: str) -> None:
        by_name: dict[str, list[str]] = {}
        for name, value in rows:
            by_name.setdefault(name, []).append(value)
            self.added.append((name, rtype, value))
        for name, values in by_name.items():
            self._world.external_dns.add_record(name, rtype, values)

    def _markdown(self, what: str) -> str | None:
        """The artifact's text once the flow publishes it (or None when the test ends first)."""
        from prefect import get_client
        from prefect.client.schemas.filters import (
            ArtifactCollectionFilter,
            ArtifactCollectionFilterKey,
        )

        key = f"{self._stack}-{what}"
        with get_client(sync_client=True) as client:
            while not self._stop.wait(0.1):
                found = client.read_latest_artifacts(
                    artifact_filter=ArtifactCollectionFilter(
                        key=ArtifactCollectionFilterKey(any_=[key])
                    )
                )
                if found:
                    return str(found[0].data)
        return None


@pytest.fixture
def root_elsewhere(sandbox_world: Callable[..., Any]) -> Any:
    return sandbox_world(root_in_route53=False)


def test_root_outside_route53_waits_for_the_ns_records_added_by_hand(root_elsewhere: Any) -> None:
    from flows.setup_load_balancer import setup_load_balancer

    world = root_elsewhere
    spec = _spec("root-elsewhere")
    with _Registrar(world, spec.name) as registrar:
        setup_load_balancer(spec=spec)

    route53 = world.aws.client("route53")
    (zone,) = route53.list_hosted_zones()["HostedZones"]
    name_servers = route53.get_hosted_zone(Id=zone["Id"])["DelegationSet"]["NameServers"]
    delegated = {value.rstrip(".") for name, rtype, value in registrar.added if rtype == "NS"}
    assert delegated == set(name_servers)
    # *.example.com was validated through the record added by hand, at the provider.
    assert [rtype for _, rtype, _ in registrar.added].count("CNAME") == 1
    certificates = world.aws.client("acm").list_certificates()["CertificateSummaryList"]
    assert {c["Status"] for c in certificates} == {"ISSUED"}
    _dashboard_answers(spec)


def test_root_outside_route53_times_out_clearly_without_the_ns_records(
    root_elsewhere: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.errors import WaitTimeout
    from flows.setup_load_balancer import setup_load_balancer

    monkeypatch.setenv("KFALB_DELEGATION_TIMEOUT_SECONDS", "1")
    spec = _spec("root-elsewhere-never", rootCertificate=False)
    with pytest.raises(WaitTimeout, match=r"delegation of platform\.example\.com") as raised:
        setup_load_balancer(spec=spec)
    assert "example.com is not in Route53: add the NS records of the artifact " \
           "'root-elsewhere-never-delegation' at its DNS provider" in str(raised.value)  # fmt: skip

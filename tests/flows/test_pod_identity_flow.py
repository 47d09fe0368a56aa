"""EKS Pod Identity on the sandbox: a pod-identity stack to HTTPS, its drift, a second stack
sharing its association, cleanup; a missing agent refused before anything is made; an IRSA stack
switched to Pod Identity in place."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.identity import POD_IDENTITY_SERVICE, pod_identity_trust
from core.plan import Action
from core.spec import StackSpec, load_spec
from core.state import Kind

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
RUNNER_POLICY = Path(__file__).parents[2] / "deployments" / "runner-iam-policy.json"
SA = ("v1", "ServiceAccount", "aws-load-balancer-controller", "kube-system")
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def _spec(name: str, identity: str) -> StackSpec:
    data = load_spec(EXAMPLE.read_text()).model_dump(by_alias=True)
    data["stack"]["name"] = name
    data["stack"]["controllerIdentity"] = identity
    return StackSpec.model_validate(data)


def _associations(world: Any) -> list[dict[str, Any]]:
    eks = world.aws.client("eks")
    listed = eks.list_pod_identity_associations(clusterName="kubeflow")["associations"]
    return [
        eks.describe_pod_identity_association(
            clusterName="kubeflow", associationId=item["associationId"]
        )["association"]
        for item in listed
    ]


def _annotations(world: Any) -> dict[str, str]:
    account = world.kube.store.get(*SA)
    return dict(account["metadata"].get("annotations") or {})


def _runner_actions() -> set[str]:
    """The actions the shipped runner policy allows."""
    actions: set[str] = set()
    for statement in json.loads(RUNNER_POLICY.read_text())["Statement"]:
        found = statement["Action"]
        actions.update([found] if isinstance(found, str) else found)
    return actions


def _trust(world: Any, role_name: str) -> dict[str, Any]:
    document = world.aws.client("iam").get_role(RoleName=role_name)["Role"]
    raw = document["AssumeRolePolicyDocument"]
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def test_without_the_agent_pod_identity_is_refused_before_any_change(
    sandbox_world: Callable[..., Any],
) -> None:
    from core.errors import PreflightError
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls

    world = sandbox_world(pod_identity_agent=False)
    spec = _spec("no-agent", "pod-identity")
    calls = api_calls()
    with pytest.raises(PreflightError) as refused:
        setup_load_balancer(spec=spec)
    message = str(refused.value)
    assert "eks-pod-identity-agent add-on of EKS cluster kubeflow is not installed" in message
    assert "aws eks create-addon --cluster-name kubeflow" in message
    assert api_calls().since(calls).mutating_calls() == ()
    assert _associations(world) == []
    zones = world.aws.client("route53").list_hosted_zones()["HostedZones"]
    assert [z["Name"] for z in zones] == ["example.com."]


def test_an_irsa_stack_switched_to_pod_identity_converges(
    sandbox_world: Callable[..., Any],
) -> None:
    from core.desired import role_name
    from core.settings import get_settings
    from flows.check_drift import observe_plan
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.https import probe

    world = sandbox_world()
    irsa = _spec("switched", "irsa")
    setup_load_balancer(spec=irsa)
    role = role_name(irsa)
    assert ROLE_ANNOTATION in _annotations(world)
    (provider,) = world.aws.client("iam").list_open_id_connect_providers()[
        "OpenIDConnectProviderList"
    ]

    pod_identity = _spec("switched", "pod-identity")
    planned = {
        (change.item.kind, change.action): [d.field for d in change.differences]
        for change in observe_plan(pod_identity)[1].drift
    }
    assert planned[(Kind.IAM_ROLE, Action.UPDATE)] == ["trust policy"]
    assert (Kind.POD_IDENTITY, Action.CREATE) in planned
    assert planned[(Kind.CONTROLLER, Action.UPDATE)] == ["role annotation"]
    assert not any(kind is Kind.OIDC_PROVIDER for kind, _ in planned)

    setup_load_balancer(spec=pod_identity)
    assert probe(pod_identity.dashboard_host, get_settings()).ok
    assert ROLE_ANNOTATION not in _annotations(world)
    assert _trust(world, role)["Statement"][0]["Principal"] == {"Service": POD_IDENTITY_SERVICE}
    assert len(_associations(world)) == 1
    assert observe_plan(pod_identity)[1].converged
    # Setup leaves the OIDC provider it made (other IRSA users of the cluster may rely on it);
    # cleanup removes it with the stack.
    providers = world.aws.client("iam").list_open_id_connect_providers()
    assert providers["OpenIDConnectProviderList"] == [provider]

    cleanup_load_balancer(stack=pod_identity.name)
    assert (
        world.aws.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    )
    assert _associations(world) == []


def _on(spec: StackSpec, subdomain: str, **stack: Any) -> StackSpec:
    data = spec.model_dump(by_alias=True)
    data["stack"].update(stack)
    data["route53"]["subDomain"]["name"] = subdomain
    return StackSpec.model_validate(data)


def test_pod_identity_stacks_reach_https_drift_share_the_association_and_clean_up(
    sandbox_world: Callable[..., Any],
) -> None:
    """One world for two pod-identity stacks: the first reaches HTTPS with an association and
    no OIDC provider, its drift is found and repaired; the second shares the association, a third
    that would change the controller under them is refused; cleanup of one keeps the other
    working, the last leaves no association or role, with only calls the runner policy allows."""
    from core.desired import role_name
    from core.errors import DriftDetected, PreflightError
    from core.settings import get_settings
    from flows.check_drift import check_drift
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls
    from tasks.https import probe
    from tasks.stack_block import load_record

    world = sandbox_world(controller="none")  # the first stack installs it
    first = _spec("pi-a", "pod-identity")
    second = _on(_spec("pi-b", "pod-identity"), "team2.example.com", ingressName="team2")
    start = api_calls()
    setup_load_balancer(spec=first)

    assert probe(first.dashboard_host, get_settings()).ok
    iam = world.aws.client("iam")
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    role = role_name(first)
    assert _trust(world, role) == pod_identity_trust()
    (association,) = _associations(world)
    assert (association["namespace"], association["serviceAccount"]) == (
        "kube-system",
        "aws-load-balancer-controller",
    )
    assert association["roleArn"].endswith(f":role/{role}")
    assert association["tags"]["kubeflow-alb/user." + first.name] == first.name  # by reference
    assert ROLE_ANNOTATION not in _annotations(world)
    record = load_record(first.name)
    assert record is not None
    kinds = {item.kind for item in record.resources}
    assert Kind.POD_IDENTITY in kinds
    assert Kind.OIDC_PROVIDER not in kinds

    calls = api_calls()
    assert check_drift(stack=first.name)["status"] == "ok"
    assert api_calls().since(calls).mutating_calls() == ()

    world.aws.client("eks").delete_pod_identity_association(
        clusterName="kubeflow", associationId=association["associationId"]
    )
    state = check_drift(stack=first.name, return_state=True)
    with pytest.raises(DriftDetected) as raised:
        state.result()
    assert "pod-identity-association kube-system/aws-load-balancer-controller (missing)" in (
        raised.value.items
    )
    assert check_drift(stack=first.name, remediate=True)["status"] == "repaired"
    assert len(_associations(world)) == 1

    setup_load_balancer(spec=second)  # adopts the controller, its role and its association
    (association,) = _associations(world)
    marks = sorted(key for key in association["tags"] if key.startswith("kubeflow-alb/user."))
    assert marks == ["kubeflow-alb/user.pi-a", "kubeflow-alb/user.pi-b"]
    assert check_drift(stack=first.name)["status"] == "ok"
    assert check_drift(stack=second.name)["status"] == "ok"

    # A third stack would switch the shared controller to IRSA and downgrade it: refused.
    third = _on(_spec("pi-c", "irsa"), "team3.example.com", ingressName="team3",
                controllerVersion="v2.17.1")  # fmt: skip
    calls = api_calls()
    with pytest.raises(PreflightError) as refused:
        setup_load_balancer(spec=third)
    message = str(refused.value)
    assert "The cluster's ALB controller uses pod-identity for stack(s) pi-a, pi-b" in message
    assert "which would downgrade it under them" in message
    assert api_calls().since(calls).mutating_calls() == ()

    cleanup_load_balancer(stack=first.name)  # pi-b still reaches AWS through the association
    (left,) = _associations(world)
    assert left["associationId"] == association["associationId"]
    assert [k for k in left["tags"] if k.startswith("kubeflow-alb/user.")] == [
        "kubeflow-alb/user.pi-b"
    ]
    assert probe(second.dashboard_host, get_settings()).ok
    assert check_drift(stack=second.name)["status"] == "ok"
    cleanup_load_balancer(stack=second.name)
    assert _associations(world) == []
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"] == role] == []
    assert load_record(first.name) is None
    assert load_record(second.name) is None
    prefix = {"elbv2": "elasticloadbalancing"}
    used = {
        f"{prefix.get(c.service, c.service)}:{c.operation}" for c in api_calls().since(start).calls
    }
    assert used - _runner_actions() <= {"sts:GetCallerIdentity"}  # the runner policy allows them
    assert "eks:CreatePodIdentityAssociation" in used

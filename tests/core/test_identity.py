"""The controller's identity in the desired model (pure): IRSA's OIDC provider and annotation, or
EKS Pod Identity's trust, association and agent; the same planner for both."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core import identity
from core.controller_versions import DEFAULT_CONTROLLER_VERSION
from core.desired import role_name
from core.kinds import apply_order, cleanup_order, desired_items
from core.kinds import stack_plan as drift_plan
from core.kubestate import ControllerState
from core.manifests import (
    IDENTITY_ANNOTATION,
    ROLE_ARN_ANNOTATION,
    ControllerParams,
    configure_controller,
)
from core.observation import Observation
from core.plan import REBUILT, Action
from core.resources import CallerIdentity, ClusterState, PodIdentityAssociationState, RoleState
from core.spec import StackSpec, parse_spec
from core.state import Kind
from core.webhook_ca import WEBHOOK_CA_MATCHES

NOW = datetime(2026, 12, 2, tzinfo=UTC)
ACCOUNT = "111122223333"
CALLER = CallerIdentity(account=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:user/ops")
CLUSTER = ClusterState(name="kubeflow", region="us-west-2", arn="arn:eks", status="ACTIVE",
                       version="1.33", oidc_issuer="https://oidc.eks.us-west-2.amazonaws.com/id/A")  # fmt: skip


def _spec(controller_identity: str | None = None) -> StackSpec:
    stack = {"controllerIdentity": controller_identity} if controller_identity else {}
    return parse_spec({"cluster": {"name": "kubeflow", "region": "us-west-2"},
                       "route53": {"rootDomain": {"name": "example.com"},
                                   "subDomain": {"name": "platform.example.com"}},
                       "stack": stack})  # fmt: skip


def _role_arn(spec: StackSpec) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{role_name(spec)}"


def _seen(**found: object) -> Observation:
    return Observation(observed_at=NOW, identity=CALLER, cluster=CLUSTER, **found)  # type: ignore[arg-type]


def _items(spec: StackSpec, seen: Observation) -> dict[Kind, dict[str, str]]:
    return {item.kind: dict(item.fields) for item in desired_items(spec, seen)
            if item.kind in (Kind.OIDC_PROVIDER, Kind.IAM_ROLE, Kind.POD_IDENTITY, Kind.CONTROLLER)}  # fmt: skip


def test_irsa_is_the_default_with_an_oidc_provider_and_the_annotation() -> None:
    spec = _spec()
    assert spec.stack.controller_identity == "irsa"
    items = _items(spec, _seen())
    assert set(items) == {Kind.OIDC_PROVIDER, Kind.IAM_ROLE, Kind.CONTROLLER}
    assert items[Kind.IAM_ROLE]["trust policy"] == "controller service account only"
    assert items[Kind.CONTROLLER]["role annotation"].startswith(f"arn:aws:iam::{ACCOUNT}:role/")


def test_pod_identity_has_an_association_and_no_oidc_provider_or_annotation() -> None:
    spec = _spec("pod-identity")
    items = _items(spec, _seen())
    assert set(items) == {Kind.IAM_ROLE, Kind.POD_IDENTITY, Kind.CONTROLLER}
    assert items[Kind.IAM_ROLE]["trust policy"] == "EKS Pod Identity (pods.eks.amazonaws.com)"
    association = items[Kind.POD_IDENTITY]
    assert association["namespace"] == "kube-system"
    assert association["service_account"] == "aws-load-balancer-controller"
    assert association["eks-pod-identity-agent add-on"] == "ACTIVE"
    # the cluster's, like the role: held by reference by each stack using the controller
    assert association["held by this stack"] == "yes"
    assert association["role"].startswith(f"arn:aws:iam::{ACCOUNT}:role/")
    assert items[Kind.CONTROLLER]["role annotation"] == "none"


def test_an_invalid_identity_is_refused_naming_the_field() -> None:
    from core.errors import SpecError

    with pytest.raises(SpecError, match="controllerIdentity"):
        _spec("kiam")


def test_the_trust_policies_are_the_documented_ones() -> None:
    assert identity.trust_policy(_spec("pod-identity")) == {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "AllowEksAuthToAssumeRoleForPodIdentity", "Effect": "Allow",
                       "Principal": {"Service": "pods.eks.amazonaws.com"},
                       "Action": ["sts:AssumeRole", "sts:TagSession"]}],
    }  # fmt: skip
    irsa = identity.trust_policy(_spec(), provider_arn="arn:p", host_path="oidc/id/A")
    (statement,) = irsa["Statement"]
    assert statement["Principal"] == {"Federated": "arn:p"}
    assert statement["Condition"]["StringEquals"] == {
        "oidc/id/A:sub": "system:serviceaccount:kube-system:aws-load-balancer-controller",
        "oidc/id/A:aud": "sts.amazonaws.com",
    }


def test_the_association_sits_between_the_role_and_the_controller() -> None:
    order = apply_order()
    assert (
        order.index(Kind.IAM_ROLE) < order.index(Kind.POD_IDENTITY) < order.index(Kind.CONTROLLER)
    )
    removal = cleanup_order()
    assert (
        removal.index(Kind.CONTROLLER)
        < removal.index(Kind.POD_IDENTITY)
        < removal.index(Kind.IAM_ROLE)
    )


def _association(spec: StackSpec, role_arn: str, **extra: object) -> PodIdentityAssociationState:
    return PodIdentityAssociationState(
        association_id="a-0123456789abcdefg", arn="arn:aws:eks:us-west-2:1:podidentityassociation/kubeflow/a-0123456789abcdefg",
        cluster_name="kubeflow", namespace="kube-system", service_account="aws-load-balancer-controller",
        role_arn=role_arn, owned=True, tags=spec.tags, **extra,
    )  # fmt: skip


def _changes(spec: StackSpec, seen: Observation) -> dict[Kind, tuple[Action, list[str]]]:
    return {c.item.kind: (c.action, [d.field for d in c.differences])
            for c in drift_plan(spec, seen).changes}  # fmt: skip


def test_drift_sees_another_role_a_missing_agent_and_a_left_annotation() -> None:
    spec = _spec("pod-identity")
    role = RoleState(arn=_role_arn(spec), name=role_name(spec), trust_matches=True, owned=True,
                     tags=spec.tags)  # fmt: skip
    controller = ControllerState(ingress_class="alb", deployment="kube-system/x", ready_replicas=1,
                                 owned=True, class_controller="ingress.k8s.aws/alb",
                                 version=spec.stack.controller_version,
                                 users=(spec.name,), webhook_ca=WEBHOOK_CA_MATCHES)  # fmt: skip
    good = _seen(role=role, controller=controller, pod_identity_agent="ACTIVE",
                 pod_identity=_association(spec, _role_arn(spec)))  # fmt: skip
    assert _changes(spec, good)[Kind.POD_IDENTITY] == (Action.KEEP, [])
    assert _changes(spec, good)[Kind.CONTROLLER][0] is Action.KEEP
    moved = good.model_copy(update={"pod_identity": _association(spec, "arn:aws:iam::1:role/x"),
                                    "pod_identity_agent": None})  # fmt: skip
    assert _changes(spec, moved)[Kind.POD_IDENTITY] == (
        Action.UPDATE, ["role", "eks-pod-identity-agent add-on"]
    )  # fmt: skip
    annotated = good.model_copy(update={"controller": controller.model_copy(
        update={"role_annotation": _role_arn(spec)})})  # fmt: skip
    assert _changes(spec, annotated)[Kind.CONTROLLER] == (Action.UPDATE, ["role annotation"])
    gone = good.model_copy(update={"pod_identity": None})
    assert _changes(spec, gone)[Kind.POD_IDENTITY] == (Action.CREATE, [])


def test_a_new_role_is_associated_again() -> None:
    spec = _spec("pod-identity")
    seen = _seen(pod_identity_agent="ACTIVE", pod_identity=_association(spec, _role_arn(spec)))
    action, fields = _changes(spec, seen)[Kind.POD_IDENTITY]
    assert (action, fields) == (Action.UPDATE, [REBUILT])  # the role is to be created


def test_the_agent_problem_says_how_to_install_it() -> None:
    spec = _spec("pod-identity")
    assert (
        identity.agent_problem(spec, cluster="kubeflow", region="us-west-2", status="ACTIVE")
        is None
    )
    missing = identity.agent_problem(spec, cluster="kubeflow", region="us-west-2", status=None)
    assert missing is not None
    assert (
        "aws eks create-addon --cluster-name kubeflow --addon-name eks-pod-identity-agent"
        in missing
    )
    creating = identity.agent_problem(
        spec, cluster="kubeflow", region="us-west-2", status="CREATING"
    )
    assert creating is not None
    assert "is CREATING, not ACTIVE" in creating


def _controller(identity_: str, role_arn: str) -> dict[str, dict[str, object]]:
    objects = [
        {"kind": "ServiceAccount", "metadata": {"name": "aws-load-balancer-controller",
         "annotations": {ROLE_ARN_ANNOTATION: "SET-BY-KUBEFLOW-ALB"}}},
        {"kind": "Deployment", "metadata": {"name": "aws-load-balancer-controller"},
         "spec": {"template": {"spec": {"containers": [{"name": "controller",
         "image": f"public.ecr.aws/eks/aws-load-balancer-controller:{DEFAULT_CONTROLLER_VERSION}",
         "args": ["--cluster-name=SET-BY-KUBEFLOW-ALB"]}]}}}},
    ]  # fmt: skip
    params = ControllerParams(stack="s", cluster_name="kubeflow", region="us-west-2", vpc_id="vpc-1",
                              role_arn=role_arn, ca_bundle=b"pem", identity=identity_)  # fmt: skip
    return {str(obj["kind"]): obj for obj in configure_controller(objects, params)}


def test_the_service_account_names_the_role_for_irsa_only() -> None:
    irsa = _controller("irsa", "arn:aws:iam::1:role/r")
    assert irsa["ServiceAccount"]["metadata"]["annotations"] == {
        ROLE_ARN_ANNOTATION: "arn:aws:iam::1:role/r"
    }  # type: ignore[index]
    pods = _controller("pod-identity", "")
    assert pods["ServiceAccount"]["metadata"]["annotations"] == {}  # type: ignore[index]
    # A change of identity rolls the controller's pods (they read their credentials at start).
    template = pods["Deployment"]["spec"]["template"]["metadata"]  # type: ignore[index]
    assert template["annotations"][IDENTITY_ANNOTATION] == "pod-identity"
    from core.errors import SpecError

    with pytest.raises(SpecError, match="role_arn"):
        _controller("irsa", "")


def test_an_association_someone_else_made_is_refused_before_anything() -> None:
    from core.owners import conflicts

    spec = _spec("pod-identity")
    theirs = _association(spec, "arn:aws:iam::1:role/theirs").model_copy(
        update={"owned": False, "tags": {}}
    )
    (found,) = conflicts(spec, _seen(pod_identity=theirs))
    assert found.startswith(
        f"Pod Identity association {theirs.arn} of service account kube-system/"
    )
    assert conflicts(spec, _seen(pod_identity=_association(spec, _role_arn(spec)))) == ()

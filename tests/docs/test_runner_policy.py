"""The runner's IAM policy (deployments/runner-iam-policy.json) allows every AWS call a full setup,
drift check and cleanup make on the sandbox, and lists nothing that no flow path uses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "deployments" / "runner-iam-policy.json"
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

"""Why an Ingress stays terminating (core.endoflife): each cause named from what cleanup sees,
with the next step; only a broken controller identity is one kubeflow-alb's own sweep can end.
The texts are the AWS Load Balancer Controller's (v3.5.0) and AWS's own."""

from __future__ import annotations

from core.endoflife import (
    ControllerEvent,
    EndOfLife,
    HeldGroup,
    blocked,
    described,
    diagnose,
    said_since,
)
from core.owners import MemberEvent, failing_group
from core.spec import StackSpec, load_spec

OURS = "istio-system/istio-ingress"
SDK = "operation error EC2: DeleteSecurityGroup, https response error StatusCode: 400, RequestID: r"
VIOLATION = (
    "Failed deploy model due to failed to delete securityGroup: timed out waiting for the "
    f"condition: {SDK}, api error DependencyViolation: resource sg-0abc has a dependent object"
)
DENIED = (
    "Failed deploy model due to operation error Elastic Load Balancing v2: "
    "DescribeLoadBalancers, https response error StatusCode: 403, RequestID: r, api error "
    "AccessDenied: User: arn:aws:sts::1:assumed-role/lbc/s is not authorized to perform: "
    "elasticloadbalancing:DescribeLoadBalancers because no identity-based policy allows it"
)
BROKEN = (
    "Failed build model due to ingress: istio-system/broken: unable to find port 81 on service "
    "istio-system/istio-ingressgateway"
)


def test_nothing_seen_is_no_cause_and_says_so() -> None:
    seen = EndOfLife(ingress=OURS)
    assert diagnose(seen) is None
    assert described(seen) == "no Warning event of the controller, no cause seen in AWS"


def test_the_lingering_interfaces_of_the_deleted_alb_are_no_cause() -> None:
    assert diagnose(EndOfLife(ingress=OURS, held_groups=(HeldGroup("sg-0abc"),))) is None


def test_a_protected_alb_is_named_with_the_annotation_to_change() -> None:
    cause = diagnose(EndOfLife(ingress=OURS, protected=True))
    assert cause is not None
    assert cause.name == "a protected ALB (deletion protection)"
    assert not cause.sweepable
    assert "set deletion_protection.enabled=false in the load-balancer-attributes annotation of "\
           "Ingress istio-system/istio-ingress, keeping its other attributes" in cause.next_step  # fmt: skip
    # The controller's own words, as a group's other member receives them.
    said = ControllerEvent("istio-system/team2", "FailedBuildModel", "Failed build model due to "
                           "deletion_protection is enabled, cannot delete the ingress: istio-ingress")  # fmt: skip
    by_event = diagnose(EndOfLife(ingress=OURS, protected=True, events=(said,)))
    assert by_event is not None
    assert by_event.name == cause.name
    assert by_event.evidence == said.message
    # Said before cleanup lifted the annotation (the controller reconciled in between): no cause.
    assert diagnose(EndOfLife(ingress=OURS, events=(said,))) is None
    # AWS's own refusal names no Ingress (protection turned on outside the annotation): it counts.
    aws = ControllerEvent("istio-system/team2", "FailedDeployModel", "Failed deploy model due to "
                          "OperationNotPermitted: Load balancer 'arn' cannot be deleted because "
                          "deletion protection is enabled")  # fmt: skip
    assert diagnose(EndOfLife(ingress=OURS, events=(aws,))) is not None


def test_another_member_being_deleted_with_protection_is_named_as_the_one_to_change() -> None:
    # The whole group builds nothing while it is there; with no active member, no event says so.
    cause = diagnose(EndOfLife(ingress=OURS, group="kubeflow",
                               protected_members=("istio-system/team2",)))  # fmt: skip
    assert cause is not None
    assert cause.name == "a protected ALB (deletion protection)"
    assert "Ingress istio-system/team2, being deleted, keeps" in cause.evidence
    assert "kubectl -n istio-system edit ingress team2" in cause.next_step


def test_a_security_group_held_by_another_interface_is_a_dependency_violation() -> None:
    held = HeldGroup("sg-0abc", ("eni-1 (an instance's interface, by hand)",))
    said = ControllerEvent("istio-system/team2", "FailedDeployModel", VIOLATION)
    seen = EndOfLife(ingress=OURS, held_groups=(held,), events=(said,))
    cause = diagnose(seen)
    assert cause is not None
    assert cause.name == "DependencyViolation on security group sg-0abc"
    assert "eni-1 (an instance's interface, by hand)" in cause.evidence
    assert "api error DependencyViolation" in cause.evidence
    assert "--filters Name=group-id,Values=sg-0abc" in cause.next_step
    message = blocked(seen, cause)
    assert message.startswith(f"Ingress {OURS} stays terminating: DependencyViolation on "
                              "security group sg-0abc (the controller retries deleting sg-0abc)")  # fmt: skip
    assert "finalizer is left in place" in message


def test_a_member_that_does_not_build_is_named_from_the_controllers_message() -> None:
    events = (ControllerEvent("istio-system/team2", "FailedBuildModel", BROKEN),
              ControllerEvent("istio-system/broken", "FailedBuildModel", BROKEN))  # fmt: skip
    members = ("istio-system/team2", "istio-system/broken")
    cause = diagnose(EndOfLife(ingress=OURS, group="kubeflow", members=members, events=events))
    assert cause is not None
    assert cause.name == "FailedBuildModel of IngressGroup kubeflow member istio-system/broken"
    assert cause.next_step.startswith("fix or remove Ingress istio-system/broken")
    assert not cause.sweepable
    # The broken member removed since (the controller has not reconciled yet): no cause.
    gone = EndOfLife(ingress=OURS, group="kubeflow", members=members[:1], events=events)
    assert diagnose(gone) is None


def test_a_broken_identity_is_the_one_cause_kubeflow_alb_can_sweep_past() -> None:
    cause = diagnose(EndOfLife(ingress=OURS, identity_problem="no policy of the controller's IAM "
                               "role r allows elasticloadbalancing:DeleteLoadBalancer"))  # fmt: skip
    assert cause is not None
    assert cause.name == "AccessDenied: the controller's AWS identity is broken"
    assert cause.sweepable
    said = ControllerEvent("istio-system/team2", "FailedDeployModel", DENIED)
    by_event = diagnose(EndOfLife(ingress=OURS, events=(said,)))
    assert by_event is not None
    assert by_event.sweepable
    assert "AccessDenied: User: arn:aws:sts::1:assumed-role/lbc/s" in by_event.evidence
    credentials = ControllerEvent("istio-system/team2", "FailedDeployModel", "Failed deploy model "
                                  "due to operation error Elastic Load Balancing v2: "
                                  "DescribeLoadBalancers, get identity: get credentials: failed "
                                  "to refresh cached credentials, failed to retrieve credentials")  # fmt: skip
    named = diagnose(EndOfLife(ingress=OURS, events=(credentials,)))
    assert named is not None
    assert named.name.startswith("credential errors")


def _spec(group: str | None) -> StackSpec:
    data = load_spec(
        "cluster: {name: kubeflow, region: us-west-2}\n"
        "route53: {rootDomain: {name: example.com}, subDomain: {name: team3.example.com}}\n"
    ).model_dump(by_alias=True)
    data["stack"].update(ingressName="team3", ingressGroup=group)
    return StackSpec.model_validate(data)


def test_joining_a_group_whose_members_do_not_build_is_refused_naming_them() -> None:
    latest = [MemberEvent("istio-system/istio-ingress", "FailedBuildModel", BROKEN),
              MemberEvent("istio-system/broken", "FailedBuildModel", BROKEN)]  # fmt: skip
    (line,) = failing_group(_spec("kubeflow"), latest)
    assert line.startswith("IngressGroup kubeflow does not build: the controller reports for "
                           "Ingress istio-system/broken: Failed build model due to ingress: "
                           "istio-system/broken: unable to find port 81")  # fmt: skip
    assert "Fix or remove Ingress istio-system/broken first" in line
    built = [
        MemberEvent(
            "istio-system/istio-ingress", "SuccessfullyReconciled", "Successfully reconciled"
        )
    ]
    assert failing_group(_spec("kubeflow"), built) == []
    assert failing_group(_spec(None), latest) == []


def test_a_resumed_cleanup_stops_on_an_old_event_only_once_the_controller_says_it_again() -> None:
    # The run before was stopped by a broken member; it was removed since, and the controller
    # has not reconciled the group yet: its Event of then is no cause now.
    old = ControllerEvent("istio-system/team2", "FailedBuildModel", BROKEN, "uid-1:3:T1")
    members = ("istio-system/team2", "istio-system/broken")  # fixed in place, not removed
    before = EndOfLife(ingress=OURS, group="kubeflow", members=members, events=(old,))
    assert diagnose(said_since(before, before)) is None
    assert described(said_since(before, before)) != described(before)
    # Said again (the count and time move): the cause is back.
    again = ControllerEvent("istio-system/team2", "FailedBuildModel", BROKEN, "uid-1:4:T2")
    now = EndOfLife(ingress=OURS, group="kubeflow", members=members, events=(again,))
    cause = diagnose(said_since(now, before))
    assert cause is not None
    assert "member istio-system/broken" in cause.name
    # What the objects show now counts at once, whatever the events.
    protected = EndOfLife(ingress=OURS, protected=True, events=(old,))
    assert diagnose(said_since(protected, before)) is not None
    # A first run (nothing before) takes every event since the deletion.
    assert diagnose(said_since(before, None)) is not None

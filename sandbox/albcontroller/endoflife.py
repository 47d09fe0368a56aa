"""The ALB's end of life going wrong, as it does for the real controller (v3.5.0), and the
world's knobs that make it so.

Each knob changes the world the way a person or a cloud does, and the controller stand-in then
fails exactly where the real one fails, with its Event reason and message (recorded, as
upstream, only on the IngressGroup's active members: a lone Ingress being deleted gets none):

- `dependency-violation`: a network interface put in the ALB's security group by hand. EC2
  refuses DeleteSecurityGroup (`DependencyViolation: resource sg-... has a dependent object`);
  the controller gives up after its retries with "failed to delete securityGroup: timed out
  waiting for the condition: ..." (FailedDeployModel).
- `access-denied`: the controller's role loses its policy: every ELBv2 call fails with
  `AccessDenied ... is not authorized to perform ...` (FailedDeployModel).
- `credentials`: the role's trust policy no longer trusts the controller's service account:
  `failed to refresh cached credentials ... AssumeRoleWithWebIdentity ... AccessDenied`.
- `protected`: the Ingress asks for deletion protection in its load-balancer-attributes
  annotation: "deletion_protection is enabled, cannot delete the ingress: <name>"
  (FailedBuildModel, see sandbox.albcontroller.protection); the ALB itself refuses
  DeleteLoadBalancer (OperationNotPermitted).
- `group-member`: another Ingress of the group that does not build ("ingress: <ns>/<name>:
  unable to find port 81 on service ..."): the group's model fails for every member
  (FailedBuildModel), so no member's deletion is carried out.

Each knob returns its undo (the fix a person would make).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sandbox.albcontroller.model import ANNOTATION

ATTRIBUTES = ANNOTATION + "load-balancer-attributes"
PROTECTION = "deletion_protection.enabled"
FAULTS = ("dependency-violation", "access-denied", "credentials", "protected", "group-member")
Undo = Callable[[], None]


def _pairs(raw: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def told(
    ingress: dict[str, Any], members: list[dict[str, Any]], inactive: bool
) -> list[dict[str, Any]]:
    """Who gets a reconcile's events: as upstream (v3.5.0's recordIngressGroupEvent), only the
    group's active members. An Ingress being deleted (or leaving the class) is no member any
    more: its events go to the others of its group (`members`), a lone one's to nobody."""
    if not (ingress["metadata"].get("deletionTimestamp") or inactive):
        return [ingress]
    uid = ingress["metadata"].get("uid")
    return [member for member in members if member["metadata"].get("uid") != uid]


def _stack_group(ec2: Any, stack_id: str) -> dict[str, Any]:
    """The managed security group the controller made for an Ingress (`namespace/name`)."""
    found = ec2.describe_security_groups(
        Filters=[{"Name": "tag:ingress.k8s.aws/stack", "Values": [stack_id]},
                 {"Name": "tag:ingress.k8s.aws/resource", "Values": ["ManagedLBSecurityGroup"]}]
    )["SecurityGroups"]  # fmt: skip
    if not found:
        raise LookupError(f"no managed security group of Ingress {stack_id} yet")
    return dict(found[0])


def hold_security_group(ec2: Any, stack_id: str) -> Undo:
    """A network interface in the Ingress's ALB security group, as an instance someone put in
    it: the group cannot be deleted while it is there."""
    group = _stack_group(ec2, stack_id)
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [group["VpcId"]]}])[
        "Subnets"
    ][0]["SubnetId"]
    eni = ec2.create_network_interface(
        SubnetId=subnet, Groups=[group["GroupId"]], Description="an instance's interface, by hand"
    )["NetworkInterface"]["NetworkInterfaceId"]
    return lambda: ec2.delete_network_interface(NetworkInterfaceId=eni)


def _role_of(store: Any) -> str:
    account = store.find("v1", "ServiceAccount", "aws-load-balancer-controller", "kube-system")
    arn = (
        ((account or {}).get("metadata") or {})
        .get("annotations", {})
        .get("eks.amazonaws.com/role-arn", "")
    )
    if not arn:
        raise LookupError("the controller's service account names no IRSA role")
    return str(arn).rsplit("/", 1)[-1]


def deny_controller(iam: Any, store: Any) -> Undo:
    """Detach every policy of the controller's role: its AWS calls are refused."""
    role = _role_of(store)
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    arns = [policy["PolicyArn"] for policy in attached]
    for arn in arns:
        iam.detach_role_policy(RoleName=role, PolicyArn=arn)

    def undo() -> None:
        for arn in arns:
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)

    return undo


def distrust_controller(iam: Any, store: Any) -> Undo:
    """The controller's role trusts another service account: its credentials fail."""
    role = _role_of(store)
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    other = json.loads(json.dumps(trust).replace(
        "system:serviceaccount:kube-system:aws-load-balancer-controller",
        "system:serviceaccount:kube-system:someone-else"))  # fmt: skip
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(other))
    return lambda: iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))


def _annotate(store: Any, namespace: str, name: str, value: str | None) -> None:
    ingress = store.get("networking.k8s.io/v1", "Ingress", name, namespace)
    annotations = ingress["metadata"].setdefault("annotations", {})
    attributes = _pairs(annotations.get(ATTRIBUTES, ""))
    attributes.pop(PROTECTION, None)
    if value is not None:
        attributes[PROTECTION] = value
    annotations[ATTRIBUTES] = ",".join(f"{k}={v}" for k, v in attributes.items())
    if not annotations[ATTRIBUTES]:
        annotations.pop(ATTRIBUTES)
    store.update(ingress)


def protect(store: Any, namespace: str, name: str) -> Undo:
    """The Ingress asks for deletion protection (the controller turns it on at its next
    reconcile); the undo sets it to false, as the controller's documentation says to."""
    _annotate(store, namespace, name, "true")
    return lambda: _annotate(store, namespace, name, "false")


def broken_member(
    store: Any, like: dict[str, Any], group: str, *, service: str, name: str = "broken"
) -> Undo:
    """Another Ingress of the group (of `like`'s namespace and class) whose backend port 81
    does not exist on `service`."""
    namespace = like["metadata"]["namespace"]
    store.create({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "annotations": {
            ANNOTATION + "group.name": group, ANNOTATION + "scheme": "internet-facing",
            ANNOTATION + "target-type": "ip"}},
        "spec": {"ingressClassName": (like.get("spec") or {}).get("ingressClassName"),
                 "rules": [{"host": "broken.example.com", "http": {"paths": [{
                     "path": "/", "pathType": "Prefix", "backend": {"service": {
                         "name": service, "port": {"number": 81}}}}]}}]},
    })  # fmt: skip
    return lambda: store.delete("networking.k8s.io/v1", "Ingress", name, namespace)


def break_end_of_life(
    fault: str,
    *,
    aws: Callable[[str], Any],
    store: Any,
    ingress: str,
    service: str = "istio-ingressgateway",
) -> Undo:
    """Make the end of life of Ingress `ingress` (`namespace/name`) fail as `fault` (one of
    FAULTS; `group-member` adds a member to its group whose port on `service` does not
    exist); returns the fix."""
    namespace, name = ingress.split("/", 1)
    if fault == "dependency-violation":
        return hold_security_group(aws("ec2"), ingress)
    if fault == "access-denied":
        return deny_controller(aws("iam"), store)
    if fault == "credentials":
        return distrust_controller(aws("iam"), store)
    if fault == "protected":
        return protect(store, namespace, name)
    if fault == "group-member":
        like = store.get("networking.k8s.io/v1", "Ingress", name, namespace)
        group = (like["metadata"].get("annotations") or {}).get(ANNOTATION + "group.name")
        if group:
            return broken_member(store, like, group, service=service)
    raise ValueError(f"unknown end-of-life fault {fault!r} (one of {', '.join(FAULTS)})")

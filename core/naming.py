"""Names, ownership marks and idempotency keys, all derived from the spec (never random)."""

from __future__ import annotations

import hashlib
import re

from core.errors import SpecError

TOOL = "kubeflow-alb"
#: AWS tag and Kubernetes label that mark a resource as belonging to one stack.
STACK_TAG = "kubeflow-alb/stack"
#: AWS tag and Kubernetes label that say which tool manages a resource.
MANAGED_BY_TAG = "app.kubernetes.io/managed-by"
#: Server-side apply field manager for every Kubernetes object we write.
FIELD_MANAGER = TOOL

CONTROLLER_NAMESPACE = "kube-system"
CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
CONTROLLER_NAME = "aws-load-balancer-controller"
INGRESS_NAMESPACE = "istio-system"
INGRESS_NAME = "istio-ingress"
INGRESS_SERVICE = "istio-ingressgateway"
INGRESS_CLASS = "alb"
#: The GatewayClass of kubeflow-alb's Gateways (stack.frontDoor: gateway), shared on a cluster.
GATEWAY_CLASS = "kubeflow-alb"
DASHBOARD_HOST_LABEL = "kubeflow"

_STACK_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
_OBJECT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# alb.ingress.kubernetes.io/group.name: at most 63 lower-case letters, digits, "-" and ".".
_GROUP_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$")
#: The Ingress annotation that puts Ingresses into one IngressGroup (one shared ALB).
GROUP_ANNOTATION = "alb.ingress.kubernetes.io/group.name"


def default_stack_name(subdomain: str) -> str:
    """A stack name from the subdomain: dots become dashes, cut to 40 characters."""
    name = re.sub(r"[^a-z0-9-]+", "-", subdomain.lower().rstrip(".")).strip("-")
    if len(name) <= 40:
        return name
    return f"{name[:31].rstrip('-')}-{_digest(name, 8)}"


def _problem(pattern: re.Pattern[str], name: str, what: str, allowed: str) -> str | None:
    """Why `name` is not `what`, or None when it is (the message quotes it, cut short)."""
    if pattern.fullmatch(name):
        return None
    shown = name if len(name) <= 60 else name[:57] + "..."
    return f"{shown!r} is not {what} ({allowed}, starting and ending with a letter or digit)"


def stack_name_problem(name: str) -> str | None:
    """Why `name` is not a stack name, or None when it is."""
    return _problem(_STACK_NAME, name, "a stack name", "1-40 lower-case letters, digits and '-'")


def object_name_problem(name: str) -> str | None:
    """Why `name` is not a DNS-1123 label (what we accept as our Ingress's name), or None."""
    allowed = "1-63 lower-case letters, digits and '-'"
    return _problem(_OBJECT_NAME, name, "a Kubernetes object name", allowed)


def group_name_problem(name: str) -> str | None:
    """Why `name` is not an IngressGroup name as the ALB controller accepts it, or None."""
    allowed = "1-63 lower-case letters, digits, '-' and '.'"
    return _problem(_GROUP_NAME, name, "an IngressGroup name", allowed)


def require_stack_name(name: str, *, source: str = "--stack") -> str:
    """`name` if it is a stack name, else SpecError naming `source` (a flag or a field).

    Stack names end up in Prefect block and concurrency-limit names, AWS tags and IAM names,
    so a value from the command line or a flow parameter is checked before any of those.
    """
    problem = stack_name_problem(name) if isinstance(name, str) else "is not a string"
    if problem:
        raise SpecError(f"{source}: {problem}.")
    return name


def ownership_tags(stack: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """AWS tags for a resource we create: the user's extra tags, then our marks (which win)."""
    return {**(extra or {}), STACK_TAG: stack, MANAGED_BY_TAG: TOOL}


def ownership_labels(stack: str) -> dict[str, str]:
    """Kubernetes labels for an object we create."""
    return {STACK_TAG: stack, MANAGED_BY_TAG: TOOL}


def is_owned(tags: dict[str, str], stack: str) -> bool:
    """True when tags (or labels) carry this stack's ownership mark."""
    return tags.get(STACK_TAG) == stack and tags.get(MANAGED_BY_TAG) == TOOL


def zone_caller_reference(stack: str, zone_name: str, attempt: str | int = 0) -> str:
    """CallerReference for CreateHostedZone: the stack and zone, then the setup attempt (its flow
    run id), so a retry within one setup reuses it and a setup after a cleanup gets a new one
    (Route53 never accepts a reference twice, even after the zone is deleted)."""
    return f"{TOOL}:{stack}:{_digest(zone_name.rstrip('.').lower(), 12)}:{attempt}"[:128]


def zone_reference_prefix(stack: str, zone_name: str) -> str:
    """What every CallerReference of this stack's zone starts with (marks a zone as ours)."""
    return f"{TOOL}:{stack}:{_digest(zone_name.rstrip('.').lower(), 12)}:"


def certificate_idempotency_token(stack: str, domain: str, sans: tuple[str, ...]) -> str:
    """ACM IdempotencyToken (max 32 word characters) for one certificate request."""
    return "kfalb" + _digest("|".join((stack, domain, *sorted(sans))), 27)


def policy_name(stack: str) -> str:
    """The previous version's per-stack name of the controller's IAM policy (now per cluster:
    controller_policy_name); its stack's cleanup still removes it."""
    return f"kfalb-{stack}-AWSLoadBalancerController"


def role_name(stack: str) -> str:
    """The previous version's per-stack name of the controller's IRSA role (now per cluster:
    controller_role_name); its stack's cleanup still removes it."""
    return f"kfalb-{stack}-lbc"


def _cluster_part(cluster: str, region: str, room: int) -> str:
    """The cluster's name cut to `room` characters, then a digest of region and name: IAM names
    are global in an account, and clusters of one name may run in two regions."""
    return f"{cluster[:room].rstrip('-_')}-{_digest(f'{region}/{cluster}', 8)}"


def controller_policy_name(cluster: str, region: str) -> str:
    """Name of the controller's IAM policy: one controller per cluster, shared by its stacks."""
    return f"kfalb-{_cluster_part(cluster, region, 60)}-AWSLoadBalancerController"


def controller_role_name(cluster: str, region: str) -> str:
    """Name of the controller's IRSA role, one per cluster (IAM role names: at most 64)."""
    return f"kfalb-{_cluster_part(cluster, region, 45)}-lbc"


def dashboard_host(subdomain: str) -> str:
    """The Kubeflow dashboard's host name under the subdomain."""
    return f"{DASHBOARD_HOST_LABEL}.{subdomain.rstrip('.')}"


def wildcard(domain: str) -> str:
    """`*.<domain>`."""
    return f"*.{domain.rstrip('.')}"


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]

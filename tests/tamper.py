"""Out-of-band changes to a set-up stack, as an operator or another tool would make them."""

from __future__ import annotations

from typing import Any

INGRESS = ("networking.k8s.io/v1", "Ingress", "istio-ingress", "istio-system")
CERTIFICATE_ARN = "alb.ingress.kubernetes.io/certificate-arn"


def delete_dashboard_record(world: Any, subdomain: str) -> None:
    """Delete the `*.<subdomain>` alias record straight through Route53."""
    route53 = world.aws.client("route53")
    zone = next(
        z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == f"{subdomain}."
    )
    record = next(
        r
        for r in route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
        if r["Name"] == f"\\052.{subdomain}." and r["Type"] == "A"
    )
    route53.change_resource_record_sets(
        HostedZoneId=zone["Id"],
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]},
    )


def keep_first_certificate(world: Any) -> str:
    """Drop the *.<root> certificate from the Ingress annotation (the ALB keeps its default)."""
    store = world.kube.store
    ingress = store.get(*INGRESS)
    annotations = ingress["metadata"]["annotations"]
    annotations[CERTIFICATE_ARN] = annotations[CERTIFICATE_ARN].split(",")[0]
    store.update(ingress)
    return str(annotations[CERTIFICATE_ARN])


# -- the ALB, changed behind the controller's back (as in the AWS console) -----------------------
# Each changes exactly one fact of the stack's ALB and returns the core.alb field names that
# now differ from the desired ones. `ingress` is the controller's stack id: namespace/name.

INGRESS_KEY = "istio-system/istio-ingress"
STACK_TAG = "kubeflow-alb/stack"
MANAGED_BY_TAG = "app.kubernetes.io/managed-by"
#: Tags that find the ALB: never removed by `remove_alb_tag`.
_FINDING_TAGS = frozenset(
    {STACK_TAG, "elbv2.k8s.aws/cluster", "ingress.k8s.aws/stack", "ingress.k8s.aws/resource"}
)
WEAK_SSL_POLICY = "ELBSecurityPolicy-2016-08"


def _elbv2(world: Any) -> Any:
    return world.aws.client("elbv2")


def _tagged(elbv2: Any, arns: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), 20):
        for item in elbv2.describe_tags(ResourceArns=arns[start : start + 20])["TagDescriptions"]:
            found[item["ResourceArn"]] = {t["Key"]: t["Value"] for t in item["Tags"]}
    return found


def _ours(tags: dict[str, str], stack: str, ingress: str, resource: str | None) -> bool:
    return (
        tags.get(STACK_TAG) == stack
        and tags.get("ingress.k8s.aws/stack") == ingress
        and (resource is None or tags.get("ingress.k8s.aws/resource") == resource)
    )


def find_alb(world: Any, stack: str, *, ingress: str = INGRESS_KEY) -> str:
    """The ARN of the stack's ALB (by the controller's and our tags)."""
    elbv2 = _elbv2(world)
    arns = [b["LoadBalancerArn"] for b in elbv2.describe_load_balancers()["LoadBalancers"]]
    (arn,) = [
        a for a, t in _tagged(elbv2, arns).items() if _ours(t, stack, ingress, "LoadBalancer")
    ]
    return arn


def find_target_group(world: Any, stack: str, *, ingress: str = INGRESS_KEY) -> str:
    """The ARN of the stack's target group."""
    elbv2 = _elbv2(world)
    arns = [g["TargetGroupArn"] for g in elbv2.describe_target_groups()["TargetGroups"]]
    (arn,) = [a for a, t in _tagged(elbv2, arns).items() if _ours(t, stack, ingress, None)]
    return arn


def _listener(world: Any, balancer: str, port: int) -> str:
    listeners = _elbv2(world).describe_listeners(LoadBalancerArn=balancer)["Listeners"]
    return str(next(item["ListenerArn"] for item in listeners if item["Port"] == port))


def delete_http_listener(world: Any, stack: str, *, ingress: str = INGRESS_KEY) -> tuple[str, ...]:
    """Delete the HTTP:80 listener that redirects to HTTPS."""
    balancer = find_alb(world, stack, ingress=ingress)
    _elbv2(world).delete_listener(ListenerArn=_listener(world, balancer, 80))
    return ("listeners", "listener HTTP:80 action")


def weaken_ssl_policy(world: Any, stack: str, *, ingress: str = INGRESS_KEY) -> tuple[str, ...]:
    """Put the HTTPS:443 listener on the old TLS 1.0 policy."""
    balancer = find_alb(world, stack, ingress=ingress)
    listener = _listener(world, balancer, 443)
    _elbv2(world).modify_listener(ListenerArn=listener, SslPolicy=WEAK_SSL_POLICY)
    return ("listener HTTPS:443 ssl-policy",)


def break_health_check(world: Any, stack: str, *, ingress: str = INGRESS_KEY) -> tuple[str, ...]:
    """Point the target group's health check at `/`, where Kubeflow answers 302 or 404."""
    group = find_target_group(world, stack, ingress=ingress)
    _elbv2(world).modify_target_group(TargetGroupArn=group, HealthCheckPath="/")
    return ("target-group health-check path",)


def flip_alb_attribute(
    world: Any,
    stack: str,
    *,
    ingress: str = INGRESS_KEY,
    key: str = "routing.http.drop_invalid_header_fields.enabled",
) -> tuple[str, ...]:
    """Turn a boolean load balancer attribute the Ingress sets the other way."""
    balancer, elbv2 = find_alb(world, stack, ingress=ingress), _elbv2(world)
    attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=balancer)["Attributes"]
    current = next(a["Value"] for a in attributes if a["Key"] == key)
    flipped = "false" if current == "true" else "true"
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=balancer, Attributes=[{"Key": key, "Value": flipped}]
    )
    return (f"attribute {key}",)


def remove_alb_tag(
    world: Any, stack: str, *, ingress: str = INGRESS_KEY, key: str | None = None
) -> tuple[str, ...]:
    """Remove one tag from the ALB: `key`, else a user tag (stack.tags), else our managed-by mark
    (which also makes the ALB look not ours); never one that finds the ALB."""
    balancer, elbv2 = find_alb(world, stack, ingress=ingress), _elbv2(world)
    tags = _tagged(elbv2, [balancer])[balancer]
    key = key or (sorted(set(tags) - _FINDING_TAGS - {MANAGED_BY_TAG}) or [MANAGED_BY_TAG])[0]
    elbv2.remove_tags(ResourceArns=[balancer], TagKeys=[key])
    return (f"tag {key}",)


#: The five ALB tamperings, for parametrised tests.
ALB_TAMPERINGS = (
    delete_http_listener,
    weaken_ssl_policy,
    break_health_check,
    flip_alb_attribute,
    remove_alb_tag,
)

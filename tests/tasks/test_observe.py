"""Observation against the sandbox: read only, finds what exists, declares what the world implies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.spec import StackSpec, parse_spec

CONFIG = {
    "cluster": {"name": "kubeflow", "region": "us-west-2"},
    "route53": {"rootDomain": {"name": "example.com"}, "subDomain": {"name": "ml.example.com"}},
    "stack": {"name": "observe-test"},
}


def test_observation_reads_only_and_finds_what_exists(sandbox_world: Callable[..., Any]) -> None:
    from core.items_front import ingress_manifest
    from core.kinds import stack_plan as drift_plan
    from core.kubestate import ingress_fields
    from core.plan import PRESENT, Action
    from core.state import Kind
    from tasks.aws.clients import AwsContext, api_calls
    from tasks.aws.ec2 import ensure_subnet_tags
    from tasks.aws.eks import observe_cluster
    from tasks.aws.route53 import ensure_delegation, ensure_hosted_zone, find_root_zone
    from tasks.k8s.clients import KubeTarget
    from tasks.observe import look_at

    world = sandbox_world(controller="preinstalled")
    spec: StackSpec = parse_spec(CONFIG)
    ctx = AwsContext(region=spec.region)
    zone = ensure_hosted_zone.fn(ctx, spec)
    root = find_root_zone.fn(ctx, spec)
    assert root is not None
    ensure_delegation.fn(ctx, root.zone_id, zone)
    cluster = observe_cluster.fn(ctx, spec.cluster.name)
    assert cluster is not None
    ensure_subnet_tags.fn(ctx, cluster)
    objects = {(o["kind"], o["metadata"]["name"]): o["metadata"]["resourceVersion"]
               for kind in (("networking.k8s.io/v1", "IngressClass"), ("apps/v1", "Deployment"))
               for o in world.kube.store.list(*kind)}  # fmt: skip

    calls = api_calls()
    seen = look_at(ctx, spec, cluster, KubeTarget.kubeconfig())
    assert api_calls().since(calls).mutating_calls() == ()
    assert {(o["kind"], o["metadata"]["name"]): o["metadata"]["resourceVersion"]
            for kind in (("networking.k8s.io/v1", "IngressClass"), ("apps/v1", "Deployment"))
            for o in world.kube.store.list(*kind)} == objects  # fmt: skip

    assert seen.zone is not None
    assert seen.zone.zone_id == zone.zone_id
    assert seen.delegation is not None
    assert set(seen.delegation.values) == set(zone.name_servers)
    public, private = world.seeded.public_subnet_ids[0], world.seeded.private_subnet_ids[0]
    tags = {subnet.subnet_id: subnet.tags for subnet in seen.subnets}
    assert "kubernetes.io/role/elb" in tags[public]
    assert "kubernetes.io/role/internal-elb" in tags[private]
    # The Helm controller is not ours: its IAM is not read, and its class is the one to use.
    assert seen.controller is not None
    assert seen.controller.usable
    assert not seen.controller.owned
    assert (seen.oidc_provider, seen.policy, seen.role) == (None, None, None)
    manifest = ingress_manifest(spec, seen)
    assert manifest is not None  # the Ingress's source was read
    desired = ingress_fields(manifest)
    assert desired["class"] == "alb"
    assert desired["annotation:certificate-arn"] == PRESENT  # none requested yet
    assert seen.certificates == {}
    assert seen.ingress is None
    assert seen.host_answers == ()

    actions = {(c.item.kind, c.action) for c in drift_plan(spec, seen).changes}
    assert {(Kind.HOSTED_ZONE, Action.KEEP), (Kind.DELEGATION, Action.KEEP),
            (Kind.SUBNET_TAG, Action.KEEP), (Kind.CONTROLLER, Action.KEEP)} <= actions  # fmt: skip
    assert (Kind.SUBNET_TAG, Action.CREATE) not in actions
    for kind in (Kind.CERTIFICATE, Kind.INGRESS, Kind.LOAD_BALANCER, Kind.DNS_RECORD):
        assert (kind, Action.CREATE) in actions
        assert (kind, Action.KEEP) not in actions

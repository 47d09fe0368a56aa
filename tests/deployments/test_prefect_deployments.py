"""End to end through Prefect itself (slow): prefect.yaml deployed to a real server, runs on a worker.

`prefect server start`, `prefect work-pool create`, `prefect deploy --all`, `prefect worker start`
and `prefect deployment run` run as subprocesses, as a user runs them; the flows run in the
worker's flow-run processes against a sandbox world served from this process.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_prefect import REPO, PrefectApi, PrefectStack, prefect, python

from sandbox.aws import AwsSandbox, SeededWorld
from sandbox.kube import KubeApiServer
from sandbox.world import World, WorldOptions
from tests.tamper import CERTIFICATE_ARN, INGRESS, delete_dashboard_record, keep_first_certificate

pytestmark = [pytest.mark.end_to_end, pytest.mark.timeout(900)]

POOL = "kubeflow-alb"
STACK = "platform-example-com"
SUB = "platform.example.com"
STACK_BLOCK_TYPE = "load-balancer-stack"
ELB_TAG = "kubernetes.io/role/elb"
DRIFT_EVENT = "kubeflow-alb.drift.detected"
#: Short but real delays in the world, and wait bounds that fail fast (passed to the worker).
WORLD = WorldOptions(
    account_id="377777777777",
    acm_delay=0.4,
    alb_delay=0.4,
    dns_delay=0.2,
    route53_sync_delay=0.1,
    deployment_ready_delay=0.2,
    poll_interval=0.05,
)
SETTINGS = {
    "KFALB_POLL_INTERVAL_SECONDS": "0.05",
    "KFALB_POLL_MAX_INTERVAL_SECONDS": "0.2",
    **{
        f"KFALB_{wait}_TIMEOUT_SECONDS": "60"
        for wait in ("ACM", "DELEGATION", "ROUTE53", "CONTROLLER", "INGRESS", "ALB", "DNS")
    },
    "KFALB_HTTPS_TIMEOUT_SECONDS": "60",
    "KFALB_CLEANUP_TIMEOUT_SECONDS": "60",
}
#: Every kind setup creates in the cluster (the controller's objects, its webhooks, the Ingress).
KUBE_KINDS = [
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "IngressClass"),
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("v1", "Secret"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
]
NO_AWS_FILES = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
SAVE_CREDENTIALS = """
from prefect_aws import AwsCredentials
AwsCredentials(aws_access_key_id="testing", aws_secret_access_key="testing",
               region_name="us-west-2").save("aws-credentials", overwrite=True)
"""


@dataclass(frozen=True)
class Sandbox:
    """A started world's parts, as the test reads and tampers with them."""

    aws: AwsSandbox
    kube: KubeApiServer
    seeded: SeededWorld
    env: dict[str, str]


@contextmanager
def running_world(path: Path) -> Iterator[Sandbox]:
    """A sandbox world at `path`, started, stopped after."""
    world = World(path, WORLD)
    env = world.start()
    try:
        assert world.aws is not None
        assert world.kube is not None
        assert world.seeded is not None
        yield Sandbox(aws=world.aws, kube=world.kube, seeded=world.seeded, env=env)
    finally:
        world.stop()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Sandbox]:
    with running_world(tmp_path / "world") as sandbox:
        yield sandbox


@pytest.fixture
def deployed(prefect_stack: PrefectStack, world: Sandbox) -> PrefectStack:
    """The work pool, a worker on it, the blocks and every deployment of prefect.yaml."""
    prefect_stack.cli("work-pool", "create", POOL, "--type", "process")
    # AWS keys only in the credentials block, so every AWS call of every run must go through it.
    endpoints = {
        k: v
        for k, v in world.env.items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    prefect_stack.start_worker(POOL, {**endpoints, **SETTINGS, **NO_AWS_FILES})
    prefect_stack.together(
        [
            prefect("block", "register", "-m", "tasks.stack_block"),
            python(SAVE_CREDENTIALS),
            prefect("deploy", "--all"),
        ],
        env={"PYTHONPATH": "."},
    )
    return prefect_stack


def test_deployments_set_up_check_drift_and_clean_up_a_stack(
    deployed: PrefectStack, world: Sandbox
) -> None:
    api = deployed.api
    _check_deployments(api)
    untouched = _footprint(world)

    # Setup, the way a user starts it: `prefect deployment run ... --params`, watched to the end.
    spec = yaml.safe_load((REPO / "examples" / "sandbox.yaml").read_text())
    output = deployed.cli(
        "deployment", "run", "setup-load-balancer/setup-load-balancer",
        "--params", json.dumps({"spec": spec}), "--watch", "--watch-interval", "1", check=False,
    )  # fmt: skip
    setup_id = _run_id(output)
    _expect(deployed, setup_id, "COMPLETED")
    blocks = api.block_documents(STACK_BLOCK_TYPE)
    assert set(blocks) == {STACK}
    record = blocks[STACK]["data"]  # typed, flat fields (the UI shows them as such)
    assert record["phase"] == "ready"
    assert record["account"]
    assert record["cluster_arn"].endswith(":cluster/kubeflow")
    assert record["dashboard_url"].startswith(f"https://kubeflow.{SUB}")
    assert {item["kind"] for item in record["resources"]} >= {
        "hosted-zone", "certificate", "subnet-tag", "iam-role", "ingress", "dns-record",
    }  # fmt: skip
    assert set(api.artifacts(setup_id)) >= {
        f"{STACK}-summary", f"{STACK}-resources", f"{STACK}-dashboard", f"{STACK}-aws-api-calls",
    }  # fmt: skip

    # The scheduled deployment's default parameters check the stack just made: no drift.
    _expect(deployed, api.run_deployment("drift-check/drift-check"), "COMPLETED")
    assert api.events(DRIFT_EVENT) == []

    subnet = world.seeded.public_subnet_ids[0]
    world.aws.client("ec2").delete_tags(Resources=[subnet], Tags=[{"Key": ELB_TAG}])
    delete_dashboard_record(world, SUB)
    keep_first_certificate(world)
    drift_run = api.run_deployment("drift-check/drift-check")
    drifted = _expect(deployed, drift_run, "FAILED")
    # Drift is an expected outcome: one line, not the engine's "unexpected exception" ERROR.
    assert "exited with unexpected exception" not in api.logs(drift_run)
    items = _drifted_items(drifted)  # each names the fact, not only the resource
    named = {
        f"subnet-tag {subnet} {ELB_TAG} (missing)",
        "ingress istio-system/istio-ingress (annotation:certificate-arn)",
        f"dns-record *.{SUB} (missing)",
        # What the missing record makes visible: nothing answers for the dashboard any more.
        f"dns-answer kubeflow.{SUB} at the resolvers (missing)",
        f"https-answer https://kubeflow.{SUB}/ (missing)",
    }
    # The controller may already have carried the Ingress's change to the ALB.
    carried = {"load-balancer ALB of Ingress istio-system/istio-ingress (listener HTTPS:443 "
               "sni-certificates)"}  # fmt: skip
    assert named <= items <= named | carried
    (event,) = _wait_for_events(api, DRIFT_EVENT, count=1)
    assert event["resource"]["prefect.resource.id"] == f"kubeflow-alb.stack.{STACK}"
    rows = {(row["item"], row["field"]) for row in event["payload"]["drifted"]}
    assert ("ingress istio-system/istio-ingress", "annotation:certificate-arn") in rows

    repair = api.run_deployment("drift-check/drift-check", remediate=True)
    _expect(deployed, repair, "COMPLETED")
    assert f"{STACK}-drift-remediation" in api.artifacts(repair)
    (tagged,) = world.aws.client("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"]
    assert ELB_TAG in {tag["Key"] for tag in tagged["Tags"]}
    annotations = world.kube.store.get(*INGRESS)["metadata"]["annotations"]
    assert len(annotations[CERTIFICATE_ARN].split(",")) == 2
    # The fleet check runs the drift check of every saved stack as a subflow.
    _expect(deployed, api.run_deployment("drift-check-fleet/drift-check-fleet"), "COMPLETED")

    cleanup = api.run_deployment("cleanup-load-balancer/cleanup-load-balancer")
    _expect(deployed, cleanup, "COMPLETED")
    assert "nothing left" in api.artifacts(cleanup)[f"{STACK}-leftovers"]["data"]
    assert _footprint(world) == untouched
    assert api.block_documents(STACK_BLOCK_TYPE) == {}
    # The hourly check of the stack would now fail every hour: cleanup paused it.
    assert api.deployment("drift-check/drift-check")["paused"] is True


def _check_deployments(api: PrefectApi) -> None:
    """Every deployment of prefect.yaml on the pool; only the drift check is scheduled."""
    names = {
        "setup-load-balancer/setup-load-balancer",
        "cleanup-load-balancer/cleanup-load-balancer",
        "drift-check/drift-check",
        "drift-check-fleet/drift-check-fleet",
    }
    deployments = {name: api.deployment(name) for name in names}
    assert {d["work_pool_name"] for d in deployments.values()} == {POOL}
    for deployment in deployments.values():
        step = deployment["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]
        assert Path(step["directory"]) == REPO
        assert deployment["parameters"]["aws_credentials_block"] == "aws-credentials"
    schedules = {
        name: [(s["schedule"].get("cron"), s["active"]) for s in d["schedules"]]
        for name, d in deployments.items()
    }
    assert schedules["drift-check/drift-check"] == [("0 * * * *", True)]
    assert schedules["drift-check-fleet/drift-check-fleet"] == [("30 * * * *", False)]
    assert schedules["setup-load-balancer/setup-load-balancer"] == []


def _run_id(cli_output: str) -> str:
    for line in cli_output.splitlines():
        if "UUID:" in line:
            return line.split("UUID:", 1)[1].strip()
    raise AssertionError(f"no flow run id in:\n{cli_output}")


def _expect(stack: PrefectStack, run_id: str, state: str) -> dict[str, Any]:
    api = stack.api
    run: dict[str, Any] = api.wait_for_run(run_id)
    assert run["state_type"] == state, (
        f"{run['name']} ended {run['state_type']}: {run['state'].get('message')}\n"
        f"--- run logs\n{api.logs(run_id)}\n--- worker\n{stack.log_tail('worker')}"
    )
    return run


def _drifted_items(run: dict[str, Any]) -> set[str]:
    """The items a failed drift check names: "Stack S drifted: a, b, c. See ..."."""
    message = str(run["state"].get("message") or "")
    listed = message.partition(" drifted: ")[2].partition(". See ")[0]
    return {item.strip() for item in listed.split(", ") if item.strip()}


def _wait_for_events(api: PrefectApi, name: str, *, count: int) -> list[dict[str, Any]]:
    """Events reach the API once the server's event persister has flushed them (bounded wait)."""
    deadline = time.monotonic() + 30
    while len(found := api.events(name)) < count and time.monotonic() < deadline:
        time.sleep(0.3)
    return found


def _footprint(world: Sandbox) -> dict[str, Any]:
    """What a stack can leave behind, in AWS and in the cluster (compared before and after)."""
    aws = world.aws.client
    subnets = aws("ec2").describe_subnets()["Subnets"]
    kube = world.kube.store
    return {
        "zones": sorted(z["Name"] for z in aws("route53").list_hosted_zones()["HostedZones"]),
        "root records": sorted(
            (r["Name"], r["Type"])
            for r in aws("route53").list_resource_record_sets(
                HostedZoneId=world.seeded.root_zone_id
            )["ResourceRecordSets"]
        ),
        "certificates": aws("acm").list_certificates()["CertificateSummaryList"],
        "subnet tags": {s["SubnetId"]: sorted(map(str, s.get("Tags", []))) for s in subnets},
        "oidc providers": aws("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"],
        "policies": [p["Arn"] for p in aws("iam").list_policies(Scope="Local")["Policies"]],
        "roles": [r["RoleName"] for r in aws("iam").list_roles()["Roles"]],
        "load balancers": aws("elbv2").describe_load_balancers()["LoadBalancers"],
        "target groups": aws("elbv2").describe_target_groups()["TargetGroups"],
        "security groups": sorted(
            g["GroupId"] for g in aws("ec2").describe_security_groups()["SecurityGroups"]
        ),
        "kubernetes": sorted(
            (kind, o["metadata"].get("namespace") or "", o["metadata"]["name"])
            for api_version, kind in KUBE_KINDS
            for o in kube.list(api_version, kind)
        ),
    }

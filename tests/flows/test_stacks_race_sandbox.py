"""Stacks racing on one cluster, against one sandbox: `kfalb` processes of two stacks started
together (each its own runner, meeting only through AWS, the cluster and Prefect).

- Two setups at once: both succeed, with one controller whose webhook TLS verifies (both webhook
  configurations carry the CA of the Secret that serves); two cleanups at once: the world equals
  its snapshot from before either stack.
- A cleanup of one stack during another's setup: the other answers HTTPS and carries no mark of
  the one that left.

Rounds: KFALB_RACE_ROUNDS (default 1 here; `benchmarks/stacks_race.py` runs 20).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.flows.test_many_stacks_sandbox import _aws_snapshot, _kube_snapshot

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "sandbox.yaml"
ROUNDS = int(os.environ.get("KFALB_RACE_ROUNDS", "1"))
USER_PREFIX = "kubeflow-alb/user."


def _config(tmp: Path, name: str, subdomain: str, **stack: Any) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["route53"]["subDomain"]["name"] = subdomain
    data["stack"].update(name=name, **stack)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _env() -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "KFALB_LOCK_POLL_SECONDS": "0.1"}  # fmt: skip


def together(commands: Sequence[list[str]], logs: Path, label: str) -> list[str]:
    """Start `python -m kfalb COMMAND...` for each at once; their outputs once all ended.
    Fails naming the command when one exits non-zero."""
    env, started = _env(), []
    for index, command in enumerate(commands):
        log = (logs / f"{label}-{index}-{command[0]}.log").open("w")
        process = subprocess.Popen([sys.executable, "-m", "kfalb", *command], cwd=ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        started.append((command, process, log))
    outputs = []
    for command, process, log in started:
        code = process.wait(timeout=600)
        log.close()
        text = Path(log.name).read_text()
        assert code == 0, f"kfalb {' '.join(command)} exited {code}:\n{text[-6000:]}"
        outputs.append(text)
    return outputs


def _webhook_tls_verifies(world: Any) -> None:
    """One controller; both webhook configurations trust the CA of the Secret that serves, and
    the Secret's certificate is signed by that CA."""
    from core.webhook_ca import WEBHOOK_CA_MATCHES
    from tasks.k8s.clients import KubeTarget, connect
    from tasks.k8s.webhook_secret import observe_webhook_ca
    from tasks.k8s.webhook_tls import from_secret_data, problem

    store = world.kube.store
    deployments = [d for d in store.list("apps/v1", "Deployment", "kube-system")
                   if d["metadata"]["name"] == "aws-load-balancer-controller"]  # fmt: skip
    assert len(deployments) == 1
    with connect(KubeTarget.kubeconfig()) as kube:
        assert observe_webhook_ca(kube) == WEBHOOK_CA_MATCHES
    secret = store.get("v1", "Secret", "aws-load-balancer-webhook-tls", "kube-system")
    tls = from_secret_data(secret["data"])
    assert tls is not None
    assert problem(tls) is None


def _answers(host: str) -> None:
    from core.settings import get_settings
    from tasks.https import probe

    answer = probe(host, get_settings())
    assert answer.ok, answer.describe()


def _marks_of(world: Any, stack: str) -> list[str]:
    """Every place a mark of `stack` is left: IAM tags, the association, the controller's
    annotations, subnet markers."""
    aws = world.aws.client
    iam, key, found = aws("iam"), USER_PREFIX + stack, []
    for role in iam.list_roles()["Roles"]:
        if key in {t["Key"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}:
            found.append(f"role {role['RoleName']}")
    for policy in iam.list_policies(Scope="Local")["Policies"]:
        if key in {t["Key"] for t in iam.list_policy_tags(PolicyArn=policy["Arn"])["Tags"]}:
            found.append(f"policy {policy['PolicyName']}")
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        tags = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=provider["Arn"])
        if key in {t["Key"] for t in tags["Tags"]}:
            found.append(f"oidc {provider['Arn']}")
    deployment = world.kube.store.get(
        "apps/v1", "Deployment", "aws-load-balancer-controller", "kube-system"
    )
    if deployment and key in (deployment["metadata"].get("annotations") or {}):
        found.append("controller")
    for subnet in aws("ec2").describe_subnets()["Subnets"]:
        if any(t["Key"] == f"kubeflow-alb/added-tags/{stack}" for t in subnet.get("Tags", [])):
            found.append(f"subnet {subnet['SubnetId']}")
    return found


@pytest.mark.timeout(900 * ROUNDS + 600)
def test_two_setups_then_two_cleanups_of_one_cluster_at_once(
    sandbox_world: Callable[..., Any], tmp_path: Path
) -> None:
    world = sandbox_world()  # no controller: both setups race to install it
    aws_before, kube_before = _aws_snapshot(world), _kube_snapshot(world)
    one = _config(tmp_path, "race-a", "platform.example.com")
    two = _config(tmp_path, "race-b", "team2.example.com", ingressName="team2")
    for round_ in range(ROUNDS):
        started = time.monotonic()
        together([["setup", "--config", str(one)], ["setup", "--config", str(two)]], tmp_path,
                 f"round{round_}")  # fmt: skip
        _webhook_tls_verifies(world)
        _answers("kubeflow.platform.example.com")
        _answers("kubeflow.team2.example.com")
        outputs = together([["cleanup", "--stack", "race-a", "--yes"], ["cleanup", "--stack", "race-b", "--yes"]],
                           tmp_path, f"round{round_}")  # fmt: skip
        assert all("nothing left." in output for output in outputs)
        assert _aws_snapshot(world) == aws_before
        assert _kube_snapshot(world) == kube_before
        print(f"round {round_ + 1}/{ROUNDS}: {time.monotonic() - started:.1f}s")


@pytest.mark.timeout(1500)
def test_a_cleanup_during_another_stacks_setup_leaves_it_working_without_its_mark(
    sandbox_world: Callable[..., Any], tmp_path: Path
) -> None:
    world = sandbox_world()
    aws_before, kube_before = _aws_snapshot(world), _kube_snapshot(world)
    one = _config(tmp_path, "race-a", "platform.example.com")
    two = _config(tmp_path, "race-b", "team2.example.com", ingressName="team2")
    together([["setup", "--config", str(one)]], tmp_path, "first")
    together(
        [["cleanup", "--stack", "race-a", "--yes"], ["setup", "--config", str(two)]],
        tmp_path,
        "race",
    )
    _answers("kubeflow.team2.example.com")
    _webhook_tls_verifies(world)
    assert _marks_of(world, "race-a") == []
    assert _marks_of(world, "race-b") != []
    together([["cleanup", "--stack", "race-b", "--yes"]], tmp_path, "last")
    assert _aws_snapshot(world) == aws_before
    assert _kube_snapshot(world) == kube_before

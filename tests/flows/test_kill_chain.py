"""`kfalb setup` and `kfalb cleanup` SIGKILLed at each of their steps, each run resuming the last.

The sandbox kills the command's process group when it sees a step's first write (its AWS call,
or for the controller and the Ingress the write to the Kubernetes API server): the call is
applied, then the process dies without learning its answer, as in a crash at the worst moment.
Run 1 dies at the first step it reaches, run 2 (resuming) at the next step not yet killed at,
and so on until a run completes. Then the stack is converged with no duplicate; then the same
chain for cleanup, which ends with nothing left and the world as before setup. A short lock
lease (KFALB_LOCK_LEASE_SECONDS) lets each resumed run take the dead run's lock at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.spec import load_spec
from sandbox.aws.fault_rules import Request
from tests.flows.test_cleanup_flow import _assert_nothing_left, _baseline
from tests.flows.test_faults_scenario import ONE_OF_EACH, _counts

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "sandbox.yaml"
STACK_LABEL = "kubeflow-alb/stack"

#: The first write of each step of setup, and of cleanup.
SETUP_STEPS = {"zone", "zone-tags", "delegation", "certificate", "validation", "subnet-tags",
               "oidc-provider", "policy", "role", "attach", "controller", "ingress", "dns-record"}  # fmt: skip
CLEANUP_STEPS = {"dns-record-delete", "ingress-delete", "controller-delete", "detach",
                 "role-delete", "policy-delete", "oidc-provider-delete", "subnet-tags-delete",
                 "certificate-delete", "validation-delete", "delegation-delete", "zone-delete"}  # fmt: skip
_BY_OPERATION = {
    "CreateHostedZone": "zone", "ChangeTagsForResource": "zone-tags",
    "RequestCertificate": "certificate", "CreateTags": "subnet-tags",
    "CreateOpenIDConnectProvider": "oidc-provider", "CreatePolicy": "policy", "CreateRole": "role",
    "AttachRolePolicy": "attach", "DetachRolePolicy": "detach", "DeleteRole": "role-delete",
    "DeletePolicy": "policy-delete", "DeleteOpenIDConnectProvider": "oidc-provider-delete",
    "DeleteTags": "subnet-tags-delete", "DeleteCertificate": "certificate-delete",
    "DeleteHostedZone": "zone-delete",
}  # fmt: skip
_RECORDS = {b"<Type>NS</Type>": "delegation", b"<Type>CNAME</Type>": "validation",
            b"<Type>A</Type>": "dns-record"}  # fmt: skip


def aws_step(request: Request) -> str | None:
    """The step a write of the flows belongs to (record changes told apart by their type)."""
    if request.operation != "ChangeResourceRecordSets":
        return _BY_OPERATION.get(request.operation)
    deleting = b"<Action>DELETE</Action>" in request.body
    for marker, step in _RECORDS.items():
        if marker in request.body:
            return f"{step}-delete" if deleting else step
    return None


def kube_step(event: str, rtype: Any, obj: dict[str, Any]) -> str | None:
    """The step a write to the Kubernetes API server belongs to (only the flows make these)."""
    meta = obj.get("metadata") or {}
    ours = STACK_LABEL in (meta.get("labels") or {})
    deleting = event == "DELETED" or bool(meta.get("deletionTimestamp"))
    if rtype.kind == "Ingress" and meta.get("name") == "istio-ingress":
        if deleting:
            return "ingress-delete"
        return "ingress" if event == "ADDED" else None
    if not ours:
        return None
    if deleting:
        return "controller-delete"
    return "controller" if event == "ADDED" else None


class Chain:
    """Runs a kfalb command again and again, killing it at the next step not yet killed at."""

    def __init__(
        self,
        world: Any,
        env: dict[str, str],
        logs: Path,
        *,
        kube: Callable[[str, Any, dict[str, Any]], str | None] = kube_step,
    ) -> None:
        self.world, self.env, self.logs = world, env, logs
        self.kube_step = kube
        self.plan = world.aws.faults
        self._lock = threading.Lock()
        self._todo: set[str] = set()
        self._fired: list[str] = []
        self._live = False
        world.kube.store.subscribe(self._kube_write)

    def _take(self, step: str | None) -> bool:
        with self._lock:
            if not self._live or step not in self._todo:
                return False
            self._live = False
            self._fired.append(step)
            return True

    def _aws_write(self, request: Request) -> bool:
        return request.mutating and self._take(aws_step(request))

    def _kube_write(self, event: str, rtype: Any, obj: dict[str, Any]) -> None:
        step = self.kube_step(event, rtype, obj)
        if step is not None and self._take(step):
            self.plan.kill_now(f"kube:{step}")

    def run(self, arguments: list[str], steps: set[str]) -> tuple[list[str], str]:
        """Kill the command once at each of `steps`; the killed steps and the last run's output."""
        self._fired.clear()
        for attempt in range(len(steps) + 1):
            with self._lock:
                self._todo, self._live = steps - set(self._fired), True
            self.plan.arm_kill(self._aws_write)
            log = self.logs / f"{arguments[0]}-{attempt}.log"
            with log.open("w") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "kfalb", *arguments],
                    cwd=ROOT,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: kubectl dies with it
                )
                self.plan.kill_group = process.pid
                code = process.wait(timeout=240)
            self.plan.disarm()
            if code != -signal.SIGKILL:
                assert code == 0, (
                    f"run {attempt} of kfalb {arguments[0]}: exit {code}\n{log.read_text()}"
                )
                return list(self._fired), log.read_text()
        raise AssertionError(f"kfalb {arguments[0]} never completed; killed at {self._fired}")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_setup_and_cleanup_killed_at_every_step_resume_and_converge(
    sandbox_world: Callable[..., Any], tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    from flows.check_drift import observe_plan

    world = sandbox_world(faults="seed=0")  # the fault layer, idle until a kill is armed
    spec = load_spec(EXAMPLE.read_text())
    before = _baseline(world)
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "KFALB_LOCK_LEASE_SECONDS": "1",
        "KFALB_LOCK_POLL_SECONDS": "0.1",
    }
    chain = Chain(world, env, tmp_path)

    killed, _ = chain.run(["setup", "--config", str(EXAMPLE)], SETUP_STEPS)
    assert sorted(killed) == sorted(SETUP_STEPS)  # killed once at each step, then completed
    assert _counts(world, spec) == ONE_OF_EACH  # nothing made twice
    assert observe_plan(spec)[1].converged

    killed, output = chain.run(["cleanup", "--config", str(EXAMPLE), "--yes"], CLEANUP_STEPS)
    assert sorted(killed) == sorted(CLEANUP_STEPS)
    assert f"Stack {spec.name}: nothing left." in output
    _assert_nothing_left(world, spec, **before)

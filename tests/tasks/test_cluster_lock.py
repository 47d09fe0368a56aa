"""The cluster lock against a real Prefect server: held in runs only, one hold per thread, and a
waiting run says which stack's run holds it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.errors import WaitTimeout
from core.lease import new_lease


@pytest.fixture
def fast_lock(monkeypatch: pytest.MonkeyPatch, prefect_server: None) -> None:
    monkeypatch.setenv("KFALB_LOCK_LEASE_SECONDS", "1")
    monkeypatch.setenv("KFALB_LOCK_POLL_SECONDS", "0.05")
    monkeypatch.setenv("KFALB_PROGRESS_INTERVAL_SECONDS", "0.01")


def _running_holder(cluster: str, stack: str) -> Any:
    """A lease of `stack`'s run, still running, on the cluster's lock."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    from tasks.cluster_lock import cluster_key, lock_variable
    from tasks.leases import create

    @flow(name="cluster-lock-holder")
    def holder() -> None:
        """Stands for a stack's setup writing the cluster's shared items."""

    with get_client(sync_client=True) as client:
        run = client.create_flow_run(holder, name="other-setup")
        client.set_flow_run_state(run.id, Running(), force=True)
        now = datetime.now(UTC)
        lease = new_lease(cluster_key("us-west-2", cluster), token="other",
                          now=now - timedelta(seconds=5), duration=3600, flow_run_id=str(run.id),
                          flow_run_name=run.name, host="elsewhere", pid=4242,
                          held_for=stack)  # fmt: skip
        assert create(client, lock_variable("us-west-2", cluster), lease, []) is not None
    return run


def test_outside_a_run_nothing_is_locked(fast_lock: None) -> None:
    from tasks.cluster_lock import cluster_lease, cluster_lock_of
    from tests.leases_held import held_lease

    with cluster_lease("us-west-2", "kubeflow", holder="a") as lease:
        assert lease is None
        assert held_lease(cluster_lock_of("us-west-2", "kubeflow")) is None


def test_a_run_holds_the_lock_once_for_its_stack_and_lets_it_go(fast_lock: None) -> None:
    from prefect import flow

    from tasks.cluster_lock import cluster_lease, cluster_lock_of, lock_variable
    from tests.leases_held import held_lease

    seen: dict[str, Any] = {}

    @flow(name="holds-the-cluster")
    def holds() -> None:
        with cluster_lease("us-west-2", "Kubeflow_Prod", holder="stack-a") as lease:
            seen["lease"], seen["read"] = (
                lease,
                held_lease(cluster_lock_of("us-west-2", "Kubeflow_Prod")),
            )
            with cluster_lease("us-west-2", "Kubeflow_Prod", holder="stack-a") as nested:
                seen["nested"] = nested  # the same hold: no second acquisition

    holds()
    assert seen["lease"] is not None
    assert seen["read"].token == seen["lease"].token
    assert seen["read"].held_for == "stack-a"
    assert seen["read"].holder.startswith("stack stack-a's flow run ")
    assert seen["nested"] is None
    assert held_lease(cluster_lock_of("us-west-2", "Kubeflow_Prod")) is None
    assert lock_variable("us-west-2", "Kubeflow_Prod").startswith(
        "kfalb-cluster-lock-kubeflow-prod-"
    )


def test_a_waiting_run_says_which_stack_holds_the_cluster(
    fast_lock: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import flow

    from tasks.cluster_lock import cluster_lease
    from tasks.waits import PROGRESS_MARK

    caplog.set_level(logging.INFO, logger="kfalb.tasks")
    run = _running_holder("busy", "stack-a")
    monkeypatch.setenv("KFALB_LOCK_TIMEOUT_SECONDS", "0.3")

    @flow(name="waits-for-the-cluster")
    def waits() -> None:
        with cluster_lease("us-west-2", "busy", holder="stack-b"):
            pass

    with pytest.raises(WaitTimeout) as error:
        waits()
    holder = f"held by stack stack-a's flow run 'other-setup' ({run.id}) on elsewhere pid 4242"
    progress = [r.getMessage() for r in caplog.records if getattr(r, PROGRESS_MARK, False)]
    assert progress[0].startswith(
        "Waiting for the lock of cluster us-west-2/busy (up to 0.3s; "
        f"KFALB_LOCK_TIMEOUT_SECONDS changes this): {holder}"
    )
    assert holder in str(error.value)
    assert "`kfalb unlock --cluster busy --region us-west-2`" in str(error.value)


def test_unlock_breaks_a_cluster_lock_by_hand(
    fast_lock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from kfalb.cli import main
    from tasks.cluster_lock import cluster_lock_of
    from tests.leases_held import held_lease

    _running_holder("stuck", "stack-a")
    assert main(["unlock", "--cluster", "stuck", "--region", "us-west-2"]) == 0
    assert "broke the lock of cluster us-west-2/stuck, held by stack stack-a's flow run" in (
        capsys.readouterr().err
    )
    assert held_lease(cluster_lock_of("us-west-2", "stuck")) is None
    assert main(["unlock", "--cluster", "stuck"]) == 2  # a cluster needs its region

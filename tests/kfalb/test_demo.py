"""`kfalb demo --keep`: the world's env file leads another shell to the demo's Prefect data."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kfalb.demo import _share_prefect_data


def test_the_env_file_points_at_the_demos_prefect_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / "env"
    env.write_text("export KUBECONFIG=/x/kubeconfig\n")
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "demo prefect"))
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    _share_prefect_data(env)
    shell = subprocess.run(
        ["sh", "-c", f". '{env}' && echo \"$PREFECT_HOME|$KUBECONFIG\""],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert shell.stdout.strip() == f"{tmp_path / 'demo prefect'}|/x/kubeconfig"

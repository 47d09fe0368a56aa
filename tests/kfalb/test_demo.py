"""`kfalb demo --keep`: the world's env file leads another shell to the demo's Prefect data;
without the sandbox's packages the demo says how to install them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kfalb.demo import _share_prefect_data


def test_the_env_file_points_at_the_demos_prefect_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / "env"
    env.write_text("export KUBECONFIG=/x/kubeconfig\n")
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "demo prefect"))
    _share_prefect_data(env)
    shell = subprocess.run(
        ["sh", "-c", f". '{env}' && echo \"$PREFECT_HOME|$KUBECONFIG\""],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert shell.stdout.strip() == f"{tmp_path / 'demo prefect'}|/x/kubeconfig"


def test_without_the_sandbox_extra_the_demo_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from kfalb.cli import main

    monkeypatch.setitem(sys.modules, "sandbox.world", None)  # as if moto were not installed
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'kubeflow-alb[sandbox]'" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written

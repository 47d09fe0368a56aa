"""The installed package's version (as `kfalb --version` and the run summaries show it)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "kubeflow-alb"


def package_version() -> str:
    """The version of the installed kubeflow-alb distribution, or "unknown" when run from a
    source tree that was never installed."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"

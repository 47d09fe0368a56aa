"""The data kubeflow-alb ships as packages (kustomize bases, IAM policies, example configs), read
with importlib.resources so an installed wheel works as well as the checkout."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from core.errors import PreflightError

#: Built from the repository's deployments/ and examples/ directories (see setup.py).
DEPLOYMENTS = "kfalb_deployments"
EXAMPLES = "kfalb_examples"


def bundled_path(package: str, *parts: str) -> Path:
    """A real file-system path of bundled data (kubectl needs a directory it can read).

    Installed packages (wheel or editable) are files on disk; a zipped import is refused with a
    message rather than silently copied file by file.
    """
    found = files(package).joinpath(*parts)
    if isinstance(found, Path):
        return found
    raise PreflightError(
        f"The bundled {package}/{'/'.join(parts)} is not on the file system ({found!r}); install "
        "kubeflow-alb with pip (not from a zip) so kubectl can read its kustomize bases."
    )

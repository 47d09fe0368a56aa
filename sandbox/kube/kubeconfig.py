"""Kubeconfig files that point kubectl and the Python client at the stand-in."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml


def kubeconfig_document(
    server_url: str,
    *,
    token: str,
    ca_pem: bytes | None = None,
    context: str = "sandbox",
) -> dict[str, Any]:
    """A one-cluster, one-user kubeconfig; ``ca_pem`` becomes certificate-authority-data."""
    cluster: dict[str, Any] = {"server": server_url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(
    path: str | os.PathLike[str],
    server_url: str,
    *,
    token: str,
    ca_pem: bytes | None = None,
    context: str = "sandbox",
) -> Path:
    """Write the kubeconfig (mode 0600: it holds a token) and return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        kubeconfig_document(server_url, token=token, ca_pem=ca_pem, context=context),
        sort_keys=False,
    )
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return target

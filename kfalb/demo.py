"""`kfalb demo`: the whole job against the bundled sandbox, in one command."""

from __future__ import annotations

import os
import shlex
import sys
import threading
from pathlib import Path
from typing import Any

from core.errors import SpecError
from core.settings import get_settings
from core.spec import load_spec
from kfalb import server
from tasks.bundled import EXAMPLES, bundled_path

EXAMPLE = bundled_path(EXAMPLES, "sandbox.yaml")
STATE_DIR = Path(".kfalb-sandbox")


class SandboxMissing(SpecError):
    """The sandbox's packages are not installed (the `sandbox` extra): exit 2, how to add them."""


def run_demo(*, keep: bool = False) -> int:
    """Start the sandbox, set up the stack, check drift, clean up, stop the sandbox (and the
    local Prefect server, when the demo started it)."""
    world_class, options = _sandbox()
    directory = STATE_DIR.resolve()
    os.environ.setdefault("PREFECT_HOME", str(directory / "prefect"))
    world = world_class(directory / "world", options(acm_delay=3.0, alb_delay=3.0, dns_delay=1.0))
    _banner("Starting the sandbox: strict moto, Kubernetes API, ALB controller, DNS, HTTPS")
    env = world.start()
    os.environ.update(env)
    _share_prefect_data(world.directory / "env")
    ours = server.configured_api_url() is None and server.running() is None
    try:
        with server.prefect_api(_say):
            return _run(world.directory, keep=keep)
    finally:
        if not keep:
            world.stop()
            if ours:
                _say(server.stop())


def _sandbox() -> tuple[Any, Any]:
    """The sandbox's World classes, or how to install them."""
    try:
        from sandbox.world import World, WorldOptions
    except ModuleNotFoundError as missing:
        raise SandboxMissing(
            f"kfalb demo runs against the bundled sandbox, whose packages are not installed "
            f"(no module {missing.name!r}): pip install 'kubeflow-alb[sandbox]' (from a "
            "checkout: pip install -e '.[sandbox]', or `make demo`)."
        ) from None
    return World, WorldOptions


def _run(world_dir: Path, *, keep: bool) -> int:
    from flows.check_drift import check_drift
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from flows.setup_load_balancer import setup_load_balancer

    spec = load_spec(EXAMPLE.read_text(), source=EXAMPLE.name)
    _banner(f"Setup: stack {spec.name}, {spec.dashboard_host}")
    outputs = setup_load_balancer(spec=spec)
    port = get_settings().https_port
    print(f"\nKubeflow is served at {outputs['url']}")
    print(
        f"  try: curl --cacert {world_dir / 'ca.pem'} --resolve "
        f"{spec.dashboard_host}:{port}:127.0.0.1 {outputs['url']}"
    )
    _banner("Drift check: every resource compared with the desired state")
    check_drift(stack=spec.name)
    print("No drift.")
    if keep:
        print(
            f"\nThe sandbox stays up (Ctrl-C stops it). In another shell:\n"
            f"  . {world_dir / 'env'}\n"
            f"  kfalb stacks && kfalb drift --stack {spec.name}\n"
            "  kubectl get ingress -A"
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            return 0
    _banner("Cleanup: everything the stack owns, in reverse order")
    leftovers = cleanup_load_balancer(stack=spec.name)
    left = [f"{kind} {item}" for kind, items in leftovers.items() for item in items]
    print("Nothing left." if not left else "Left behind:\n  " + "\n  ".join(left))
    return 0 if not left else 1


def _share_prefect_data(env_file: Path) -> None:
    """Point the world's env file at the demo's Prefect data, so `kfalb drift --stack ...` in
    another shell (after `. env`) finds the stack the demo saved (and its local server)."""
    lines = [f"export PREFECT_HOME={shlex.quote(os.environ['PREFECT_HOME'])}"]
    with env_file.open("a") as env:
        env.write("\n".join(lines) + "\n")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)

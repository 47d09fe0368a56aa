"""Run the Kubernetes stand-in by itself: ``python -m sandbox.kube --kubeconfig ./kubeconfig``."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from .seed import seed_kubeflow_cluster
from .server import KubeApiServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the sandbox Kubernetes API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free one)")
    parser.add_argument("--kubeconfig", default="kubeconfig", help="where to write the kubeconfig")
    parser.add_argument("--no-seed", action="store_true", help="start empty, without Kubeflow")
    parser.add_argument("--ready-delay", type=float, default=0.5, help="Deployment ready delay (s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = KubeApiServer(port=args.port, deployment_ready_delay=args.ready_delay).start()
    if not args.no_seed:
        seed_kubeflow_cluster(server)
    path = server.write_kubeconfig(args.kubeconfig)
    logging.getLogger(__name__).info("serving %s; KUBECONFIG=%s (Ctrl-C stops)", server.url, path)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()

"""Kubernetes tasks: manifests, server-side apply, the ALB controller and the Ingress."""

"""A Kubernetes API server stand-in that kubectl and the official Python client accept."""

from .errors import ApiError
from .resources import Registry, ResourceType
from .seed import seed_kubeflow_cluster
from .server import KubeApiServer, server_tls_context
from .store import ObjectStore

__all__ = [
    "ApiError",
    "KubeApiServer",
    "ObjectStore",
    "Registry",
    "ResourceType",
    "seed_kubeflow_cluster",
    "server_tls_context",
]

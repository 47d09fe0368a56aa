"""The only place that builds Kubernetes clients: from kubeconfig, or from the EKS cluster + an STS token."""

from __future__ import annotations

import atexit
import base64
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError
from kubernetes import config
from kubernetes.client import ApiClient, Configuration
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.discovery import CacheEncoder, LazyDiscoverer

from core.errors import PreflightError
from core.resources import ClusterState
from core.settings import get_settings
from tasks import interrupt
from tasks.aws.clients import AwsContext, client
from tasks.k8s.eks_token import EksToken, mint_token
from tasks.k8s.errors import translated


@dataclass(frozen=True)
class KubeTarget:
    """Which Kubernetes API to talk to; picklable, so it can be a task argument.

    `kubeconfig`: the standard KUBECONFIG / ~/.kube/config, with `context` (or the
    KFALB_KUBE_CONTEXT setting, or the current context). `eks`: the cluster's endpoint and CA from
    DescribeCluster, authenticated with a token signed by the AWS credentials of `aws`.
    """

    kind: Literal["kubeconfig", "eks"] = "kubeconfig"
    context: str | None = None
    cluster_name: str = ""
    endpoint: str = ""
    ca_data: str = field(default="", repr=False)  # base64 PEM, as DescribeCluster returns it
    aws: AwsContext | None = None

    @classmethod
    def kubeconfig(cls, context: str | None = None) -> KubeTarget:
        return cls(kind="kubeconfig", context=context)

    @classmethod
    def eks(cls, *, cluster_name: str, endpoint: str, ca_data: str, aws: AwsContext) -> KubeTarget:
        return cls(
            kind="eks", cluster_name=cluster_name, endpoint=endpoint, ca_data=ca_data, aws=aws
        )

    def describe(self) -> str:
        if self.kind == "eks":
            return f"EKS cluster {self.cluster_name} at {self.endpoint}"
        return f"kubeconfig context {self.context or get_settings().kube_context or '(current)'}"


@dataclass
class Kube:
    """Clients for one target; the dynamic client (discovery) is built on first use."""

    api: ApiClient
    _dynamic: DynamicClient | None = None

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            with translated(f"API discovery at {self.server}"):
                self._dynamic = DynamicClient(  # type: ignore[no-untyped-call]
                    self.api, cache_file=_discovery_file(self.server), discoverer=_Discoverer
                )
        return self._dynamic

    def refresh_discovery(self) -> None:
        """Forget discovered API resources (after CRDs were created)."""
        _forget_misses(_discovery_file(self.server))
        if self._dynamic is not None:
            with translated(f"API discovery at {self.server}"):
                self._dynamic.resources.invalidate_cache()


@contextmanager
def connect(target: KubeTarget) -> Iterator[Kube]:
    """Clients for the target, closed on exit."""
    api = _api_client(target)
    try:
        yield Kube(api=api)
    finally:
        api.close()  # type: ignore[no-untyped-call]


#: This process's discovery caches, one file per API server, shared by its connections (a
#: fleet's checks discover each cluster once, not once per read); gone with the process. Not
#: the library's default file in /tmp: that outlives the run and can hide CRDs created since.
_DISCOVERY_DIR: list[str] = []
_DISCOVERY_LOCK = threading.Lock()


def _discovery_file(server: str) -> str:
    with _DISCOVERY_LOCK:
        if not _DISCOVERY_DIR:
            folder = tempfile.mkdtemp(prefix="kfalb-kube-")
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            _DISCOVERY_DIR.append(folder)
    name = hashlib.sha256(server.encode()).hexdigest()[:32]
    return os.path.join(_DISCOVERY_DIR[0], f"discovery-{name}.json")


#: Kinds a server did not serve, per discovery cache file: search -> when it found nothing.
_MISSES: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}


def _forget_misses(cache_file: str) -> None:
    with _DISCOVERY_LOCK:
        _MISSES.pop(cache_file, None)


class _Discoverer(LazyDiscoverer):
    """The library's lazy discovery, its cache file replaced whole (connections of this process
    read it while another writes). A kind missing from the cache makes the library discover
    again, so a CRD created since is still found; a kind that was still missing then is taken
    as missing for `kube_discovery_miss_seconds` (the library would discover the whole API
    again, and write its cache, on every read of a kind the cluster does not serve)."""

    def __init__(self, client: DynamicClient, cache_file: str) -> None:
        self._file = cache_file
        self._remember: float | None = None
        super().__init__(client, cache_file)  # type: ignore[no-untyped-call]

    def _miss_seconds(self) -> float:
        # Read once per connection: the settings are read from the environment (milliseconds).
        if self._remember is None:
            self._remember = get_settings().kube_discovery_miss_seconds
        return self._remember

    # As LazyDiscoverer.search: keywords only (the abstract base names four of them).
    def search(self, **kwargs: Any) -> list[Any]:  # type: ignore[override]
        wanted = tuple(sorted((name, repr(value)) for name, value in kwargs.items()))
        with _DISCOVERY_LOCK:
            missed = _MISSES.get(self._file, {}).get(wanted)
        if missed is not None and time.monotonic() - missed < self._miss_seconds():
            return []
        found: list[Any] = super().search(**kwargs)  # type: ignore[no-untyped-call]
        if not found:
            with _DISCOVERY_LOCK:
                _MISSES.setdefault(self._file, {})[wanted] = time.monotonic()
        return found

    def _write_cache(self) -> None:
        partial = f"{self._file}.{os.getpid()}.{threading.get_ident()}"
        try:
            with open(partial, "w", encoding="utf-8") as out:
                json.dump(self._cache, out, cls=CacheEncoder)
            os.replace(partial, self._file)
        except OSError:
            pass  # as the library: a cache not written is discovered again


class StoppableApiClient(ApiClient):
    """The Kubernetes API client; once the run was asked to stop (Ctrl-C), no new request
    starts (every request, typed or dynamic, goes through `call_api`)."""

    def call_api(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        interrupt.check(f"Kubernetes {method} {urlsplit(url).path}")
        return super().call_api(method, url, *args, **kwargs)


def _api_client(target: KubeTarget) -> ApiClient:
    if target.kind == "eks":
        return _eks_client(target)
    context = target.context or get_settings().kube_context
    # Read KUBECONFIG now: the library reads it once at import.
    path = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    if not any(os.path.exists(part) for part in path.split(os.pathsep)):
        raise PreflightError(
            f"No kubeconfig at {path}. Run `aws eks update-kubeconfig --name <cluster>` or set "
            "KUBECONFIG."
        )
    # As the library's new_client_from_config, with the client that honours a stop request.
    configuration = type.__call__(Configuration)
    with translated(f"Loading kubeconfig {path} (context {context or 'current'})"):
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    return StoppableApiClient(configuration)


def _eks_client(target: KubeTarget) -> ApiClient:
    if not (target.endpoint and target.ca_data and target.cluster_name and target.aws):
        raise PreflightError(
            f"EKS cluster {target.cluster_name or '?'}: endpoint, CA data and AWS context are needed "
            "to reach its API (is the cluster ACTIVE?)."
        )
    configuration = Configuration(host=target.endpoint)
    configuration.ca_cert_data = base64.b64decode(target.ca_data).decode()
    configuration.api_key_prefix["authorization"] = "Bearer"
    refresher = _TokenRefresher(target.cluster_name, target.aws)
    # The client only asks the hook for a token once one is set: mint the first one now.
    refresher(configuration)
    configuration.refresh_api_key_hook = refresher  # type: ignore[assignment]
    return StoppableApiClient(configuration)


class _TokenRefresher:
    """Called by the client before each request: mints a new token when the current one is old."""

    def __init__(self, cluster_name: str, aws: AwsContext) -> None:
        self._cluster_name = cluster_name
        self._aws = aws
        self._token: EksToken | None = None
        self._lock = threading.Lock()

    def __call__(self, configuration: Configuration) -> None:
        with self._lock:
            now = datetime.now(UTC)
            if self._token is None or self._token.expired(now):
                try:
                    self._token = mint_token(client(self._aws, "sts"), self._cluster_name)
                except BotoCoreError as error:
                    raise PreflightError(
                        f"Cannot sign a token for EKS cluster {self._cluster_name}: {error}. "
                        "Check the AWS credentials."
                    ) from error
            configuration.api_key["authorization"] = self._token.token


#: How flows reach the Kubernetes API: the kubeconfig, or the EKS cluster's endpoint and an STS token.
AccessMode = Literal["kubeconfig", "eks"]


def cluster_target(
    mode: AccessMode, cluster: ClusterState | None, aws: AwsContext, context: str | None = None
) -> KubeTarget | None:
    """The target for an access mode (`context`: the kubeconfig context, else the setting or the
    current one); None when EKS access is asked of a cluster that is gone or has no endpoint yet."""
    if mode == "kubeconfig":
        return KubeTarget.kubeconfig(context)
    if cluster is None or not cluster.endpoint or not cluster.certificate_authority:
        return None
    return KubeTarget.eks(
        cluster_name=cluster.name,
        endpoint=cluster.endpoint,
        ca_data=cluster.certificate_authority,
        aws=aws,
    )

"""The only place that builds AWS clients; it also counts every API call they make."""

from __future__ import annotations

import functools
import math
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    Credentials,
    RefreshableCredentials,
)
from botocore.exceptions import ClientError, NoCredentialsError
from botocore.loaders import Loader, create_loader
from pydantic import BaseModel, ConfigDict, Field

from core.errors import AwsError, SpecError
from core.resources import ApiCall, ApiCallCounts
from core.settings import get_settings
from tasks import interrupt
from tasks.aws.route53_budget import learn_account, route53_slot

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_acm import ACMClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_eks import EKSClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_route53.type_defs import WaiterConfigTypeDef
    from mypy_boto3_sts import STSClient

Service = Literal["acm", "ec2", "eks", "elbv2", "iam", "route53", "sts", "wafv2"]

#: The User-Agent's word naming the stack of a call (CloudTrail's userAgent tells whose it was).
_STACK_AGENT = "kubeflow-alb-stack/"
#: Operations with these prefixes only read; everything else counts as mutating.
READ_PREFIXES = ("Describe", "Get", "List", "Head", "Lookup", "Search", "Test", "Check")


def _config(scope: str | None = None) -> Config:
    # botocore "standard" retry mode backs off on throttling and 5xx. No attempt count here, so
    # botocore's own AWS_MAX_ATTEMPTS still applies; Prefect retries on top of this. A new Config
    # per client because botocore writes the resolved attempt count into the retries dict.
    return Config(
        retries={"mode": "standard"},
        # The stack in the User-Agent: CloudTrail's userAgent then tells whose call it was.
        user_agent_extra="kubeflow-alb" + (f" {_STACK_AGENT}{scope}" if scope else ""),
        connect_timeout=10,
        read_timeout=60,
        # One client serves every thread of the process (made once): room for their calls.
        max_pool_connections=32,
    )


class AssumedRole(BaseModel):
    """An IAM role assumed on top of a context's credentials (sts:AssumeRole)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role_arn: str = Field(description="The IAM role to assume.")
    external_id: str | None = Field(default=None, description="sts:ExternalId, when asked for.")
    session_name: str = Field(description="RoleSessionName: shows in the role account's logs.")


class AwsContext(BaseModel):
    """Where and as whom to call AWS: a region, optionally a prefect-aws credentials block, and
    optionally a role assumed with those credentials (the root zone in another account)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = Field(description="AWS region of the cluster and its certificates.")
    credentials_block: str | None = Field(
        default=None,
        description="Name of a prefect-aws AwsCredentials block; empty: the default AWS chain.",
    )
    scope: str | None = Field(
        default=None,
        description="A label (e.g. the stack name) whose API calls are also counted apart, so "
        "stacks checked at once in one process each get their own counts. Not an AWS setting.",
    )
    assume_role: AssumedRole | None = Field(
        default=None,
        description="A role to assume with the credentials above; its account is then called.",
    )


#: What STS answers when the role cannot be assumed by this identity (or does not exist).
_REFUSALS = frozenset(
    {"AccessDenied", "InvalidClientTokenId", "ExpiredToken", "RegionDisabledException"}
)

# boto3 Sessions are not thread-safe, while clients are: build under a lock, then share freely.
#: Reentrant: a role's credentials may refresh (building an STS client) inside a locked build.
_lock = threading.RLock()
_sessions: dict[AwsContext, boto3.session.Session] = {}
_counts: Counter[tuple[str, str]] = Counter()
_scoped: dict[str, Counter[tuple[str, str]]] = {}
_counts_lock = threading.Lock()


def session(ctx: AwsContext) -> boto3.session.Session:
    """The cached boto3 session for a context (credentials block loaded once per process).

    With a role to assume, the role's first credentials are fetched here (outside the lock), so
    a role that cannot be assumed fails at once with the role named; botocore refreshes them
    before they expire.
    """
    if ctx.scope is not None and ctx.assume_role is None:
        # One session per credentials and region, whatever the scope: a fleet's stacks share
        # it (its credentials block is read once, its service models loaded once); the scope
        # lives on in each stack's clients (their User-Agent and call counts). A role's session
        # stays the scope's: its AssumeRole calls are counted under it.
        return session(ctx.model_copy(update={"scope": None}))
    with _lock:
        found = _sessions.get(ctx)
        if found is None and ctx.assume_role is None:
            found = _sessions[ctx] = _new_session(ctx)
    if found is not None:
        return found
    assert ctx.assume_role is not None
    made = _role_session(
        session(ctx.model_copy(update={"assume_role": None})), ctx, ctx.assume_role
    )
    with _lock:  # two threads may both have assumed the role: keep one session
        return _sessions.setdefault(ctx, made)


class _RoleCredentials(CredentialProvider):
    """A credential provider that hands out the assumed role's refreshable credentials."""

    METHOD = "kfalb-assume-role"
    CANONICAL_NAME = "kfalb-assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def _role_session(
    base: boto3.session.Session, ctx: AwsContext, role: AssumedRole
) -> boto3.session.Session:
    """A session whose credentials come from AssumeRole with the base session's credentials,
    refreshed by botocore before they expire. The STS calls are counted like any other."""
    source = base.get_credentials()
    if source is None:
        raise NoCredentialsError()

    def sts_client(service: str, **kwargs: Any) -> Any:
        with _lock:
            made = base.client(service, region_name=ctx.region, config=_config(), **kwargs)  # type: ignore[call-overload]
        made.meta.events.register("before-call", _refuse_after_stop)
        made.meta.events.register("before-call", functools.partial(_record, scope=ctx.scope))
        return made

    extra: dict[str, Any] = {"RoleSessionName": role.session_name}
    if role.external_id:
        extra["ExternalId"] = role.external_id
    fetcher = AssumeRoleCredentialFetcher(sts_client, source, role.role_arn, extra_args=extra)
    credentials = RefreshableCredentials.create_from_metadata(
        metadata=_first_credentials(fetcher, role),
        refresh_using=fetcher.fetch_credentials,
        method=_RoleCredentials.METHOD,
    )
    core = botocore.session.Session()
    core.get_component("credential_provider").insert_before("env", _RoleCredentials(credentials))
    return _sharing_models(boto3.session.Session(botocore_session=core, region_name=ctx.region))


def _first_credentials(fetcher: AssumeRoleCredentialFetcher, role: AssumedRole) -> Any:
    """AssumeRole once; a refusal names the role and AWS's reason (never the credentials)."""
    try:
        return fetcher.fetch_credentials()
    except ClientError as error:
        found = error.response.get("Error", {})
        code, message = str(found.get("Code", "")), str(found.get("Message", "")) or str(error)
        if code not in _REFUSALS:
            raise  # throttling and server errors: translated (and retried) like any other call
        raise AwsError(
            f"Cannot assume IAM role {role.role_arn}: AssumeRole returned {code}: {message}. "
            "Check that the role exists and that its trust policy allows this AWS identity"
            f"{' with this sts:ExternalId' if role.external_id else ''}.",
            code=code,
            operation="AssumeRole",
        ) from None


def _new_session(ctx: AwsContext) -> boto3.session.Session:
    if ctx.credentials_block:
        # Imported here: prefect_aws is heavy and only needed when a block is named.
        from prefect_aws import AwsCredentials

        try:
            block: Any = AwsCredentials.load(ctx.credentials_block)  # sync: not a coroutine
        except ValueError as error:  # Prefect's "Unable to find block document named ..."
            raise SpecError(
                f"No prefect-aws AwsCredentials block named {ctx.credentials_block!r} (the "
                f"--aws-credentials-block / aws_credentials_block parameter): {error}. Create it "
                "(see docs/real-aws.md), name an existing one, or leave it empty to use the "
                "default AWS credential chain. Nothing was sent to AWS with it."
            ) from None
        made: boto3.session.Session = block.get_boto3_session()
        return _sharing_models(made)
    return _sharing_models(boto3.session.Session(region_name=ctx.region))


#: botocore's data loaders by data path: a loader keeps the service models it has read (EC2's
#: alone is megabytes of JSON, about half a second of CPU), so the sessions of a fleet's
#: accounts read each model once, not once per account.
_loaders: dict[str | None, Loader] = {}


def _sharing_models(made: boto3.session.Session) -> boto3.session.Session:
    """`made`, its service models and endpoint data read through this process's loader."""
    core = made._session
    path = core.get_config_variable("data_path")
    with _lock:
        loader = _loaders.get(path)
        if loader is None:
            loader = _loaders[path] = create_loader(path)
    core.register_component("data_loader", loader)
    return made


def reset_sessions() -> None:
    """Forget cached sessions (after credentials change, and between tests)."""
    with _lock:
        _sessions.clear()
        _clients.clear()


def reset_clients() -> None:
    """Forget cached clients, keeping the sessions: a client copies its session's event
    handlers when made, so handlers registered on a session since reach only new clients."""
    with _lock:
        _clients.clear()


@overload
def client(ctx: AwsContext, service: Literal["acm"]) -> ACMClient: ...
@overload
def client(ctx: AwsContext, service: Literal["ec2"]) -> EC2Client: ...
@overload
def client(ctx: AwsContext, service: Literal["eks"]) -> EKSClient: ...
@overload
def client(ctx: AwsContext, service: Literal["elbv2"]) -> ElasticLoadBalancingv2Client: ...
@overload
def client(ctx: AwsContext, service: Literal["iam"]) -> IAMClient: ...
@overload
def client(ctx: AwsContext, service: Literal["route53"]) -> Route53Client: ...
@overload
def client(ctx: AwsContext, service: Literal["sts"]) -> STSClient: ...
@overload  # no stubs installed for wafv2: one read, typed at its call site
def client(ctx: AwsContext, service: Literal["wafv2"]) -> Any: ...
def client(ctx: AwsContext, service: Service) -> Any:
    """A new client for `service` in the context's region, with the call recorder attached.

    The endpoint comes from boto3's own settings (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`).
    """
    base = session(ctx)
    key = (ctx, service, base, _client_environment())
    with _lock:
        made = _clients.get(key)
        if made is not None:
            return made
        made = base.client(service, region_name=ctx.region, config=_config(ctx.scope))
        made.meta.events.register("before-call", _refuse_after_stop)
        made.meta.events.register("before-call", functools.partial(_record, scope=ctx.scope))
        if ctx.scope is None:
            made.meta.events.register("before-send", _name_call_scope)
        _share_route53_budget(made, service, base)
        _clients[key] = made
    return made


#: Clients made, by context, service, session and the environment they were made in: boto3's
#: clients are thread safe, and making one costs 10-70 ms of CPU (a setup asks for hundreds).
_clients: dict[tuple[Any, ...], Any] = {}


def _client_environment() -> tuple[tuple[str, str], ...]:
    """What a client takes from the environment when it is made: endpoints, credentials files
    and kubeflow-alb's Route53 budget settings (another value: another client)."""
    return tuple(sorted((name, value) for name, value in os.environ.items()
                        if name.startswith(("AWS_", "KFALB_ROUTE53"))))  # fmt: skip


#: Operations that change nothing in any account though their names do not say so.
READ_OPERATIONS = frozenset({"AssumeRole"})  # STS hands out temporary credentials


def is_read_operation(operation: str) -> bool:
    """True for operations that only read (Describe*, Get*, List*..., and AssumeRole)."""
    return operation.startswith(READ_PREFIXES) or operation in READ_OPERATIONS


def _refuse_after_stop(model: OperationModel, **_: Any) -> None:
    # before-call: once the user asked the run to stop, no new call starts (the one in flight,
    # retries included, finishes on its own).
    interrupt.check(f"AWS {model.service_model.service_name}:{model.name}")


#: The stack whose calls the clients of a context without a scope make in this context (a
#: fleet's quick looks share one client per account, service and region between their stacks).
_call_scope: ContextVar[str | None] = ContextVar("kfalb_aws_call_scope", default=None)


@contextmanager
def calls_of(scope: str) -> Iterator[None]:
    """Count the calls of unscoped contexts' clients made in this context (and threads that
    copy it) under `scope`, and name it in their User-Agent, as a scoped context's clients do."""
    token = _call_scope.set(scope)
    try:
        yield
    finally:
        _call_scope.reset(token)


def _name_call_scope(request: Any, **_: Any) -> None:
    # before-send (botocore rebuilds the User-Agent when it creates the request; it is not signed).
    scope = _call_scope.get()
    agent = request.headers.get("User-Agent", b"")
    agent = agent.decode() if isinstance(agent, bytes) else str(agent)
    if scope is not None and _STACK_AGENT not in agent:
        request.headers["User-Agent"] = f"{agent} {_STACK_AGENT}{scope}"


def _record(model: OperationModel, scope: str | None = None, **_: Any) -> None:
    # before-call fires once per API call (botocore's own retries are not counted again).
    scope = scope if scope is not None else _call_scope.get()
    key = (model.service_model.service_name, model.name)
    with _counts_lock:
        _counts[key] += 1
        if scope is not None:
            _scoped.setdefault(scope, Counter())[key] += 1


def api_calls(scope: str | None = None) -> ApiCallCounts:
    """A snapshot of the AWS API calls made by this process so far (by the clients of contexts
    with this `scope` only, when given); diff two with `since()`."""
    with _counts_lock:
        items = sorted((_counts if scope is None else _scoped.get(scope, Counter())).items())
    return ApiCallCounts(
        calls=tuple(
            ApiCall(
                service=service,
                operation=operation,
                mutating=not is_read_operation(operation),
                count=count,
            )
            for (service, operation), count in items
        )
    )


# --- Route53's rate, shared per account ----------------------------------------------------


def _share_route53_budget(made: Any, service: Service, base: boto3.session.Session) -> None:
    if service == "route53":
        settings = get_settings()
        made.meta.events.register(
            "before-send.route53",
            functools.partial(
                route53_slot,
                rate=settings.route53_rate,
                burst=settings.route53_burst,
                shared=settings.route53_budget == "prefect",
            ),
        )
    elif service == "sts":
        credentials = base.get_credentials()
        key = credentials.get_frozen_credentials().access_key if credentials else ""
        if key:
            made.meta.events.register(
                "after-call.sts.GetCallerIdentity", functools.partial(learn_account, key=key)
            )


def waiter_config(*, interval: float, timeout: float) -> WaiterConfigTypeDef:
    """botocore WaiterConfig from settings: poll every `interval` seconds, for up to `timeout`."""
    delay = max(interval, 0.01)
    # botocore sleeps a float happily; the stubs only declare int.
    return cast("WaiterConfigTypeDef", {"Delay": delay, "MaxAttempts": math.ceil(timeout / delay)})

"""The root zone's context: with route53.rootDomain.roleArn its Route53 calls assume the role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from core.errors import AwsError, PreflightError
from core.spec import StackSpec, parse_spec
from sandbox.aws import AwsSandbox
from sandbox.aws.seed import RootAccount
from sandbox.aws.server import reset_account
from tasks.aws import clients
from tasks.aws.clients import AwsContext
from tasks.aws.root_dns import preflight_root_dns, root_dns, zone_access
from tasks.aws.route53 import find_root_zone
from tasks.aws.sts import caller_identity

ROOT = "222222220041"


@pytest.fixture(scope="module")
def root_account(sandbox: AwsSandbox) -> Iterator[RootAccount]:
    reset_account(ROOT)
    yield sandbox.seed_root_account(ROOT, root_domain="example.com", external_id="id-1")
    reset_account(ROOT)


def _with_role(spec: StackSpec, role_arn: str, external_id: str | None = "id-1") -> StackSpec:
    data: dict[str, Any] = json.loads(spec.model_dump_json(by_alias=True))
    data["route53"]["rootDomain"].update({"roleArn": role_arn, "externalId": external_id})
    return parse_spec(data)


def test_without_a_role_the_root_zone_uses_the_workload_context(
    ctx: AwsContext, spec: StackSpec
) -> None:
    assert root_dns(ctx, spec) is ctx
    assert zone_access(ctx, spec, "ZROOT", root_zone_id="ZROOT") is ctx
    assert preflight_root_dns.fn(ctx, spec) is None


def test_the_root_zone_is_read_in_the_roles_account(
    spec: StackSpec, root_account: RootAccount
) -> None:
    ctx = AwsContext(region="us-west-2", scope="root-dns-test")
    spec = _with_role(spec, root_account.role_arn)
    root = root_dns(ctx, spec)
    before = clients.api_calls(scope="root-dns-test")

    assert root.assume_role is not None
    assert root.assume_role.session_name == f"kfalb-{spec.name}"
    assert zone_access(ctx, spec, root_account.root_zone_id,
                       root_zone_id=root_account.root_zone_id) == root  # fmt: skip
    assert zone_access(ctx, spec, "ZSUBDOMAIN", root_zone_id=root_account.root_zone_id) is ctx
    found = find_root_zone.fn(root, spec)
    assert found is not None
    assert found.zone_id == root_account.root_zone_id
    assert find_root_zone.fn(ctx, spec) is None  # the workload account has no root zone
    identity = caller_identity(root)
    assert identity.account == ROOT
    assert identity.arn.endswith(f":assumed-role/kfalb-root-dns/kfalb-{spec.name}")
    # One AssumeRole for all of it, counted under the stack's scope, and not as a change.
    calls = clients.api_calls(scope="root-dns-test").since(before)
    assume = [c for c in calls.calls if (c.service, c.operation) == ("sts", "AssumeRole")]
    assert [(c.count, c.mutating) for c in assume] == [(1, False)]
    assert calls.mutating == 0
    # The role's credentials are botocore's refreshable ones, not a frozen copy.
    credentials = clients.session(root).get_credentials()
    assert credentials is not None
    assert credentials.method == "kfalb-assume-role"
    assert credentials.refresh_needed() is False


@pytest.mark.parametrize(
    ("role", "external_id"),
    [("kfalb-no-such-role", "id-1"), ("kfalb-root-dns", "wrong"), ("kfalb-root-dns", None)],
    ids=["missing", "wrong-external-id", "no-external-id"],
)
def test_a_role_that_cannot_be_assumed_is_named_with_the_reason(
    ctx: AwsContext,
    spec: StackSpec,
    root_account: RootAccount,
    role: str,
    external_id: str | None,
) -> None:
    arn = f"arn:aws:iam::{ROOT}:role/{role}"
    spec = _with_role(spec, arn, external_id)

    with pytest.raises(PreflightError) as refused:
        preflight_root_dns.fn(ctx, spec)
    with pytest.raises(AwsError) as denied:  # any other first call on the root zone says the same
        find_root_zone.fn(root_dns(ctx, spec), spec)

    assert str(refused.value).startswith(
        f"route53.rootDomain.roleArn: Cannot assume IAM role {arn}"
    )
    assert f"is not authorized to perform: sts:AssumeRole on resource: {arn}" in str(refused.value)
    assert str(denied.value).startswith(
        f"Cannot assume IAM role {arn}: AssumeRole returned AccessDenied"
    )
    assert (denied.value.code, denied.value.operation) == ("AccessDenied", "AssumeRole")

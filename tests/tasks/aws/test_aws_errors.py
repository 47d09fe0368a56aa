"""Error translation, retry policy, clients and the API call recorder."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import boto3
import prefect_aws
import pytest
from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from core.errors import AwsError, AwsTransientError, WaitTimeout
from core.resources import RecordChange, RecordSetState
from tasks.aws import (
    acm,
    acm_issuance,
    clients,
    ec2,
    eks,
    elbv2,
    iam,
    iam_policy,
    route53,
    route53_delegation,
    route53_records,
    sts,
)
from tasks.aws.clients import AwsContext
from tasks.retry import RETRIES, retry_on_transient

MODULES = [
    acm,
    acm_issuance,
    ec2,
    eks,
    elbv2,
    iam,
    iam_policy,
    route53,
    route53_delegation,
    route53_records,
    sts,
]


def _retried(error: Exception) -> bool:
    return retry_on_transient(None, None, Failed(data=error))  # type: ignore[arg-type]


def test_every_aws_task_retries_only_transient_errors():
    found = {
        name: item
        for module in MODULES
        for name, item in vars(module).items()
        if isinstance(item, Task)
    }
    assert len(found) >= 30
    for name, item in found.items():
        assert item.retry_condition_fn is retry_on_transient, name
        assert item.retries == RETRIES, name
        assert item.cache_policy is NO_CACHE, name
        assert item.description, f"{name} has no docstring for the UI"


def test_throttling_is_transient_and_retried_by_prefect(ctx, spec, faults):
    faults.fail("route53", "ListHostedZonesByName", "Throttling", message="Rate exceeded")
    with pytest.raises(AwsTransientError, match="Rate exceeded") as caught:
        route53.find_root_zone.fn(ctx, spec)
    assert (caught.value.code, caught.value.operation) == ("Throttling", "ListHostedZonesByName")
    assert _retried(caught.value)


def test_access_denied_is_permanent_and_never_retried(ctx, spec, faults, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    faults.fail("route53", "ListHostedZonesByName", "AccessDenied", status=403)
    with pytest.raises(AwsError, match="lacks a permission") as caught:
        route53.find_root_zone.fn(ctx, spec)
    assert caught.value.code == "AccessDenied"
    assert not _retried(caught.value)
    assert faults.sent == ["ListHostedZonesByName"]  # botocore did not retry it either


def test_server_errors_are_transient(ctx, faults):
    faults.fail("acm", "ListCertificates", "InternalFailure", status=500)
    with pytest.raises(AwsTransientError):
        acm.observe_certificate.fn(
            ctx,
            spec=None,  # type: ignore[arg-type]
            request=acm.CertificateRequest(role="root", domain="*.example.com"),
            zones=acm.ValidationZones(subdomain="a.example.com", root="example.com"),
        )


def test_botocore_retries_a_throttled_call_first(ctx, spec, root_zone_id, faults, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    faults.fail("route53", "ListHostedZonesByName", "Throttling", times=1)
    zone = route53.find_root_zone.fn(ctx, spec)
    assert zone is not None
    assert faults.sent == ["ListHostedZonesByName", "ListHostedZonesByName"]


def test_errors_survive_pickling():
    error = AwsTransientError("slow down", code="Throttling", operation="GetChange")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.message, copy.code, copy.operation) == (
        AwsTransientError,
        "slow down",
        "Throttling",
        "GetChange",
    )


def test_a_change_that_never_syncs_times_out(ctx, root_zone_id, faults, monkeypatch):
    monkeypatch.setenv("KFALB_ROUTE53_TIMEOUT_SECONDS", "0.05")
    pending = (
        b'<GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo>'
        b"<Id>/change/C1</Id><Status>PENDING</Status><SubmittedAt>2026-01-01T00:00:00Z"
        b"</SubmittedAt></ChangeInfo></GetChangeResponse>"
    )
    faults.respond("route53", "GetChange", pending)
    record = RecordSetState(name="a.example.com", type="A", ttl=60, values=("192.0.2.1",))
    with pytest.raises(WaitTimeout, match="to be INSYNC; last seen: status PENDING"):
        route53_records.change_records.fn(
            ctx, root_zone_id, [RecordChange(action="UPSERT", record=record)]
        )


def test_recorder_counts_calls_and_classifies_them(ctx):
    before = clients.api_calls()
    sts.observe_caller_identity.fn(ctx)
    sts.observe_caller_identity.fn(ctx)
    made = clients.api_calls().since(before)
    assert [(c.service, c.operation, c.count, c.mutating) for c in made.calls] == [
        ("sts", "GetCallerIdentity", 2, False)
    ]
    assert made.mutating == 0
    assert clients.is_read_operation("DescribeCertificate")
    assert not clients.is_read_operation("ChangeResourceRecordSets")


def test_clients_are_built_safely_from_many_threads(ctx):
    before = clients.api_calls()
    with ThreadPoolExecutor(max_workers=8) as pool:
        accounts = list(pool.map(lambda _: sts.caller_identity(ctx).account, range(16)))
    assert set(accounts) == {"210987654321"}
    assert clients.api_calls().since(before).reads == 16


def test_credentials_block_is_loaded_by_name(monkeypatch):
    loaded = []

    class FakeBlock:
        def get_boto3_session(self):
            return boto3.session.Session(
                aws_access_key_id="blockkey", aws_secret_access_key="blocksecret"
            )

    def load(name):
        loaded.append(name)
        return FakeBlock()

    monkeypatch.setattr(prefect_aws.AwsCredentials, "load", load)
    ctx = AwsContext(region="us-west-2", credentials_block="kubeflow-aws")
    assert pickle.loads(pickle.dumps(ctx)) == ctx
    assert sts.observe_caller_identity.fn(ctx).account == "210987654321"
    sts.observe_caller_identity.fn(ctx)
    assert loaded == ["kubeflow-aws"]  # once per process, then cached
    creds = clients.session(ctx).get_credentials()
    assert creds is not None
    assert creds.access_key == "blockkey"

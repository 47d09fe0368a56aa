"""The LoadBalancerStack block: typed, flat fields the Prefect UI can show; records round-trip."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from core.state import Kind, StackRecord, StackResource

RECORD = StackRecord(
    stack="block-test",
    spec={"cluster": {"name": "kubeflow", "region": "us-west-2"},
          "route53": {"rootDomain": {"name": "example.com"},
                      "subDomain": {"name": "platform.example.com"}}},
    phase="ready",
    resources=(
        StackResource(kind=Kind.HOSTED_ZONE, id="Z1", name="platform.example.com", owned=True,
                      details={"name_servers": "ns-1.example.net,ns-2.example.org"}),
        StackResource(kind=Kind.SUBNET_TAG, id="subnet-1/kubernetes.io/role/elb", owned=True,
                      details={"subnet_id": "subnet-1", "key": "kubernetes.io/role/elb",
                               "value": "1"}),
        StackResource(kind=Kind.CERTIFICATE, id="arn:aws:acm:us-west-2:1:certificate/c",
                      owned=False, status="ISSUED"),
    ),
    account="111111111111", partition="aws", region="us-west-2",
    cluster_arn="arn:aws:eks:us-west-2:111111111111:cluster/kubeflow",
    dashboard_url="https://kubeflow.platform.example.com/",
)  # fmt: skip


def _free_form(schema: Any, path: str = "") -> list[str]:
    """Paths of objects in a JSON schema without declared properties (shown as raw JSON)."""
    found = []
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" not in schema:
            found.append(path)
        for key, value in schema.items():
            found += _free_form(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found += _free_form(value, f"{path}/{index}")
    return found


def test_the_block_page_shows_only_text_fields() -> None:
    """The UI renders arrays and objects as JSON text and folds lines: every field on the page is
    a plain string (the resource list and the YAML spec are data, left off the schema)."""
    from tasks.stack_block import LoadBalancerStack

    schema = LoadBalancerStack.model_json_schema()
    assert _free_form(schema) == []
    shown = schema["properties"]
    assert {"phase", "account", "partition", "region", "cluster_arn", "dashboard_url",
            "hosted_zone", "certificates", "subnet_tags", "config"} <= set(shown)  # fmt: skip
    assert not {"resources", "spec_yaml"} & set(shown)
    assert all(field.get("type") == "string" for field in shown.values())


def test_the_page_lists_each_resource_under_its_kind() -> None:
    from tasks.stack_block import LoadBalancerStack

    block = LoadBalancerStack.from_record(RECORD)
    assert block.hosted_zone == "platform.example.com (Z1): owned"
    assert block.subnet_tags == "subnet-1/kubernetes.io/role/elb: owned"
    assert block.certificates == "arn:aws:acm:us-west-2:1:certificate/c: adopted, ISSUED"
    assert block.dns_record == ""
    assert block.config == (
        "{cluster: {name: kubeflow, region: us-west-2}, route53: {rootDomain: {name: example.com}, "
        "subDomain: {name: platform.example.com}}}"
    )


def test_a_record_survives_the_block(prefect_server: None) -> None:
    from tasks.stack_block import LoadBalancerStack, delete_record, load_record, save_record

    save_record(RECORD)
    try:
        assert load_record("block-test") == RECORD
        block = LoadBalancerStack.load("block-test")
        assert block.resources[1].details == [
            "subnet_id=subnet-1", "key=kubernetes.io/role/elb", "value=1"
        ]  # fmt: skip
        assert "subDomain:\n    name: platform.example.com" in block.spec_yaml
    finally:
        assert delete_record("block-test")
    assert load_record("block-test") is None
    assert not delete_record("block-test")


def test_saves_go_past_block_save_one_request_each_and_a_lost_block_is_saved_anew(
    prefect_server: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client

    from tasks import stack_block
    from tasks.stack_block import (
        BLOCK_TYPE_SLUG,
        LoadBalancerStack,
        delete_record,
        load_record,
        register_block_type,
        save_record,
    )  # fmt: skip

    def registering(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("saved through Block.save")

    first = RECORD.model_copy(update={"stack": "block-twice"})
    fewer = first.model_copy(update={"resources": first.resources[:1], "phase": "setting-up"})
    register_block_type()  # as setup does while its checks run
    try:
        with monkeypatch.context() as patched:
            patched.setattr(LoadBalancerStack, "save", registering)
            save_record(first)  # a create of the document, the type already registered
            assert load_record("block-twice") == first
            save_record(fewer)  # one update
            assert load_record("block-twice") == fewer  # replaced, not merged with the first
            # Another process (nothing remembered) finds the block there and updates it.
            patched.setattr(stack_block, "_SAVED", {})
            save_record(first)
            assert load_record("block-twice") == first

        with get_client(sync_client=True) as client:  # someone else deletes the block
            gone = client.read_block_document_by_name("block-twice", BLOCK_TYPE_SLUG)
            client.delete_block_document(gone.id)
        save_record(fewer)
        assert load_record("block-twice") == fewer
    finally:
        delete_record("block-twice")


def test_a_block_of_the_earlier_single_field_shape_still_loads(prefect_server: None) -> None:
    import warnings

    from prefect.blocks.core import Block
    from prefect.utilities.dispatch import get_registry_for_type

    from tasks.stack_block import BLOCK_TYPE_SLUG, LoadBalancerStack, delete_record, load_record

    registry = get_registry_for_type(Block)
    assert registry is not None
    with warnings.catch_warnings():  # it replaces ours in Prefect's registry: restored below
        warnings.simplefilter("ignore")

        class Earlier(Block):
            _block_type_name: ClassVar[str] = "Load Balancer Stack"
            _block_type_slug: ClassVar[str] = BLOCK_TYPE_SLUG
            record: dict[str, Any]

    old = RECORD.model_copy(update={"stack": "block-earlier", "account": "", "cluster_arn": ""})
    Earlier(record=old.model_dump(mode="json")).save("block-earlier", overwrite=True)
    registry[BLOCK_TYPE_SLUG] = LoadBalancerStack  # the test's class must not outlive it
    try:
        assert load_record("block-earlier") == old
    finally:
        assert delete_record("block-earlier")


def test_ready_records_the_dashboard_url(prefect_server: None) -> None:
    from tasks.stack_block import StackStore, delete_record

    store = StackStore(RECORD.model_copy(update={"stack": "block-url", "dashboard_url": ""}))
    try:
        assert store.set_phase("ready").dashboard_url == "https://kubeflow.platform.example.com/"
    finally:
        delete_record("block-url")


@pytest.fixture(autouse=True)
def _no_sandbox() -> None:
    """These tests need only the Prefect server."""

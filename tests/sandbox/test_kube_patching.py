"""Tests of the patch formats, field ownership sets and protobuf decoding of the Kubernetes stand-in."""

from __future__ import annotations

import base64

import pytest

from sandbox.kube import ApiError
from sandbox.kube.managed import decode_fields, encode_fields, field_set
from sandbox.kube.patching import json_patch, merge_patch, strategic_merge_patch
from sandbox.kube.protobuf import decode_object

POD_SPEC = {
    "containers": [
        {"name": "app", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
        {"name": "sidecar", "image": "s:1"},
    ],
    "tolerations": [{"key": "k"}],
}


def test_strategic_merge_merges_named_lists_by_name() -> None:
    patch = {
        "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
        "containers": [{"name": "app", "env": [{"name": "Y", "value": "2"}]}],
    }
    result = strategic_merge_patch(POD_SPEC, patch)
    app, sidecar = result["containers"]
    assert app["image"] == "a:1"
    assert app["env"] == [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]
    assert sidecar == {"name": "sidecar", "image": "s:1"}
    assert "$setElementOrder/containers" not in result


def test_strategic_merge_directives() -> None:
    deleted = strategic_merge_patch(
        POD_SPEC, {"containers": [{"name": "sidecar", "$patch": "delete"}]}
    )
    assert [c["name"] for c in deleted["containers"]] == ["app"]
    replaced = strategic_merge_patch(POD_SPEC, {"tolerations": [{"key": "other"}]})
    assert replaced["tolerations"] == [{"key": "other"}]  # lists without a merge key replace
    retained = strategic_merge_patch({"a": 1, "b": 2}, {"$retainKeys": ["a"], "a": 3})
    assert retained == {"a": 3}
    assert strategic_merge_patch({"a": {"b": 1}}, {"a": None}) == {}
    finalizers = strategic_merge_patch({"finalizers": ["x"]}, {"finalizers": ["y"]})
    assert finalizers == {"finalizers": ["x", "y"]}
    removed = strategic_merge_patch(
        {"finalizers": ["x", "y"]}, {"$deleteFromPrimitiveList/finalizers": ["x"]}
    )
    assert removed == {"finalizers": ["y"]}


def test_merge_patch_replaces_lists_and_deletes_nulls() -> None:
    result = merge_patch(POD_SPEC, {"containers": [{"name": "only"}], "tolerations": None})
    assert result == {"containers": [{"name": "only"}]}


def test_json_patch_operations() -> None:
    doc = {"metadata": {"labels": {"a/b": "1"}}, "items": [1, 2]}
    result = json_patch(
        doc,
        [
            {"op": "test", "path": "/metadata/labels/a~1b", "value": "1"},
            {"op": "add", "path": "/items/-", "value": 3},
            {"op": "replace", "path": "/items/0", "value": 0},
            {"op": "move", "from": "/items/1", "path": "/moved"},
            {"op": "remove", "path": "/metadata/labels/a~1b"},
        ],
    )
    assert result == {"metadata": {"labels": {}}, "items": [0, 3], "moved": 2}
    assert doc["items"] == [1, 2]  # the input is left alone
    with pytest.raises(ApiError) as failed:
        json_patch(doc, [{"op": "test", "path": "/items/0", "value": 9}])
    assert failed.value.code == 422


def test_field_sets_round_trip_through_fields_v1() -> None:
    fields = field_set({"spec": POD_SPEC, "metadata": {"labels": {"app": "x"}}}, builtin=True)
    tree = encode_fields(fields)
    app = tree["f:spec"]["f:containers"]['k:{"name":"app"}']
    assert app["."] == {}
    assert "f:image" in app
    assert tree["f:spec"]["f:tolerations"] == {}  # an atomic list is one field
    assert decode_fields(tree) == fields


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_protobuf_namespace_as_kubectl_create_sends_it() -> None:
    label = _field(1, b"team") + _field(2, b"ml")
    meta = _field(1, b"demo") + _field(2, b"") + _field(7, 0) + _field(11, label)
    namespace = _field(1, meta) + _field(2, b"") + _field(3, b"")
    type_meta = _field(1, b"v1") + _field(2, b"Namespace")
    body = (
        b"k8s\x00" + _field(1, type_meta) + _field(2, namespace) + _field(3, b"") + _field(4, b"")
    )
    assert decode_object(body) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "demo", "labels": {"team": "ml"}},
    }


def test_protobuf_secret_bytes_become_base64() -> None:
    entry = _field(1, b"password") + _field(2, b"s3cret")
    secret = (
        _field(1, _field(1, b"db") + _field(3, b"default"))
        + _field(2, entry)
        + _field(3, b"Opaque")
    )
    body = b"k8s\x00" + _field(1, _field(1, b"v1") + _field(2, b"Secret")) + _field(2, secret)
    decoded = decode_object(body)
    assert decoded["data"] == {"password": base64.b64encode(b"s3cret").decode()}
    assert decoded["type"] == "Opaque"


def test_protobuf_of_an_unknown_kind_is_unsupported() -> None:
    body = b"k8s\x00" + _field(1, _field(1, b"batch/v1") + _field(2, b"Job")) + _field(2, b"")
    with pytest.raises(ApiError) as unsupported:
        decode_object(body)
    assert unsupported.value.code == 415

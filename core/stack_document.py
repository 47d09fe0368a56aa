"""A stack's record from the data of its saved LoadBalancerStack block document (pure): the flows
read it through Prefect's client, the command reads it straight from the API or database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from core.state import Kind, StackAccess, StackRecord, StackResource

#: The record's fields the block document holds as they are (the page shows them, loading reads
#: them back); absent ones keep the record's defaults.
PLAIN_FIELDS = ("stack", "phase", "dashboard_url", "account", "partition", "region", "cluster_arn")


def record_from_document(data: Mapping[str, Any]) -> StackRecord:
    """The record in a block document: its typed fields, or the single JSON field of before."""
    if "record" in data:  # written by an earlier version
        return StackRecord.model_validate(data["record"])
    spec = yaml.safe_load(data.get("spec_yaml") or "") or {}
    resources = tuple(_resource(entry) for entry in data.get("resources") or [])
    access = None
    if data.get("kube_access"):
        access = StackAccess(
            credentials_block=data.get("credentials_block") or None,
            region=data.get("region", ""),
            account=data.get("account", ""),
            kube_access=data["kube_access"],
            kube_context=data.get("kube_context") or None,
        )
    plain = {name: data[name] for name in PLAIN_FIELDS if name in data}
    return StackRecord(spec=spec, resources=resources, access=access, **plain)


def _resource(entry: Mapping[str, Any]) -> StackResource:
    details = [str(detail) for detail in entry.get("details") or []]
    return StackResource(
        kind=Kind(entry["kind"]),
        id=str(entry["id"]),
        name=str(entry.get("name") or ""),
        owned=bool(entry["owned"]),
        status=str(entry.get("status") or ""),
        details=dict(detail.partition("=")[::2] for detail in details),
    )

"""The LoadBalancerStack Prefect block: where a stack's resource ids live between runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar, cast

from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from pydantic import Field

from core.state import Kind, StackAccess, StackRecord, StackResource

BLOCK_TYPE_SLUG = "load-balancer-stack"


class LoadBalancerStack(Block):
    """Every AWS and Kubernetes resource of one kubeflow-alb stack, and whether the stack owns it.

    Saved by the setup flow after each step, read by the cleanup and drift-check flows.
    The block document is named after the stack.
    """

    _block_type_name: ClassVar[str] = "Load Balancer Stack"
    _block_type_slug: ClassVar[str] = BLOCK_TYPE_SLUG
    _description: ClassVar[str] = (
        "Resources of a kubeflow-alb stack (Kubeflow on EKS behind an ALB with HTTPS): ids, ARNs, "
        "names and ownership, kept by the setup flow for cleanup and drift checks."
    )

    record: StackRecord = Field(description="The stack's resources and phase.")


class StackStore:
    """Loads and saves a stack's record; saves are serialised so concurrent branches can record."""

    def __init__(self, record: StackRecord) -> None:
        self._record = record
        self._lock = threading.Lock()

    @classmethod
    def open(cls, stack: str, spec: dict[str, object]) -> StackStore:
        """The saved record of `stack`, or a new one; the spec is refreshed from this run."""
        record = load_record(stack) or StackRecord(stack=stack)
        return cls(record.model_copy(update={"spec": spec}))

    @property
    def record(self) -> StackRecord:
        return self._record

    def add(self, *resources: StackResource) -> StackRecord:
        """Add or replace resources and save at once, so a crash leaves an accurate record."""
        with self._lock:
            return self._save(self._record.with_resources(*resources))

    def remove(self, kind: Kind, *resource_ids: str) -> StackRecord:
        """Forget resources of one kind that cleanup deleted, and save (once)."""
        with self._lock:
            record = self._record
            for resource_id in resource_ids:
                record = record.without(kind, resource_id)
            return self._save(record)

    def set_phase(self, phase: str, *resources: StackResource) -> StackRecord:
        """Set the phase, adding or replacing resources in the same save (one round trip)."""
        with self._lock:
            return self._save(self._record.with_resources(*resources).in_phase(phase))

    def set_access(self, access: StackAccess) -> StackRecord:
        """Record how the stack's world is reached (a fleet check then uses it); saved only
        when it changed."""
        with self._lock:
            if self._record.access == access:
                return self._record
            return self._save(self._record.model_copy(update={"access": access}))

    def _save(self, record: StackRecord) -> StackRecord:
        save_record(record)
        self._record = record
        return record


def load_record(stack: str) -> StackRecord | None:
    """The saved record of a stack, or None when no block of that name exists."""
    try:
        block = cast(LoadBalancerStack, LoadBalancerStack.load(stack))
    except ValueError:
        return None
    return block.record


def save_record(record: StackRecord) -> None:
    """Save the record as the block named after its stack (overwriting)."""
    LoadBalancerStack(record=record).save(record.stack, overwrite=True)


def delete_record(stack: str) -> bool:
    """Delete the block of a stack; False when there was none."""
    try:
        LoadBalancerStack.load(stack)
    except ValueError:
        return False
    LoadBalancerStack.delete(stack)
    return True


def saved_stacks() -> list[str]:
    """Names of every saved stack (for the fleet drift check)."""
    try:
        with get_client(sync_client=True) as client:
            documents = client.read_block_documents_by_type(BLOCK_TYPE_SLUG)
    except PrefectHTTPStatusError as error:
        if error.response.status_code == 404:  # the block type is registered by the first save
            return []
        raise
    return sorted(doc.name for doc in documents if doc.name)


def lock_name(stack: str) -> str:
    """The Prefect global concurrency limit that serialises runs changing one stack."""
    return f"kubeflow-alb-stack-{stack}"


@contextmanager
def stack_lock(stack: str, *, timeout: float = 3600.0) -> Iterator[None]:
    """Hold the stack's one slot: setup, cleanup and remediation of a stack never overlap."""
    name = lock_name(stack)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            client.upsert_global_concurrency_limit_by_name(name, limit=1)
    with concurrency(name, occupy=1, timeout_seconds=timeout, strict=True):
        yield

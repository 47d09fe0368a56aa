"""The LoadBalancerStack Prefect block: where a stack's resource ids live between runs."""

from __future__ import annotations

import threading
from typing import ClassVar

from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from pydantic import Field

from core.state import StackRecord

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
    _documentation_url: ClassVar[str] = "https://github.com/kubeflow-alb/kubeflow-alb#outputs"

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

    def update(self, record: StackRecord) -> StackRecord:
        """Replace the record and save it at once, so a crash leaves an accurate record."""
        with self._lock:
            self._record = record
            save_record(record)
            return record


def load_record(stack: str) -> StackRecord | None:
    """The saved record of a stack, or None when no block of that name exists."""
    try:
        block = LoadBalancerStack.load(stack)
    except ValueError:
        return None
    return block.record


def save_record(record: StackRecord) -> None:
    """Save the record as the block named after its stack (overwriting)."""
    LoadBalancerStack(record=record).save(record.stack, overwrite=True)


def delete_record(stack: str) -> bool:
    """Delete the block of a stack; False when there was none."""
    try:
        block = LoadBalancerStack.load(stack)
    except ValueError:
        return False
    block.delete(stack)
    return True


def saved_stacks() -> list[str]:
    """Names of every saved stack (for the fleet drift check)."""
    with get_client(sync_client=True) as client:
        documents = client.read_block_documents_by_type(BLOCK_TYPE_SLUG)
    return sorted(doc.name for doc in documents if doc.name)

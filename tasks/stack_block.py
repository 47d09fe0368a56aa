"""A stack's record in its LoadBalancerStack block (tasks/stack_block_page.py): where the stack's
resource ids live between runs, loaded and saved in as few requests as a busy server allows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import cast
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import BlockDocumentCreate, BlockDocumentUpdate
from prefect.client.schemas.objects import BlockDocument
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound, PrefectHTTPStatusError

from core.desired import dashboard_url
from core.naming import require_stack_name
from core.settings import get_settings
from core.spec import parse_spec
from core.stack_document import record_from_document
from core.state import Kind, StackAccess, StackRecord, StackResource
from tasks.prefect_api import prefect_client
from tasks.stack_block_page import BLOCK_TYPE_SLUG as BLOCK_TYPE_SLUG
from tasks.stack_block_page import LoadBalancerStack as LoadBalancerStack
from tasks.stack_lock import stack_lock as stack_lock  # the flows take it next to the record


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

    def change(self, *changes: Callable[[StackRecord], StackRecord]) -> StackRecord:
        """Apply changes to the record in order (resources added, resources a step removed:
        flows/recording.py) and save once."""
        with self._lock:
            record = self._record
            for change in changes:
                record = change(record)
            return self._save(record)

    def replace(self, record: StackRecord) -> StackRecord:
        """Save a record re-bound or pruned elsewhere (core.world_binding) in place of this one."""
        with self._lock:
            return self._save(record)

    def stage(self, record: StackRecord) -> StackRecord:
        """Take a re-bound or pruned record (core.world_binding) in place of this one without
        saving it: the next save carries it."""
        with self._lock:
            self._record = record
            return record

    def set_phase(
        self, phase: str, *resources: StackResource, access: StackAccess | None = None
    ) -> StackRecord:
        """Set the phase, adding or replacing resources (and how the stack's world is reached,
        `access`) in the same save (one round trip)."""
        with self._lock:
            record = self.phased(phase, *resources)
            if access is not None:
                record = record.model_copy(update={"access": access})
            return self._save(record)

    def phased(self, phase: str, *resources: StackResource) -> StackRecord:
        """The record as `set_phase` would save it (nothing saved: `replace` saves it)."""
        record = self._record.with_resources(*resources).in_phase(phase)
        if phase == "ready" and not record.dashboard_url and record.spec:
            url = dashboard_url(parse_spec(dict(record.spec)), get_settings().https_port)
            record = record.model_copy(update={"dashboard_url": url})
        return record

    def _save(self, record: StackRecord) -> StackRecord:
        save_record(record)
        self._record = record
        return record


def load_record(stack: str) -> StackRecord | None:
    """The saved record of a stack, or None when no block of that name exists."""
    if stack:  # a flow parameter: checked before it becomes a block name
        require_stack_name(stack, source="stack")
    with prefect_client() as client:
        try:
            document = client.read_block_document_by_name(stack, BLOCK_TYPE_SLUG)
        except ObjectNotFound:
            return None
    return record_from_document(dict(document.data))


#: (API URL, stack) -> (block document id, block schema id, block type id) of the stack's block
#: as this process last saved it: the next save is one PATCH of its data. Prefect's `Block.save`
#: first registers the block type and schema and tries a create before the update (7-8
#: requests, seconds on a busy server), and apply saves after every step.
_SAVED: dict[tuple[str, str], tuple[UUID, UUID, UUID]] = {}
#: API URL -> (block schema id, block type id) once registered there by this process.
_REGISTERED: dict[str, tuple[UUID, UUID]] = {}
_SAVED_LOCK = threading.Lock()


def register_block_type() -> None:
    """Register the stack block's type and schema with the Prefect API (once per process and
    server; two reads when they are there already): a stack's first save is then one create."""
    with prefect_client() as client:
        _registered(client)


def _registered(client: SyncPrefectClient) -> tuple[UUID, UUID]:
    api = str(client.api_url)
    with _SAVED_LOCK:
        known = _REGISTERED.get(api)
    if known is None:
        LoadBalancerStack.register_type_and_schema()
        known = cast("tuple[UUID, UUID]",
                     (LoadBalancerStack._block_schema_id, LoadBalancerStack._block_type_id))  # fmt: skip
        with _SAVED_LOCK:
            _REGISTERED[api] = known
    return known


def save_record(record: StackRecord) -> None:
    """Save the record as the block named after its stack (overwriting)."""
    block = LoadBalancerStack.from_record(record)
    with prefect_client() as client:
        key = (str(client.api_url), record.stack)
        with _SAVED_LOCK:
            known = _SAVED.get(key)
        try:
            if known is None:
                known = _created_or_found(client, block, record.stack)
            if known is not None:  # None: created with this data
                _patch(client, block, record.stack, known)
            return
        except ObjectNotFound:  # the block, its schema or type went meanwhile: saved anew below
            with _SAVED_LOCK:
                _SAVED.pop(key, None)
                _REGISTERED.pop(key[0], None)
    block.save(record.stack, overwrite=True)
    saved = (block._block_document_id, block._block_schema_id, block._block_type_id)
    with _SAVED_LOCK:
        if None not in saved:
            _SAVED[key] = cast("tuple[UUID, UUID, UUID]", saved)


def _created_or_found(
    client: SyncPrefectClient, block: LoadBalancerStack, stack: str
) -> tuple[UUID, UUID, UUID] | None:
    """Create the stack's block document (None: saved), or find the one there (its ids: it is
    then updated); either is remembered for the next save."""
    schema_id, type_id = _registered(client)
    document = block._to_block_document(
        name=stack, block_schema_id=schema_id, block_type_id=type_id, include_secrets=True
    )
    fields = {"name", "block_schema_id", "block_type_id", "data", "is_anonymous"}
    key = (str(client.api_url), stack)
    try:
        created = client.create_block_document(
            BlockDocumentCreate(**document.model_dump(include=fields))
        )
    except ObjectAlreadyExists:
        found = client.read_block_document_by_name(stack, BLOCK_TYPE_SLUG)
        with _SAVED_LOCK:
            _SAVED[key] = (found.id, schema_id, type_id)
        return found.id, schema_id, type_id
    with _SAVED_LOCK:
        _SAVED[key] = (created.id, schema_id, type_id)
    return None


def _patch(
    client: SyncPrefectClient,
    block: LoadBalancerStack,
    stack: str,
    known: tuple[UUID, UUID, UUID],
) -> None:
    """Replace the data of the stack's block document in one PATCH."""
    document_id, schema_id, type_id = known
    data = block._to_block_document(
        name=stack, block_schema_id=schema_id, block_type_id=type_id, include_secrets=True
    ).data
    update = BlockDocumentUpdate(data=data, block_schema_id=schema_id, merge_existing_data=False)
    client.update_block_document(document_id, update)


def delete_record(stack: str) -> bool:
    """Delete the block of a stack; False when there was none."""
    with prefect_client() as client:
        with _SAVED_LOCK:
            _SAVED.pop((str(client.api_url), stack), None)
        try:
            document = client.read_block_document_by_name(stack, BLOCK_TYPE_SLUG)
            client.delete_block_document(document.id)
        except ObjectNotFound:
            return False
    return True


def saved_stacks() -> list[str]:
    """Names of every saved stack (for the fleet drift check)."""
    return sorted(doc.name for doc in _stack_documents() if doc.name)


def saved_records() -> dict[str, StackRecord]:
    """Every saved stack's record, by name, in one request (a fleet reads its stacks' blocks
    with one call, not one each)."""
    return {
        doc.name: record_from_document(dict(doc.data)) for doc in _stack_documents() if doc.name
    }


def _stack_documents() -> list[BlockDocument]:
    try:
        with prefect_client() as client:
            return client.read_block_documents_by_type(BLOCK_TYPE_SLUG)
    except PrefectHTTPStatusError as error:
        if error.response.status_code == 404:  # the block type is registered by the first save
            return []
        raise


def lock_name(stack: str) -> str:
    """The Prefect global concurrency limit earlier versions serialised a stack's runs with."""
    require_stack_name(stack, source="stack")  # never an unchecked name in a limit's name
    return f"kubeflow-alb-stack-{stack}"


def remove_lock_leftovers(stack: str) -> list[str]:
    """Remove what locking left of a cleaned-up stack: the concurrency limit of earlier versions
    (the lease variable goes with its holder). Returns the names removed."""
    removed = []
    with prefect_client() as client:
        try:
            client.delete_global_concurrency_limit_by_name(lock_name(stack))
            removed.append(lock_name(stack))
        except ObjectNotFound:
            pass
    return removed

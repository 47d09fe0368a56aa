"""Import a stack set up by the kubeflow-manifests script, so this tool can drift-check it and
clean it up."""

from __future__ import annotations

from prefect import flow, get_run_logger

from core.migration import IMPORTED, import_rows, imported_resources
from core.spec import StackSpec
from tasks.aws.adopt import observe_imported
from tasks.aws.adopt import take_ownership as tag_as_ours
from tasks.aws.clients import AwsContext
from tasks.stack_block import StackStore, stack_lock


@flow(name="import-stack", log_prints=False)
def import_stack(
    spec: StackSpec, take_ownership: bool = False, aws_credentials_block: str | None = None
) -> list[str]:
    """Record what the old script's written-back config names (the subdomain zone by its id, the
    certificates by their ARNs, its `kubeflow.<subdomain>` record, the controller policy, the ALB)
    in a stack block. They are adopted: cleanup reports them and leaves them, unless
    `take_ownership` tags the zone, certificates and record as the stack's.

    Args:
        spec: the config the script wrote back (accepted as is).
        take_ownership: tag them with the stack's ownership tags, so cleanup removes them.
        aws_credentials_block: name of a prefect-aws AwsCredentials block; default AWS chain if empty.
    """
    ctx = AwsContext(region=spec.region, credentials_block=aws_credentials_block)
    with stack_lock(spec.name):
        zone, certificates, record = observe_imported(ctx, spec, record_name=spec.dashboard_host)
        if take_ownership:
            zone, certificates = tag_as_ours(ctx, spec, zone, certificates)
        resources = imported_resources(
            spec, zone=zone, certificates=certificates, record=record, owned=take_ownership
        )
        store = StackStore.open(spec.name, spec.model_dump(mode="json", by_alias=True))
        store.set_phase(IMPORTED, *resources)
    rows = import_rows(resources)
    get_run_logger().info("Imported into stack %s: %s", spec.name, "; ".join(rows) or "nothing")
    return rows

"""The LoadBalancerStack Prefect block as its page shows it: the record, and the resources of
each kind, the config and the access as text fields (tasks/stack_block.py loads and saves it)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import yaml
from prefect.blocks.core import Block
from pydantic import BaseModel, Field
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, SkipJsonSchema

from core.stack_document import PLAIN_FIELDS
from core.state import Kind, StackRecord

BLOCK_TYPE_SLUG = "load-balancer-stack"
#: JSON schemas of the block class, by the arguments asked with (a class's schema never changes).
_SCHEMAS: dict[tuple[Any, ...], str] = {}
_SHOWN = "Shown for reading (id: owned or adopted, status); the flows read the resource list."
#: The page's field of each kind; answers are checked, never recorded.
_KIND_FIELDS = {
    Kind.HOSTED_ZONE.value: "hosted_zone",
    Kind.DELEGATION.value: "ns_delegation",
    Kind.CERTIFICATE.value: "certificates",
    Kind.VALIDATION_RECORD.value: "validation_records",
    Kind.SUBNET_TAG.value: "subnet_tags",
    Kind.OIDC_PROVIDER.value: "oidc_provider",
    Kind.IAM_POLICY.value: "iam_policy",
    Kind.IAM_ROLE.value: "iam_role",
    Kind.CONTROLLER.value: "controller",
    Kind.INGRESS.value: "ingress",
    Kind.LOAD_BALANCER.value: "load_balancer",
    Kind.DNS_RECORD.value: "dns_record",
}


class ResourceEntry(BaseModel):
    """One resource of the stack, as the block page shows it."""

    kind: str = Field(description="What it is: hosted-zone, certificate, iam-role, ...")
    id: str = Field(description="ARN, zone id, or namespace/name.")
    name: str = Field(default="", description="Human name (domain, record, object name).")
    owned: bool = Field(description="True when the stack created it; cleanup removes only these.")
    status: str = Field(default="", description="Last status seen (e.g. ISSUED, active).")
    details: list[str] = Field(
        default_factory=list, description="Extra facts cleanup needs, as key=value."
    )


class LoadBalancerStack(Block):
    """Every AWS and Kubernetes resource of one kubeflow-alb stack, and whether the stack owns it.

    Saved by the setup flow after each step, read by the cleanup and drift-check flows.
    The block document is named after the stack; its ids belong to the account and cluster it
    names, and runs elsewhere refuse it.
    """

    _block_type_name: ClassVar[str] = "Load Balancer Stack"
    _block_type_slug: ClassVar[str] = BLOCK_TYPE_SLUG
    _description: ClassVar[str] = (
        "Resources of a kubeflow-alb stack (Kubeflow on EKS behind an ALB with HTTPS): ids, ARNs, "
        "names and ownership, kept by the setup flow for cleanup and drift checks."
    )

    stack: str = Field(description="The stack's name (its ownership mark).")
    phase: str = Field(default="new", description="new, setting-up, ready or cleaning-up.")
    dashboard_url: str = Field(
        default="", title="Dashboard URL", description="Kubeflow, once ready."
    )
    account: str = Field(default="", title="AWS account", description="Account of every resource.")
    partition: str = Field(default="", title="AWS partition", description="aws, aws-cn, ...")
    region: str = Field(default="", title="AWS region", description="Region of the cluster.")
    cluster_arn: str = Field(default="", title="EKS cluster ARN", description="The cluster.")
    # The page shows the resources one field per kind (below); the list itself and the spec are
    # data for the flows: the UI renders a list of objects as one line of JSON (v1) or a wall of
    # it (v2), and folds YAML's lines into one.
    resources: SkipJsonSchema[list[ResourceEntry]] = Field(
        default_factory=list, description="Every resource, in the order setup made or found it."
    )
    spec_yaml: SkipJsonSchema[str] = Field(default="", description="The stack's config (YAML).")
    hosted_zone: str = Field(default="", title="Hosted zone", description=_SHOWN)
    ns_delegation: str = Field(default="", title="NS delegation", description=_SHOWN)
    certificates: str = Field(default="", title="Certificates", description=_SHOWN)
    validation_records: str = Field(default="", title="Validation records", description=_SHOWN)
    subnet_tags: str = Field(default="", title="Subnet tags", description=_SHOWN)
    oidc_provider: str = Field(default="", title="OIDC provider", description=_SHOWN)
    iam_policy: str = Field(default="", title="IAM policy", description=_SHOWN)
    iam_role: str = Field(default="", title="IAM role", description=_SHOWN)
    controller: str = Field(default="", title="ALB controller", description=_SHOWN)
    ingress: str = Field(default="", title="Ingress", description=_SHOWN)
    load_balancer: str = Field(default="", title="Load balancer", description=_SHOWN)
    dns_record: str = Field(default="", title="DNS record", description=_SHOWN)
    # How the stack's world is reached (a fleet check uses it): flat, so the page stays readable.
    credentials_block: str = Field(
        default="", title="AWS credentials block", description="Empty: the default AWS chain."
    )
    kube_access: str = Field(
        default="", title="Kubernetes access", description="kubeconfig or eks."
    )
    kube_context: str = Field(
        default="", title="kubeconfig context", description="Empty: the current context."
    )
    config: str = Field(default="", title="Config", description="The stack's config, set fields.")

    @classmethod
    def model_json_schema(  # type: ignore[override]  # Prefect's Block signature, not pydantic's
        cls,
        by_alias: bool = True,
        ref_template: str = "#/definitions/{model}",
        schema_generator: type[GenerateJsonSchema] = GenerateJsonSchema,
        mode: JsonSchemaMode = "validation",
    ) -> dict[str, Any]:
        """The block's JSON schema, generated once per class and arguments: Prefect asks for it
        again for every field of every save (dozens per record saved)."""
        key = (cls, by_alias, ref_template, schema_generator, mode)
        if key not in _SCHEMAS:  # kept as text: a fresh copy for each caller is one json.loads
            schema = super().model_json_schema(by_alias, ref_template, schema_generator, mode)
            _SCHEMAS[key] = json.dumps(schema)
        loaded: dict[str, Any] = json.loads(_SCHEMAS[key])
        return loaded

    @classmethod
    def from_record(cls, record: StackRecord) -> LoadBalancerStack:
        spec = yaml.safe_dump(record.spec, sort_keys=False) if record.spec else ""
        entries = [
            ResourceEntry(
                kind=item.kind.value,
                id=item.id,
                name=item.name,
                owned=item.owned,
                status=item.status,
                details=[f"{key}={value}" for key, value in item.details.items()],
            )
            for item in record.resources
        ]
        access = record.access
        return cls(
            **record.model_dump(include=set(PLAIN_FIELDS)),
            resources=entries,
            spec_yaml=spec,
            config=_config_line(record.spec),
            **_by_kind(entries),
            credentials_block=(access.credentials_block or "") if access else "",
            kube_access=access.kube_access if access else "",
            kube_context=(access.kube_context or "") if access else "",
        )


def _entry_text(entry: ResourceEntry) -> str:
    """One resource for the page: its id (and name when the id does not say it), owned or
    adopted, and its last status."""
    shown = entry.id if not entry.name or entry.name in entry.id else f"{entry.name} ({entry.id})"
    facts = ["owned" if entry.owned else "adopted", *([entry.status] if entry.status else [])]
    return f"{shown}: {', '.join(facts)}"


def _by_kind(entries: list[ResourceEntry]) -> dict[str, str]:
    """The page's field per kind: its resources, one entry each, separated by semicolons."""
    fields: dict[str, list[str]] = {}
    for entry in entries:
        field = _KIND_FIELDS.get(entry.kind)
        if field:
            fields.setdefault(field, []).append(_entry_text(entry))
    return {field: "; ".join(texts) for field, texts in fields.items()}


def _config_line(spec: dict[str, Any]) -> str:
    """The spec's set fields as one line of YAML (the page folds lines; flow style needs none)."""

    def kept(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: kept(v) for k, v in value.items() if v not in (None, [], {})}
        return value

    if not spec:
        return ""
    return yaml.safe_dump(kept(spec), default_flow_style=True, sort_keys=False, width=10**6).strip()

"""A sandbox fleet in seconds: set-up stacks cloned from one real setup on their cluster (the
template), each with its own names and ids, as setup leaves them — its zone and records, its
certificates, its subnet-tag marks, its Ingress (the world's ALB controller builds its ALB from
it, as for a real setup) and its block. `tests/flows/test_fleet_seed.py` proves one seeded
stack equal to a real setup's; `benchmarks/fleet_drift.py` seeds its fleets with it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core import naming
from core.dnsnames import normalise
from core.spec import StackSpec, parse_spec
from core.state import Kind, StackRecord
from core.waiting import wait_until

INGRESS = ("networking.k8s.io/v1", "Ingress")
#: The kinds a template may hold; a template with any other owned kind (IAM, a controller of
#: ours, a Gateway ...) is refused rather than cloned half.
CLONED = {Kind.HOSTED_ZONE, Kind.DELEGATION, Kind.CERTIFICATE, Kind.VALIDATION_RECORD,
          Kind.SUBNET_TAG, Kind.INGRESS, Kind.LOAD_BALANCER, Kind.DNS_RECORD}  # fmt: skip


@dataclass(frozen=True)
class Template:
    """A stack set up for real: its spec, record, Ingress and the record sets it wrote."""

    spec: StackSpec
    record: StackRecord
    ingress: dict[str, Any]
    #: (zone id, kind, record set) of every record set the stack wrote, in its zone and the
    #: root's.
    record_sets: tuple[tuple[str, Kind, dict[str, Any]], ...]
    #: The subdomain zone's HostedZoneConfig (its comment names the stack).
    zone_config: dict[str, Any]
    #: certificate ARN -> its validation record (name, value).
    validation: Mapping[str, tuple[str, str]]


class Seeder:
    """Clones a template stack into new stacks of the same cluster and account."""

    def __init__(self, world: Any, template: str, *, timeout: float = 300.0) -> None:
        from tasks.stack_block import load_record

        record = load_record(template)
        if record is None:
            raise ValueError(f"no saved stack {template!r} to clone")
        unknown = {i.kind for i in record.resources if i.owned and i.kind not in CLONED}
        if unknown:
            raise ValueError(f"stack {template}: cannot clone {sorted(k.value for k in unknown)}")
        self.world, self.timeout = world, timeout
        self.account = record.account
        self._clients: dict[str, Any] = {}
        spec = parse_spec(record.spec)
        self.store = _cluster_store(world, spec.cluster.name, record.account)
        self.template = Template(
            spec=spec,
            record=record,
            ingress=self._ingress(record),
            record_sets=tuple(self._record_sets(record)),
            zone_config=self.client("route53").get_hosted_zone(
                Id=_ids(record, Kind.HOSTED_ZONE)[0]
            )["HostedZone"]["Config"],
            validation={arn: self._validation(arn) for arn in _ids(record, Kind.CERTIFICATE)},
        )

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.world.aws.client(service, account=self.account)
        return self._clients[service]

    # --- reading the template -------------------------------------------------------------

    def _ingress(self, record: StackRecord) -> dict[str, Any]:
        (key,) = _ids(record, Kind.INGRESS)
        namespace, name = key.split("/", 1)
        found = self.store.get(*INGRESS, name, namespace)
        meta = found["metadata"]
        kept = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
        return {"apiVersion": found["apiVersion"], "kind": found["kind"], "metadata": kept,
                "spec": found["spec"]}  # fmt: skip

    def _record_sets(self, record: StackRecord) -> Iterable[tuple[str, Kind, dict[str, Any]]]:
        """The record sets the template wrote: every one the record names (delegation,
        validation, the `*.<subdomain>` record), each read back from its zone."""
        route53 = self.client("route53")
        for kind in (Kind.DELEGATION, Kind.VALIDATION_RECORD, Kind.DNS_RECORD):
            for key in _ids(record, kind):
                zone, name, rtype = key.split("/", 2)
                found = route53.list_resource_record_sets(
                    HostedZoneId=zone, StartRecordName=name, StartRecordType=rtype, MaxItems="1"
                )["ResourceRecordSets"]
                if not found or _unescaped(found[0]["Name"]) != normalise(name) + ".":
                    raise ValueError(f"stack {record.stack}: record {key} not found")
                yield zone, kind, found[0]

    def _validation(self, arn: str) -> tuple[str, str]:
        described = self.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
        record = described["DomainValidationOptions"][0]["ResourceRecord"]
        return record["Name"], record["Value"]

    # --- seeding ---------------------------------------------------------------------------

    def seed(self, specs: list[StackSpec], *, save: bool = True) -> list[StackRecord]:
        """Seed a set-up stack for each spec (same cluster as the template); returns their
        records (saved as their blocks unless `save` is false). As setup does it: the zone,
        certificates and their records first, the Ingress once they are ISSUED (the controller
        builds no ALB with a pending certificate), the `*.<subdomain>` record on its ALB."""
        started = [self._start(spec) for spec in specs]
        self._wait_issued([names[arn] for _, names in started
                           for arn in _ids(self.template.record, Kind.CERTIFICATE)])  # fmt: skip
        for _, names in started:
            made = _swap_all(self.template.ingress, names)
            made["metadata"]["name"] = names[_ids(self.template.record, Kind.INGRESS)[0]].split(
                "/"
            )[1]
            self.store.apply(made, field_manager=naming.FIELD_MANAGER)
        records = [self._finish(spec, names) for spec, names in started]
        if save:
            from tasks.stack_block import save_record

            for record in records:
                save_record(record)
        return records

    def _start(self, spec: StackSpec) -> tuple[StackSpec, dict[str, str]]:
        """What needs no ALB: the zone, the certificates and their records, the subnet marks."""
        t = self.template
        # The Ingress by its namespace/name only: its bare name may be another name's too
        # (a cluster called as the template's Ingress).
        (ingress,) = _ids(t.record, Kind.INGRESS)
        names = {t.spec.name: spec.name, t.spec.subdomain: spec.subdomain,
                 ingress: f"{ingress.split('/', 1)[0]}/{spec.ingress_name}"}  # fmt: skip
        route53, acm = self.client("route53"), self.client("acm")
        tags = [{"Key": key, "Value": value} for key, value in spec.tags.items()]
        zone = route53.create_hosted_zone(
            Name=spec.subdomain,
            CallerReference=naming.zone_reference_prefix(spec.name, spec.subdomain)
            + str(uuid.uuid4()),
            HostedZoneConfig=_swap_all(t.zone_config, names),
        )
        zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
        route53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id,
                                         AddTags=tags)  # fmt: skip
        (old_zone,) = t.record.of_kind(Kind.HOSTED_ZONE)
        names[old_zone.id] = zone_id
        servers = old_zone.details["name_servers"].split(",")
        names.update(zip(servers, zone["DelegationSet"]["NameServers"], strict=True))
        for item in t.record.of_kind(Kind.CERTIFICATE):
            domain = _swap(item.name, names)
            sans = tuple(s for s in item.details.get("sans", "").split(",") if s)
            arn = acm.request_certificate(
                DomainName=domain,
                SubjectAlternativeNames=[domain, *sans],
                ValidationMethod="DNS",
                IdempotencyToken=naming.certificate_idempotency_token(spec.name, domain, sans),
                Tags=tags,
            )["CertificateArn"]
            names[item.id] = arn
            for old, new in zip(t.validation[item.id], self._validation(arn), strict=True):
                names[old.rstrip(".")] = new.rstrip(".")
        ec2 = self.client("ec2")
        for item in t.record.of_kind(Kind.SUBNET_TAG):
            if t.spec.name in item.details["key"]:  # the stack's own mark of what it holds
                ec2.create_tags(Resources=[item.details["subnet_id"]], Tags=[
                    {"Key": _swap(item.details["key"], names), "Value": item.details["value"]}])  # fmt: skip
        self._write_records(names, final=False)
        return spec, names

    def _finish(self, spec: StackSpec, names: dict[str, str]) -> StackRecord:
        """Once the controller built the stack's ALB: the record sets, then the record."""
        t = self.template
        hostname = self._hostname(spec)
        (old_arn,) = _ids(t.record, Kind.LOAD_BALANCER)
        (old_hostname,) = [i.name for i in t.record.of_kind(Kind.LOAD_BALANCER)]
        balancer = self.client("elbv2").describe_load_balancers(
            Names=[hostname.split(".", 1)[0].rsplit("-", 1)[0]]
        )["LoadBalancers"][0]
        names.update({old_arn: balancer["LoadBalancerArn"], old_hostname: hostname})
        self._write_records(names, final=True)
        data = _swap_all(t.record.model_dump(mode="json"), names)
        # The subnet tags the template found missing and added are held by its successors
        # through their own mark only (what a second stack's setup records).
        data["resources"] = [item for item in data["resources"] if item["kind"] != Kind.SUBNET_TAG
                             or spec.name in item["details"]["key"]]  # fmt: skip
        data["spec"] = spec.model_dump(mode="json", by_alias=True)
        return StackRecord.model_validate(data)

    def _write_records(self, names: dict[str, str], *, final: bool) -> None:
        """The template's record sets for the new stack: the delegation and validation records
        first, the `*.<subdomain>` record (`final`) once its ALB exists."""
        route53 = self.client("route53")
        for zone, kind, record_set in self.template.record_sets:
            if (kind is Kind.DNS_RECORD) != final:
                continue
            made = _swap_all(record_set, names)
            made["Name"] = _unescaped(made["Name"])
            route53.change_resource_record_sets(
                HostedZoneId=_swap(zone, names),
                ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": made}]},
            )

    def _hostname(self, spec: StackSpec) -> str:
        found = wait_until(
            lambda: self.store.get(*INGRESS, spec.ingress_name, "istio-system"),
            lambda ingress: bool(_ingress_hostname(ingress)),
            what=f"the ALB of seeded stack {spec.name}",
            timeout=self.timeout,
            interval=0.05,
            max_interval=0.5,
        )
        return _ingress_hostname(found)

    def _wait_issued(self, arns: list[str]) -> None:
        acm = self.client("acm")
        for arn in arns:
            wait_until(
                lambda arn=arn: acm.describe_certificate(CertificateArn=arn)["Certificate"],  # type: ignore[misc]
                lambda described: described["Status"] == "ISSUED",
                what=f"certificate {arn} of a seeded stack to be ISSUED",
                timeout=self.timeout,
                interval=0.05,
                max_interval=0.5,
            )


def _cluster_store(world: Any, cluster: str, account: str) -> Any:
    if cluster == world.options.cluster_name and account == world.options.account_id:
        return world.kube.store
    for added in world.clusters:
        if added.place.name == cluster and added.place.account == account:
            return added.kube.store
    raise ValueError(f"no cluster {cluster} in account {account} in this world")


def _ids(record: StackRecord, kind: Kind) -> list[str]:
    return [item.id for item in record.of_kind(kind)]


def _ingress_hostname(ingress: dict[str, Any]) -> str:
    found = (ingress.get("status") or {}).get("loadBalancer", {}).get("ingress") or [{}]
    return str(found[0].get("hostname") or "")


def _unescaped(name: str) -> str:
    return name.replace("\\052", "*")


def _swap(text: str, names: Mapping[str, str]) -> str:
    """`text` with each of the template's names and ids replaced by the new stack's, in one
    pass (a longer name first, so an id is never half replaced)."""
    pattern = re.compile("|".join(re.escape(old) for old in sorted(names, key=len, reverse=True)))
    return pattern.sub(lambda found: names[found.group(0)], text)


def _swap_all(value: Any, names: Mapping[str, str]) -> Any:
    swap: Callable[[Any], Any] = lambda item: _swap_all(item, names)  # noqa: E731
    if isinstance(value, str):
        return _swap(value, names)
    if isinstance(value, dict):
        return {swap(key): swap(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [swap(item) for item in value]
    return value

"""What a stack adds to the AWS bill each month (pure): the ALB's hours and an assumed LCU load,
the public IPv4 addresses of an internet-facing ALB, the hosted zone; from core/prices.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib.resources import files
from typing import Any

from core.spec import StackSpec

#: The LCU load assumed for every hour: a Kubeflow dashboard for a team stays well under one LCU
#: (25 new connections/s, 3,000 active connections/min, 1 GB/h processed, 1,000 rule evaluations/s).
ASSUMED_LCU = 1.0
#: An ALB has at least two Availability Zones (a node, hence a public address, in each): AWS
#: refuses to create one with subnets in fewer.
MIN_ZONES = 2
NOT_INCLUDED = (
    "not included: Route53 queries (alias queries to the ALB are free, others are charged per "
    "million), data transfer out, LCUs above the assumption; ACM public certificates are free"
)


@cache
def prices() -> dict[str, Any]:
    """The price table (core/prices.json) with its sources and the date it was read."""
    table: dict[str, Any] = json.loads(files("core").joinpath("prices.json").read_text())
    return table


@dataclass(frozen=True)
class CostItem:
    """One line of the estimate; items with the same `shared` key are one resource (an ALB
    shared by an IngressGroup), counted once in a fleet's sum."""

    what: str
    quantity: str
    monthly: float
    shared: str | None = None


@dataclass(frozen=True)
class CostEstimate:
    """A stack's monthly estimate in one region (no items when the region has no prices)."""

    stack: str
    region: str
    items: tuple[CostItem, ...]
    notes: tuple[str, ...]
    currency: str = "USD"
    priced_on: str = ""

    @property
    def priced(self) -> bool:
        return bool(self.items)

    @property
    def monthly(self) -> float:
        return _cents(sum(item.monthly for item in self.items))

    def line(self) -> str:
        """The one line a plan shows."""
        if not self.priced:
            return f"cost: no estimate for {self.region} ({self.notes[0]})"
        parts = ", ".join(f"{item.what} {item.monthly:.2f}" for item in self.items)
        return (
            f"cost: about {self.monthly:.2f} {self.currency}/month in {self.region} ({parts}; "
            f"prices of {self.priced_on})"
        )


def estimate(spec: StackSpec, *, zones: int | None) -> CostEstimate:
    """The monthly estimate of what the stack adds; `zones`: the ALB's Availability Zones (None:
    not known yet, then the minimum of two is assumed and said)."""
    table, region = prices(), spec.region
    regional = table["alb"].get(region)
    if regional is None:
        known = ", ".join(sorted(table["alb"]))
        return CostEstimate(
            spec.name, region, (), (f"the price table of {table['retrieved']} has {known}",)
        )
    hours = table["hours_per_month"]
    group = spec.stack.ingress_group
    shared = f"{region}/{spec.cluster.name}/ingress-group/{group}" if group else None
    lcu = f"{ASSUMED_LCU:g} LCU x {hours} h x {regional['lcu_hour']}"
    items = [
        CostItem(
            "ALB hours", f"{hours} h x {regional['hour']}", _cents(hours, regional["hour"]), shared
        ),
        CostItem("LCU (assumed)", lcu, _cents(ASSUMED_LCU, hours, regional["lcu_hour"]), shared),
    ]
    notes = [f"LCU assumed {ASSUMED_LCU:g} on average (light use; heavy use costs more)"]
    if spec.kubeflow.alb.scheme == "internet-facing":
        count = max(zones or MIN_ZONES, MIN_ZONES)  # AWS refuses an ALB in one zone
        if zones is None:
            notes.append(f"Availability Zones not known yet: {MIN_ZONES} assumed")
        per_hour = table["public_ipv4_per_hour"]
        items.append(
            CostItem(
                "public IPv4",
                f"{count} x {hours} h x {per_hour}",
                _cents(count, hours, per_hour),
                shared,
            )
        )
    if not spec.stack.adopt_zone:
        items.append(CostItem("hosted zone", "1", _cents(table["hosted_zone_per_month"])))
    if group:
        notes.append(f"the ALB is shared by IngressGroup {group}: a fleet's sum counts it once")
    return CostEstimate(
        spec.name,
        region,
        tuple(items),
        (*notes, NOT_INCLUDED),
        table["currency"],
        table["retrieved"],
    )


def _cents(*factors: float) -> float:
    """The product in whole cents, half up (as a bill rounds), computed in decimal."""
    product = Decimal(1)
    for factor in factors:
        product *= Decimal(str(factor))
    return float(product.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def cost_document(cost: CostEstimate) -> dict[str, Any]:
    """The estimate in the JSON plan."""
    return {
        "region": cost.region,
        "currency": cost.currency,
        "monthly": cost.monthly if cost.priced else None,
        "items": [
            {"what": i.what, "quantity": i.quantity, "monthly": i.monthly} for i in cost.items
        ],
        "notes": list(cost.notes),
        "prices_of": cost.priced_on or None,
        "sources": prices()["sources"],
    }

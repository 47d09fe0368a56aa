"""Preflight: the ALB's scheme needs subnets of its kind in two zones; refused read-only."""

from __future__ import annotations

import pytest

from core.errors import PreflightError
from tasks.aws import ec2, eks


@pytest.mark.parametrize("scheme", ["internet-facing", "internal"])
def test_the_seeded_cluster_can_place_either_scheme(ctx, world, mutations, scheme):
    cluster = eks.preflight_cluster.fn(ctx, world.cluster_name)
    assert mutations(lambda: ec2.preflight_subnets.fn(ctx, cluster, scheme=scheme)) == []


@pytest.mark.parametrize(
    ("keep", "scheme", "message"),
    [
        (
            "public",
            "internal",
            r"kubeflow\.alb\.scheme is internal, but EKS cluster kubeflow has no private subnet "
            r".*use scheme internet-facing",
        ),
        (
            "private",
            "internet-facing",
            r"kubeflow\.alb\.scheme is internet-facing, but EKS cluster kubeflow has no public "
            r"subnet .*kubernetes\.io/role/elb",
        ),
    ],
)
def test_a_scheme_without_subnets_of_its_kind_is_refused_before_anything_is_made(
    ctx, world, mutations, keep, scheme, message
):
    cluster = eks.preflight_cluster.fn(ctx, world.cluster_name)
    only = world.public_subnets if keep == "public" else world.private_subnets
    cluster = cluster.model_copy(update={"subnet_ids": tuple(only)})

    def run() -> None:
        with pytest.raises(PreflightError, match=message):
            ec2.preflight_subnets.fn(ctx, cluster, scheme=scheme)

    assert mutations(run) == []


def test_subnets_in_one_zone_cannot_hold_an_alb(ctx, world, mutations):
    cluster = eks.preflight_cluster.fn(ctx, world.cluster_name)
    cluster = cluster.model_copy(
        update={"subnet_ids": (world.public_subnets[0], *world.private_subnets)}
    )

    def run() -> None:
        with pytest.raises(PreflightError, match=r"in 1 Availability Zone\(s\); an ALB needs"):
            ec2.preflight_subnets.fn(ctx, cluster, scheme="internet-facing")

    assert mutations(run) == []

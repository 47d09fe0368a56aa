"""The bundled controller versions: stack.controllerVersion validation, image tags, and the
manifests' own consistency check (pure)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from core.controller_versions import (
    BUNDLED_VERSIONS,
    DEFAULT_CONTROLLER_VERSION,
    release,
    version_of_image,
)
from core.errors import SpecError
from core.manifests import ControllerParams, configure_controller, controller_version
from core.spec import StackSpec, parse_spec

BASE: dict[str, Any] = {
    "cluster": {"name": "kubeflow", "region": "us-west-2"},
    "route53": {
        "rootDomain": {"name": "example.com"},
        "subDomain": {"name": "platform.example.com"},
    },
}


def _spec(**stack: Any) -> StackSpec:
    return parse_spec({**BASE, "stack": stack})


def test_the_latest_v2_and_v3_releases_are_bundled_and_v3_is_the_default() -> None:
    majors = {version.split(".")[0] for version in BUNDLED_VERSIONS}
    assert majors == {"v2", "v3"}
    assert _spec().stack.controller_version == DEFAULT_CONTROLLER_VERSION == "v3.5.0"
    assert release("v2.17.1").image == "public.ecr.aws/eks/aws-load-balancer-controller:v2.17.1"


@pytest.mark.parametrize(("given", "chosen"), [("v2.17.1", "v2.17.1"), ("3.5.0", "v3.5.0"),
                                               (" v3.5.0 ", "v3.5.0")])  # fmt: skip
def test_a_bundled_version_is_accepted_as_release_notes_write_it(given: str, chosen: str) -> None:
    assert _spec(controllerVersion=given).stack.controller_version == chosen


@pytest.mark.parametrize("given", ["v2.4.7", "v3.6.0", "latest", "", "v3.5.0-rc1"])
def test_another_version_is_refused_naming_the_field_and_the_bundled_ones(given: str) -> None:
    with pytest.raises(SpecError) as refused:
        _spec(controllerVersion=given)
    message = refused.value.message
    assert "stack.controllerVersion" in message
    assert "choose one of v2.17.1, v3.5.0" in message


def test_the_ui_form_offers_the_bundled_versions() -> None:
    schema = StackSpec.model_json_schema()["$defs"]["StackOptions"]["properties"]
    field = schema["controllerVersion"]
    assert field["enum"] == list(BUNDLED_VERSIONS)
    assert field["default"] == DEFAULT_CONTROLLER_VERSION
    assert "v2.17.1" in field["description"]


@pytest.mark.parametrize(("image", "version"), [
    ("public.ecr.aws/eks/aws-load-balancer-controller:v3.5.0", "v3.5.0"),
    ("602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/aws-load-balancer-controller:v2.17.1"
     "@sha256:" + "a" * 64, "v2.17.1"),
    ("localhost:5000/aws-load-balancer-controller", None),
    ("aws-load-balancer-controller", None),
])  # fmt: skip
def test_the_version_is_the_image_tag(image: str, version: str | None) -> None:
    assert version_of_image(image) == version


DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "aws-load-balancer-controller", "namespace": "kube-system"},
    "spec": {"template": {"spec": {"containers": [{
        "name": "aws-load-balancer-controller",
        "image": "public.ecr.aws/eks/aws-load-balancer-controller:v2.17.1",
        "args": ["--cluster-name=SET-BY-KUBEFLOW-ALB", "--aws-region=SET-BY-KUBEFLOW-ALB",
                 "--aws-vpc-id=SET-BY-KUBEFLOW-ALB"]}]}}},
}  # fmt: skip


def _params(version: str) -> ControllerParams:
    return ControllerParams(stack="s", cluster_name="kubeflow", region="us-west-2",
                            vpc_id="vpc-1", role_arn="arn:aws:iam::1:role/r", ca_bundle=b"ca",
                            version=version)  # fmt: skip


def test_manifests_of_a_version_must_run_its_image() -> None:
    configured = configure_controller([copy.deepcopy(DEPLOYMENT)], _params("v2.17.1"))
    assert controller_version(configured[0]) == "v2.17.1"
    with pytest.raises(SpecError, match="runs image tag 'v2.17.1'"):
        configure_controller([copy.deepcopy(DEPLOYMENT)], _params("v3.5.0"))

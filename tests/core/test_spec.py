"""The spec accepts the original guide's config and rejects bad input with a message naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from core.errors import SpecError
from core.spec import load_spec, parse_spec

GUIDE = {
    "cluster": {"name": "kubeflow", "region": "us-west-2"},
    "route53": {
        "rootDomain": {"name": "example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"},
        "subDomain": {"name": "platform.example.com", "subjectAlternativeNames": []},
    },
    "kubeflow": {"alb": {"scheme": "internet-facing"}},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(GUIDE)
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return data


def test_guide_shape_is_accepted_unchanged() -> None:
    spec = parse_spec(GUIDE)
    assert spec.cluster.name == "kubeflow"
    assert spec.route53.root_domain.hosted_zone_id == "Z0123456789ABCDEFGHIJ"
    assert spec.name == "platform-example-com"
    assert spec.stack.controller == "auto"
    assert spec.stack.record_type == "alias"
    assert spec.dashboard_host == "kubeflow.platform.example.com"


def test_names_are_normalised_and_options_read() -> None:
    data = _with("route53.subDomain.name", "Platform.Example.COM.")
    data["stack"] = {"name": "ml", "recordType": "cname", "rootCertificate": False,
                     "tags": {"team": "ml"}}  # fmt: skip
    spec = parse_spec(data)
    assert spec.subdomain == "platform.example.com"
    assert spec.name == "ml"
    assert spec.tags == {"team": "ml", "kubeflow-alb/stack": "ml",
                         "app.kubernetes.io/managed-by": "kubeflow-alb"}  # fmt: skip
    assert spec.stack.root_certificate is False


def test_spec_is_frozen_and_round_trips_by_alias() -> None:
    spec = parse_spec(GUIDE)
    with pytest.raises(Exception, match="frozen"):
        spec.cluster.name = "other"  # type: ignore[misc]
    again = parse_spec(spec.model_dump(by_alias=True))
    assert again == spec


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "route53.subDomain.name",
            "bad_label.example.com",
            r"route53\.subDomain\.name: .*bad_label",
        ),
        ("route53.subDomain.name", "-x.example.com", "do not start or end with a hyphen"),
        ("route53.subDomain.name", ("a" * 64) + ".example.com", "limit is 63"),
        ("route53.subDomain.name", ("abcdefghi." * 26) + "example.com", "at most 253"),
        ("route53.subDomain.name", "platform.example.org", "not under the root domain"),
        ("route53.subDomain.name", "example.com", "equals the root domain"),
        ("route53.subDomain.name", "*.example.com", "must not contain a wildcard"),
        ("route53.rootDomain.name", "com", "at least two labels"),
        ("route53.subDomain.subjectAlternativeNames", ["ml.example.com"], "outside the subdomain"),
        ("route53.subDomain.subjectAlternativeNames", ["a.*.platform.example.com"], "leftmost"),
        (
            "route53.subDomain.subjectAlternativeNames",
            ["x*.platform.example.com"],
            "wildcard inside",
        ),
        ("cluster.region", "us-west-9", r"cluster\.region: 'us-west-9' is not an AWS region"),
        ("cluster.name", "bad name!", "not an EKS cluster name"),
        ("kubeflow.alb.scheme", "public", r"kubeflow\.alb\.scheme"),
        ("route53.rootDomain.hostedZoneId", "not-a-zone", "not a Route53 hosted zone id"),
        ("route53.rootDomain.unknownKey", "x", r"unknownKey: is not a known setting"),
        ("cluster.name", 12, r"cluster\.name: Input should be a valid string"),
        ("stack.name", "Bad_Name", "not a stack name"),
        ("stack.controller", "helm", r"stack\.controller"),
        ("stack.tags", {"aws:reserved": "x"}, "reserved"),
        ("stack.tags", {"kubeflow-alb/stack": "x"}, "reserved"),
    ],
)
def test_bad_input_names_the_field(path: str, value: Any, expected: str) -> None:
    with pytest.raises(SpecError, match=expected):
        parse_spec(_with(path, value))


def test_missing_required_field() -> None:
    data = copy.deepcopy(GUIDE)
    del data["cluster"]["region"]
    with pytest.raises(SpecError, match=r"cluster\.region: is required"):
        parse_spec(data)


def test_all_errors_reported_at_once() -> None:
    data = _with("cluster.region", "nowhere-1")
    data["cluster"]["name"] = "bad name"
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    assert "cluster.region" in str(caught.value)
    assert "cluster.name" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("cluster: [unclosed", "not valid YAML at line 1"),
        ("- a\n- b\n", "must be a mapping"),
        ("just a string", "must be a mapping"),
    ],
)
def test_bad_files(text: str, expected: str) -> None:
    with pytest.raises(SpecError, match=expected):
        load_spec(text, source="config.yaml")


def test_example_configs_are_valid() -> None:
    from pathlib import Path

    for path in Path(__file__).parents[2].joinpath("examples").glob("*.yaml"):
        spec = load_spec(path.read_text(), source=path.name)
        assert spec.cluster.name
        assert yaml.safe_load(path.read_text())["cluster"]["region"] == spec.region


def test_the_form_has_readable_titles_and_markdown_safe_descriptions() -> None:
    from core.spec import StackSpec

    schema = StackSpec.model_json_schema(by_alias=True)
    fields = {
        name: spec for d in schema["$defs"].values() for name, spec in d["properties"].items()
    }
    assert fields["hostedZoneId"]["title"] == "Hosted zone id"
    assert fields["rootCertificate"]["title"] == "Root certificate"
    assert fields["subjectAlternativeNames"]["title"] == "Subject alternative names"
    # The UI renders descriptions as markdown: names with * and <> go in code spans.
    assert "`*.<root domain>`" in fields["rootCertificate"]["description"]

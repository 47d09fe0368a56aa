"""Reading a config: duplicate keys, encodings, nesting, size and AWS name limits are refused."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from core import naming
from core.errors import SpecError
from core.spec import load_spec, parse_spec
from core.spec_loader import MAX_BYTES, MAX_DEPTH

CONFIG = """\
cluster:
  name: kubeflow
  region: us-west-2
route53:
  rootDomain: {name: example.com}
  subDomain: {name: platform.example.com}
"""


def _data(**route53: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CONFIG)
    data["route53"].update(route53)
    return data


def test_a_valid_config_reads_from_bytes_and_text_alike() -> None:
    assert load_spec(CONFIG.encode(), source="c.yaml") == load_spec(CONFIG, source="c.yaml")
    assert load_spec(b"\xef\xbb\xbf" + CONFIG.encode()).subdomain == "platform.example.com"


def test_a_duplicate_top_level_key_is_an_error_not_the_last_one_winning() -> None:
    text = CONFIG + "cluster:\n  name: other\n  region: us-west-2\n"
    with pytest.raises(
        SpecError, match=r"c\.yaml at line 7.*'cluster' is given twice \(lines 1 and 7\)"
    ):
        load_spec(text, source="c.yaml")


def test_a_duplicate_nested_key_is_an_error() -> None:
    text = CONFIG.replace("  name: kubeflow\n", "  name: kubeflow\n  name: other\n")
    with pytest.raises(SpecError, match=r"'name' is given twice \(lines 2 and 3\)"):
        load_spec(text, source="c.yaml")


def test_a_file_that_is_not_utf8_is_refused_with_the_byte_and_line() -> None:
    latin1 = CONFIG.replace("kubeflow", "kübeflow").encode("latin-1")
    with pytest.raises(SpecError, match=r"c\.yaml is not UTF-8 text \(byte 0xfc at line 2\)"):
        load_spec(latin1, source="c.yaml")
    with pytest.raises(SpecError, match="is not UTF-8"):
        load_spec(CONFIG.encode("utf-16"), source="c.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 100_000,
        "a: " + "{b: " * 5_000 + "1" + "}" * 5_000,
        "a:\n" + "".join("  " * level + "- \n" for level in range(200)),
    ],
    ids=["flow-sequences", "flow-mappings", "block-sequences"],
)
def test_deep_nesting_is_refused_before_any_recursion_error(text: str) -> None:
    with pytest.raises(SpecError, match=f"nesting deeper than {MAX_DEPTH} levels"):
        load_spec(text, source="c.yaml")


def test_a_huge_file_is_not_read() -> None:
    with pytest.raises(SpecError, match="at most 256 KiB"):
        load_spec(CONFIG + "#" * MAX_BYTES, source="c.yaml")


def test_several_documents_are_not_a_config() -> None:
    with pytest.raises(SpecError, match="is not valid YAML at line 7"):
        load_spec(CONFIG + "---\n" + CONFIG, source="c.yaml")


def test_the_subdomain_certificate_name_fits_acms_64_characters() -> None:
    sub = "a" * 43 + ".platform.example.com"  # *.<sub> is 66 characters
    with pytest.raises(
        SpecError,
        match=r"route53\.subDomain\.name: the certificate name '\*\.a+"
        r"\.platform\.example\.com' has 66 characters; ACM allows at most 64",
    ):
        parse_spec(_data(subDomain={"name": sub}))
    fits = "a" * 41 + ".platform.example.com"  # 64
    assert parse_spec(_data(subDomain={"name": fits})).subdomain == fits


def test_a_san_whose_validation_record_is_too_long_for_route53_is_refused() -> None:
    long_san = ".".join(["s" * 60] * 3) + ".abcdefghijklmnop.platform.example.com"  # 220
    assert len(long_san) + 34 > 253
    with pytest.raises(SpecError, match="too long for its ACM validation record"):
        parse_spec(
            _data(subDomain={"name": "platform.example.com", "subjectAlternativeNames": [long_san]})
        )


@pytest.mark.parametrize("value", ["", "  ", "a\x00b", "a\nb"])
def test_a_manifests_path_that_cannot_be_a_path_is_refused(value: str) -> None:
    data = {**_data(), "stack": {"manifestsPath": value}}
    with pytest.raises(SpecError, match=r"stack\.manifestsPath: "):
        parse_spec(data)


@pytest.mark.parametrize("value", ["x;touch f", "../../etc/passwd", "A", "-x", "a" * 41, "x\n"])
def test_require_stack_name_refuses_what_the_spec_refuses(value: str) -> None:
    with pytest.raises(SpecError, match="--stack: .* is not a stack name"):
        naming.require_stack_name(value)
    with pytest.raises(SpecError, match="stack.name: .* is not a stack name"):
        parse_spec({**_data(), "stack": {"name": value}})
    assert naming.require_stack_name("platform-example-com") == "platform-example-com"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cluster.name", "kubeflow\n"),
        ("route53.subDomain.name", "platform\n.example.com"),
        ("route53.rootDomain.hostedZoneId", "Z0123456789\n"),
    ],
)
def test_a_trailing_newline_does_not_slip_past_a_pattern(field: str, value: str) -> None:
    data = _data()
    data["route53"]["rootDomain"]["hostedZoneId"] = None
    section, *path = field.split(".")
    target = data[section]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(SpecError, match=field.replace(".", r"\.")):
        parse_spec(data)

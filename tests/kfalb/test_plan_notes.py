"""`kfalb plan` names the spec's choices weaker than AWS Security Hub's controls under the plan,
and in the JSON document's `notes`."""

from __future__ import annotations

import json

import pytest

from core.alb_options import weaker_choices
from core.plan import plan
from core.spec import parse_spec
from kfalb.commands import show

GUIDE = {
    "cluster": {"name": "kubeflow", "region": "us-west-2"},
    "route53": {"rootDomain": {"name": "example.com"}, "subDomain": {"name": "platform.example.com"}},
    "kubeflow": {"alb": {"desyncMitigationMode": "monitor"}},
}  # fmt: skip


def test_a_weaker_choice_is_shown_under_the_plan_and_in_the_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    notes = weaker_choices(parse_spec(GUIDE).kubeflow.alb)
    show("s", plan([], {}), output="text", command="plan", notes=notes)
    text = capsys.readouterr().out
    assert text.rstrip().splitlines()[-1] == (
        'Note: kubeflow.alb.desyncMitigationMode is "monitor", weaker than AWS Security Hub '
        "ELB.12: requests that risk HTTP desync reach Kubeflow."
    )
    show("s", plan([], {}), output="json", command="plan", notes=notes)
    assert json.loads(capsys.readouterr().out)["notes"] == notes

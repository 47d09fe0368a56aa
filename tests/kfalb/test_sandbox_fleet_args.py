"""`kfalb sandbox up --cluster NAME@ACCOUNT[:REGION] --route53-rate N`: checked, and passed on to
a detached world."""

from __future__ import annotations

import pytest

from kfalb.cli import EXIT_USAGE, main


def test_clusters_and_the_route53_rate_reach_a_detached_world() -> None:
    from kfalb.cli import HANDLERS, build_parser
    from kfalb.sandbox_cmd import world_arguments

    args = build_parser(HANDLERS).parse_args(["sandbox", "up", "--cluster", "kubeflow-b@234567890123:eu-west-1",
                                 "--cluster", "team-c@345678901234", "--route53-rate", "5"])  # fmt: skip
    passed = world_arguments(args)
    assert "--cluster=kubeflow-b@234567890123:eu-west-1" in passed
    assert "--cluster=team-c@345678901234" in passed
    assert "--route53-rate=5.0" in passed
    plain = world_arguments(build_parser(HANDLERS).parse_args(["sandbox", "up"]))
    assert not any(a.startswith(("--cluster", "--route53-rate")) for a in plain)


@pytest.mark.parametrize("bad", ["kubeflow", "kubeflow@1234", "kubeflow@234567890123:nowhere"])
def test_a_cluster_that_is_not_name_at_account_is_refused(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sandbox", "up", "--cluster", bad])
    assert exit_info.value.code == EXIT_USAGE
    assert "expected NAME@ACCOUNT[:REGION]" in capsys.readouterr().err

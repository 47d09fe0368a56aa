"""The command: user errors are one clear line and exit 2; usage errors come from argparse."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfalb.cli import main


def test_bad_config_exits_2_with_the_field_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("cluster: {name: kubeflow, region: mars-1}\nroute53: {}\n")
    assert main(["setup", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "cluster.region: 'mars-1' is not an AWS region" in err
    assert "route53.rootDomain: is required" in err
    assert "Traceback" not in err


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_cleanup_needs_a_target(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["cleanup"])
    assert exit_info.value.code == 2
    assert "one of the arguments --stack --config/-c is required" in capsys.readouterr().err


def test_drift_fleet_and_stack_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["drift", "--all", "--stack", "x"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_import_refuses_a_bad_written_back_value_before_any_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "cluster: {name: kubeflow, region: us-west-2}\n"
        "route53: {rootDomain: {name: example.com},\n"
        "          subDomain: {name: platform.example.com, certARN: not-an-arn}}\n"
    )
    assert main(["import", "--config", str(config), "--take-ownership"]) == 2
    err = capsys.readouterr().err
    assert "route53.subDomain.certARN: 'not-an-arn' is not an ACM certificate ARN" in err

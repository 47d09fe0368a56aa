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


def test_unlock_refuses_a_stack_name_that_is_no_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["unlock", "--stack", "../../etc/passwd"]) == 2
    err = capsys.readouterr().err
    assert "'../../etc/passwd' is not a stack name" in err
    assert "Traceback" not in err


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from core.version import package_version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"kfalb {package_version()}"
    assert package_version() != "unknown"  # the test venv installs the package


@pytest.mark.parametrize(
    "command", ["plan", "setup", "cleanup", "drift", "stacks", "demo", "server", "sandbox"]
)
def test_every_command_has_a_description_an_example_and_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert "example:\n  kfalb " in text
    assert "exit codes:\n  0  " in text
    assert "  2  bad input" in text


def test_plan_help_names_exit_3_for_changes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    assert "3  changes are planned" in capsys.readouterr().out


def test_json_drift_takes_one_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift", "--all", "--output", "json"]) == 2
    assert "--output json takes one stack" in capsys.readouterr().err


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

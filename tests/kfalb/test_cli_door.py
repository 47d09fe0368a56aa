"""Hostile input at the door: refused with a message and exit 2, no traceback, no AWS call."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kfalb.cli import EXIT_USAGE, main
from tasks.aws.clients import api_calls

EXAMPLE = Path(__file__).parents[2] / "examples" / "sandbox.yaml"
HOSTILE_STACKS = ["x;touch f", "../../etc/passwd", "$(touch f)", "a" * 300, "Platform"]


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Any AWS call would be counted (and then fail): nothing listens there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("command", ["cleanup", "drift"])
@pytest.mark.parametrize("stack", HOSTILE_STACKS)
def test_a_hostile_stack_value_is_a_usage_error(
    command: str, stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = api_calls()
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--stack", stack])
    assert exit_info.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "argument --stack:" in err
    assert "is not a stack name (1-40 lower-case letters" in err
    assert "Traceback" not in err
    assert api_calls().since(before).calls == ()
    assert list(tmp_path.iterdir()) == []  # nothing ran: no file "f", no Prefect database


def test_the_flows_refuse_a_hostile_stack_before_the_lock(tmp_path: Path) -> None:
    from core.errors import SpecError
    from flows.cleanup_load_balancer import cleanup_load_balancer
    from tasks.stack_block import load_record, lock_name

    before = api_calls()
    with pytest.raises(SpecError, match=r"stack: '\.\./\.\./etc/passwd' is not a stack name"):
        cleanup_load_balancer.fn(stack="../../etc/passwd")
    with pytest.raises(SpecError, match="is not a stack name"):
        lock_name("x;touch f")
    with pytest.raises(SpecError, match="is not a stack name"):
        load_record("x;touch f")
    assert api_calls().since(before).calls == ()


def _config(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "config.yaml"
    path.write_bytes(data)
    return str(path)


HOSTILE_CONFIGS = [
    (
        "duplicate-cluster",
        EXAMPLE.read_bytes() + b"cluster:\n  name: other\n  region: us-west-2\n",
        "config.yaml at line",
        "the key 'cluster' is given twice",
    ),
    (
        "latin-1",
        EXAMPLE.read_text().replace("kubeflow", "k\u00fcbeflow", 1).encode("latin-1"),
        "config.yaml is not UTF-8 text (byte 0xfc",
        "save it as UTF-8",
    ),
    ("deep", b"cluster: " + b"[" * 50_000, "nesting deeper than 16 levels", "config.yaml"),
    (
        "long-subdomain",
        EXAMPLE.read_text()
        .replace("name: platform.example.com", "name: " + "a" * 60 + ".platform.example.com")
        .encode(),
        "route53.subDomain.name: the certificate name",
        "ACM allows at most 64",
    ),
    (
        "manifests-dot-dot-etc",
        EXAMPLE.read_bytes() + b"  manifestsPath: ../../../../../../../../etc\n",
        "stack.manifestsPath: '../../../../../../../../etc' has no kustomization.yaml",
        "not a kustomize directory",
    ),
    (
        "manifests-missing",
        EXAMPLE.read_bytes() + b"  manifestsPath: ./no/such/dir\n",
        "stack.manifestsPath: './no/such/dir' does not exist",
        "on this machine",
    ),
]


@pytest.mark.parametrize(
    ("case", "data", "first", "second"), HOSTILE_CONFIGS, ids=[c[0] for c in HOSTILE_CONFIGS]
)
@pytest.mark.parametrize("command", ["setup", "plan"])
def test_a_hostile_config_is_refused_with_the_reason(
    command: str,
    case: str,
    data: bytes,
    first: str,
    second: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = api_calls()
    assert main([command, "--config", _config(tmp_path, data)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert first in err
    assert second in err
    assert "Traceback" not in err
    assert api_calls().since(before).calls == ()


def test_sandbox_faults_are_checked_and_passed_to_a_detached_world(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kfalb.cli import HANDLERS, build_parser
    from kfalb.sandbox_cmd import world_arguments

    with pytest.raises(SystemExit) as exit_info:
        main(["sandbox", "up", "--faults", "throttle=0.7,error5xx=0.7"])
    assert exit_info.value.code == EXIT_USAGE
    assert "fault rates must be within 0..1 and sum to at most 1" in capsys.readouterr().err
    args = build_parser(HANDLERS).parse_args(["sandbox", "up", "--faults", "throttle=0.3,seed=4"])
    assert "--faults=throttle=0.3,seed=4" in world_arguments(args)
    plain = world_arguments(build_parser(HANDLERS).parse_args(["sandbox", "up"]))
    assert not any(a.startswith("--faults") for a in plain)


def test_sandbox_up_can_omit_the_pod_identity_agent() -> None:
    from kfalb.cli import HANDLERS, build_parser
    from kfalb.sandbox_cmd import world_arguments

    without = build_parser(HANDLERS).parse_args(["sandbox", "up", "--no-pod-identity-agent"])
    assert without.pod_identity_agent is False
    assert "--no-pod-identity-agent" in world_arguments(without)  # a detached world too
    assert "--pod-identity-agent" in world_arguments(
        build_parser(HANDLERS).parse_args(["sandbox", "up"])
    )

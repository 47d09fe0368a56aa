"""Commands that read saved stacks answer without starting a server; cleanup asks first (a
terminal: "yes"; none: --yes or KFALB_YES, else it refuses and removes nothing)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from core.state import Kind, StackRecord, StackResource
from kfalb import confirm, saved, server
from kfalb.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sandbox.yaml"
STACK = "saved-example"


@pytest.fixture
def saved_stack(prefect_server: None) -> Iterator[StackRecord]:
    from tasks.stack_block import delete_record, save_record

    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["stack"] = {"name": STACK}
    record = StackRecord(
        stack=STACK, spec=spec, phase="ready",
        resources=(
            StackResource(kind=Kind.HOSTED_ZONE, id="Z0SAVED", name="platform.example.com", owned=True),
            StackResource(kind=Kind.CERTIFICATE, id="arn:aws:acm:us-west-2:1:certificate/given",
                          name="*.platform.example.com", owned=False),
        ),
    )  # fmt: skip
    save_record(record)
    yield record
    delete_record(STACK)


def test_stacks_and_a_wrong_stack_name_answer_from_the_saved_blocks(
    saved_stack: StackRecord, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stacks"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["NAME", "PHASE", "CLUSTER", "DASHBOARD"]
    assert f"{STACK}  ready  kubeflow (us-west-2)" in out

    for command in (["plan", "--stack", "nonexistent"], ["drift", "--stack", "nonexistent"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"No saved stack 'nonexistent'. Saved stacks: {STACK}" in err
        assert "Traceback" not in err


def test_cleanup_of_a_stack_that_is_not_there_has_nothing_to_remove(
    saved_stack: StackRecord, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cleanup", "--stack", "long-gone"]) == 0
    assert "Stack long-gone: nothing to remove" in capsys.readouterr().out


def test_cleanup_without_a_terminal_or_yes_refuses_before_anything_runs(
    saved_stack: StackRecord, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.stack_block import load_record

    monkeypatch.delenv(confirm.YES_ENV, raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))  # not a terminal: never read
    assert main(["cleanup", "--stack", STACK]) == 2
    err = capsys.readouterr().err
    assert "pass --yes (or set KFALB_YES=1)" in err
    assert "Nothing was removed." in err
    assert load_record(STACK) is not None  # nothing ran


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("typed", "goes_on"), [("yes\n", True), ("y\n", False), ("\n", False)])
def test_on_a_terminal_only_yes_goes_on(
    typed: str, goes_on: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(confirm.YES_ENV, raising=False)

    def preview() -> confirm.DestroyPreview:
        return confirm.DestroyPreview("  delete  hosted-zone Z1", removes=1)

    shown = io.StringIO()
    assert confirm.confirm_cleanup(preview, stack="s", yes=False, stdin=_Terminal(typed),
                                   out=shown) is goes_on  # fmt: skip
    assert "  delete  hosted-zone Z1" in shown.getvalue()
    assert "Only 'yes' is accepted" in shown.getvalue()


def test_yes_or_kfalb_yes_skip_the_question(monkeypatch: pytest.MonkeyPatch) -> None:
    def preview() -> confirm.DestroyPreview:
        raise AssertionError("not read when nobody is asked")

    silent = io.StringIO()
    assert confirm.confirm_cleanup(preview, stack="s", yes=True, stdin=io.StringIO(), out=silent)
    monkeypatch.setenv(confirm.YES_ENV, "1")
    assert confirm.confirm_cleanup(preview, stack="s", yes=False, stdin=io.StringIO(), out=silent)
    assert silent.getvalue() == ""


def test_the_database_read_without_a_server_finds_what_the_api_finds(
    saved_stack: StackRecord, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL, get_current_settings

    database = get_current_settings().server.database.connection_url
    assert database is not None
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", database.get_secret_value())
    from_api = saved.from_api(str(PREFECT_API_URL.value()))
    assert saved.from_database(tmp_path) == from_api
    assert from_api[STACK]["phase"] == "ready"
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL")
    assert saved.from_database(tmp_path) == {}  # no database yet: no stacks
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://db/prefect")
    assert saved.from_database(tmp_path) is None  # not here: a server must answer


def test_a_profile_names_the_users_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        'active = "work"\n[profiles.work]\nPREFECT_API_URL = "http://prefect:4200/api"\n'
    )
    monkeypatch.setenv("PREFECT_PROFILES_PATH", str(profiles))
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    assert server._profile_api_url() == "http://prefect:4200/api"
    monkeypatch.setenv("PREFECT_PROFILE", "ephemeral")
    assert server._profile_api_url() is None

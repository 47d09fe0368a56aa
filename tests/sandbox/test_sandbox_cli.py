"""`kfalb sandbox up --detach | status | env | down`, run as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

REPO = Path(__file__).parents[2]
STATE = ".kfalb-sandbox"
FAST = ["--acm-delay=0", "--alb-delay=0.1", "--dns-delay=0"]


def kfalb(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG", "KFALB_"))
    }
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "kfalb", "sandbox", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def exports(text: str) -> dict[str, str]:
    lines = [
        line.removeprefix("export ") for line in text.splitlines() if line.startswith("export ")
    ]
    return {key: value.strip("'") for key, value in (line.split("=", 1) for line in lines)}


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z"


def closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_up_detached_answers_until_down_stops_exactly_it(tmp_path: Path) -> None:
    assert kfalb(tmp_path, "status").returncode == 1
    assert kfalb(tmp_path, "env").returncode == 1

    up = kfalb(tmp_path, "up", "--detach", "--controller=auto-mode", "--no-root-in-route53", *FAST)
    assert up.returncode == 0, up.stderr
    state = tmp_path / STATE
    assert str(state / "env") in up.stdout
    pid = int((state / "pid").read_text())
    try:
        env = exports((state / "env").read_text())
        # Everything answers as soon as `up` returns.
        session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        route53 = session.client("route53", endpoint_url=env["AWS_ENDPOINT_URL"])
        assert route53.list_hosted_zones()["HostedZones"] == []  # --no-root-in-route53
        kubectl = [
            str(Path(sys.executable).parent / "kubectl"),
            "get",
            "ingressclass",
            "-o",
            "json",
        ]
        listed = subprocess.run(
            kubectl,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        classes = {item["spec"]["controller"] for item in json.loads(listed.stdout)["items"]}
        assert classes == {"eks.amazonaws.com/alb"}  # --controller=auto-mode
        ports = [
            int(env["AWS_ENDPOINT_URL"].rsplit(":", 1)[1]),
            int(env["KFALB_DNS_NAMESERVERS"].rsplit(":", 1)[1]),
            int(env["KFALB_HTTPS_PORT"]),
        ]
        assert not any(closed(port) for port in ports)

        status = kfalb(tmp_path, "status")
        assert status.returncode == 0
        assert f"pid {pid}" in status.stdout
        assert exports(kfalb(tmp_path, "env").stdout) == env
        again = kfalb(tmp_path, "up", "--detach", *FAST)
        assert again.returncode == 1
        assert "already runs" in again.stderr

        down = kfalb(tmp_path, "down")
        assert down.returncode == 0, down.stderr
        assert gone(pid)
        assert all(closed(port) for port in ports)
        assert not (state / "pid").exists()
        assert not (state / "env").exists()
    finally:
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)
    assert kfalb(tmp_path, "status").returncode == 1
    assert kfalb(tmp_path, "down").returncode == 1


def test_down_leaves_alone_a_process_that_reused_a_stale_pid(tmp_path: Path) -> None:
    state = tmp_path / STATE
    state.mkdir()
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        (state / "pid").write_text(str(stranger.pid))
        (state / "env").write_text("export AWS_ENDPOINT_URL=http://127.0.0.1:1\n")
        down = kfalb(tmp_path, "down")
        assert down.returncode == 1
        assert "not running" in down.stderr
        # `down` waits for what it signals to be gone: had it signalled, this would be over.
        assert stranger.poll() is None
        assert kfalb(tmp_path, "env").returncode == 1  # a stale env file is not served
    finally:
        stranger.kill()
        stranger.wait()


def test_up_with_a_root_account_seeds_the_root_zone_and_its_role_there(tmp_path: Path) -> None:
    import dns.resolver
    from botocore.exceptions import ClientError

    bad = kfalb(tmp_path, "up", "--root-account", "12345")
    assert bad.returncode == 2
    assert "'12345' is not an AWS account id (12 digits)" in bad.stderr

    root = "210987654399"
    role_arn = f"arn:aws:iam::{root}:role/kfalb-root-dns"
    up = kfalb(tmp_path, "up", "--detach", f"--root-account={root}",
               "--root-external-id=ext-1", *FAST)  # fmt: skip
    assert up.returncode == 0, up.stderr
    assert f"route53.rootDomain.roleArn: {role_arn}" in up.stdout
    pid = int((tmp_path / STATE / "pid").read_text())
    try:
        env = exports((tmp_path / STATE / "env").read_text())
        session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        endpoint = env["AWS_ENDPOINT_URL"]
        assert session.client("route53", endpoint_url=endpoint).list_hosted_zones()[
            "HostedZones"
        ] == []  # fmt: skip
        sts = session.client("sts", endpoint_url=endpoint)
        with pytest.raises(ClientError, match="AccessDenied"):  # the role asks for its ExternalId
            sts.assume_role(RoleArn=role_arn, RoleSessionName="kfalb-cli")
        found = sts.assume_role(RoleArn=role_arn, RoleSessionName="kfalb-cli", ExternalId="ext-1")
        credentials = found["Credentials"]
        assumed = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        zones = assumed.client("route53", endpoint_url=endpoint).list_hosted_zones()["HostedZones"]
        assert [zone["Name"] for zone in zones] == ["example.com."]
        # Public DNS (the sandbox's resolver) answers from the root account's zone.
        host, port = env["KFALB_DNS_NAMESERVERS"].rsplit(":", 1)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = [host], int(port)
        assert [a.to_text() for a in resolver.resolve("www.example.com", "A")] == ["192.0.2.10"]
        assert kfalb(tmp_path, "down").returncode == 0
    finally:
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)

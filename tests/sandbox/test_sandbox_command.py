"""``python -m ahictl sandbox up|down|status`` as a user runs it: a process of its own, its files, its ports, and
every refusal a clear message with nothing left running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.state import answers, port_in_use, process_alive
from testkit.fakes.deployed_stack import EXPORTED_KEYS
from testkit.mock_runs import PROJECT_DIR
from testkit.oidc import AUDIENCE, ISSUER

pytestmark = pytest.mark.server

#: Seconds one command may take (an `up --detach` is ready in a few seconds).
COMMAND_TIMEOUT = 120


def without_aws_settings() -> dict[str, str]:
    """This process's environment without any ``AWS_`` variable: the command finds only what the sandbox gives."""
    return {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}


def ahictl(*argv: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ahictl", *argv],
        cwd=PROJECT_DIR,
        env=without_aws_settings(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_ahictl(*argv: str) -> subprocess.Popen[str]:
    """``python -m ahictl <argv>`` started, its output and errors piped (the caller waits for it or stops it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "ahictl", *argv],
        cwd=PROJECT_DIR,
        env=without_aws_settings(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def state_of(directory: Path, stack: str = "dev") -> dict[str, object]:
    state = json.loads((directory / stack / "state.json").read_text())
    assert isinstance(state, dict)
    return state


def ports_of(state: dict[str, object]) -> list[int]:
    urls = state["urls"]
    assert isinstance(urls, dict)
    return [int(str(url).rsplit(":", 1)[1]) for url in urls.values()]


@pytest.fixture
def sandbox_dir(tmp_path: Path) -> Iterator[Path]:
    """A sandbox directory; whatever still runs from it is stopped after the test."""
    directory = tmp_path / "sbx"
    yield directory
    for state_file in directory.glob("*/state.json"):
        pid = int(json.loads(state_file.read_text())["pid"])
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_up_detach_serves_until_down_which_frees_the_ports_and_removes_the_files(sandbox_dir: Path) -> None:
    started = ahictl("sandbox", "up", "--detach", "--dir", str(sandbox_dir))
    assert started.returncode == 0, started.stderr
    assert "Skipped" in started.stdout
    assert "aws:cloudtrail/trail:Trail" in started.stdout
    state = state_of(sandbox_dir)
    urls = state["urls"]
    assert isinstance(urls, dict)
    assert all(answers(str(url)) for url in urls.values())
    assert {p.name for p in (sandbox_dir / "dev").iterdir()} == {
        "state.json",
        "lock",
        "outputs.json",
        "env",
        "sandbox.log",
    }

    assert sorted(json.loads((sandbox_dir / "dev" / "outputs.json").read_text())) == sorted(EXPORTED_KEYS)

    stopped = ahictl("sandbox", "down", "--dir", str(sandbox_dir))
    assert stopped.returncode == 0, stopped.stderr
    assert "are free" in stopped.stdout
    assert not process_alive(int(str(state["pid"])))
    assert not any(port_in_use(port) for port in ports_of(state))
    assert not (sandbox_dir / "dev").exists()


def test_a_second_up_of_a_running_sandbox_says_so_and_exits_0(sandbox_dir: Path) -> None:
    assert ahictl("sandbox", "up", "--detach", "--dir", str(sandbox_dir)).returncode == 0
    pid = state_of(sandbox_dir)["pid"]
    again = ahictl("sandbox", "up", "--detach", "--dir", str(sandbox_dir))
    assert again.returncode == 0
    assert f"The sandbox of stack dev already runs (pid {pid})" in again.stdout
    assert state_of(sandbox_dir)["pid"] == pid
    assert ahictl("sandbox", "down", "--dir", str(sandbox_dir)).returncode == 0


def test_two_ups_at_once_start_one_sandbox(sandbox_dir: Path) -> None:
    processes = [start_ahictl("sandbox", "up", "--detach", "--dir", str(sandbox_dir)) for _ in range(2)]
    outs = [process.communicate(timeout=COMMAND_TIMEOUT)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    assert sum("Ready in" in out for out in outs) == 1
    assert sum("is starting or runs" in out or "already runs" in out for out in outs) == 1
    pid = state_of(sandbox_dir)["pid"]
    sandboxes = subprocess.run(
        ["pgrep", "-f", f"sandbox --stack dev --dir {sandbox_dir} "], capture_output=True, text=True
    )
    assert sandboxes.stdout.split() == [str(pid)]
    assert ahictl("sandbox", "down", "--dir", str(sandbox_dir)).returncode == 0


def test_status_says_what_runs_where(sandbox_dir: Path) -> None:
    assert ahictl("sandbox", "up", "--detach", "--dir", str(sandbox_dir)).returncode == 0
    shown = ahictl("sandbox", "status", "--dir", str(sandbox_dir))
    assert shown.returncode == 0
    assert shown.stdout.count("(answers)") == 3
    assert ahictl("sandbox", "down", "--dir", str(sandbox_dir)).returncode == 0
    stopped = ahictl("sandbox", "status", "--dir", str(sandbox_dir))
    assert (stopped.returncode, stopped.stdout.strip()) == (1, f"No sandbox of stack dev runs in {sandbox_dir}.")


def test_down_keep_keeps_the_outputs_and_env(sandbox_dir: Path) -> None:
    assert ahictl("sandbox", "up", "--detach", "--dir", str(sandbox_dir)).returncode == 0
    kept = ahictl("sandbox", "down", "--keep", "--dir", str(sandbox_dir))
    assert kept.returncode == 0
    assert {p.name for p in (sandbox_dir / "dev").iterdir()} == {"outputs.json", "env", "sandbox.log"}


def test_the_port_base_sets_each_services_port(sandbox_dir: Path) -> None:
    # Three free ports in a row, below the system's range of ephemeral ports (32768 and up on Linux).
    base = next(
        base
        for base in range(20000 + os.getpid() % 10000, 32000, 3)
        if not any(port_in_use(base + offset) for offset in range(3))
    )
    assert ahictl("sandbox", "up", "--detach", "--port-base", str(base), "--dir", str(sandbox_dir)).returncode == 0
    urls = state_of(sandbox_dir)["urls"]
    assert urls == {
        "moto": f"http://127.0.0.1:{base}",
        "healthimaging": f"http://127.0.0.1:{base + 1}",
        "iam": f"http://127.0.0.1:{base + 2}",
    }
    env = (sandbox_dir / "dev" / "env").read_text()
    assert f"export AWS_ENDPOINT_URL_MEDICAL_IMAGING=http://127.0.0.1:{base + 1}\n" in env
    assert ahictl("sandbox", "down", "--dir", str(sandbox_dir)).returncode == 0


def test_ctrl_c_stops_a_foreground_sandbox_cleanly(sandbox_dir: Path) -> None:
    process = start_ahictl("sandbox", "up", "--dir", str(sandbox_dir))
    try:
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while not (sandbox_dir / "dev" / "state.json").exists() and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        ports = ports_of(state_of(sandbox_dir))
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Stopped the sandbox of stack dev." in out
    assert "Traceback" not in err
    assert not any(port_in_use(port) for port in ports)
    assert not (sandbox_dir / "dev").exists()


def test_ctrl_c_while_up_detach_waits_leaves_nothing_running(sandbox_dir: Path) -> None:
    process = start_ahictl("sandbox", "up", "--detach", "--dir", str(sandbox_dir))
    try:
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while not (sandbox_dir / "dev" / "sandbox.log").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)  # the sandbox's process has just started: it is not ready yet
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert "interrupted: the sandbox was stopped before it was ready (nothing runs)" in err
    assert "Traceback" not in err
    sandboxes = subprocess.run(["pgrep", "-f", f"sandbox --stack dev --dir {sandbox_dir} "], capture_output=True)
    assert sandboxes.stdout == b""
    assert not (sandbox_dir / "dev").exists()


# --- refusals -----------------------------------------------------------------------------------------------------


def assert_nothing_left(directory: Path) -> None:
    assert not (directory / "dev" / "state.json").exists()
    assert not list(directory.glob("*/state.json"))


def test_an_unknown_stack_is_refused(sandbox_dir: Path) -> None:
    result = ahictl("sandbox", "up", "--detach", "--stack", "nosuch", "--dir", str(sandbox_dir))
    assert result.returncode == 2
    assert "error: No stack file Pulumi.nosuch.yaml" in result.stderr
    assert "stacks here: dev, prod" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (sandbox_dir / "nosuch").exists()


def test_a_port_in_use_is_refused(sandbox_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = ahictl("sandbox", "up", "--detach", "--port-base", str(port), "--dir", str(sandbox_dir))
    assert result.returncode == 2
    assert f"error: port {port} on 127.0.0.1 (for S3, KMS and STS (moto)) is in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert_nothing_left(sandbox_dir)


def test_a_port_base_out_of_range_is_refused(sandbox_dir: Path) -> None:
    result = ahictl("sandbox", "up", "--port-base", "80", "--dir", str(sandbox_dir))
    assert result.returncode == 2
    assert "error: --port-base 80: give a port from 1024 to 65533" in result.stderr


def test_a_stack_whose_plan_fails_is_refused_before_anything_starts(tmp_path: Path, sandbox_dir: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_text((PROJECT_DIR / name).read_text())
    (project / "Pulumi.broken.yaml").write_text("config:\n  healthimaging-setup:namePrefix: 'Not A Prefix'\n")
    result = ahictl(
        "sandbox", "up", "--detach", "--stack", "broken", "--project-dir", str(project), "--dir", str(sandbox_dir)
    )
    assert result.returncode == 2
    assert "error: the plan of stack 'broken' fails:" in result.stderr
    assert "namePrefix" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (sandbox_dir / "broken").exists()


def test_down_of_a_sandbox_that_does_not_run_says_so(sandbox_dir: Path) -> None:
    result = ahictl("sandbox", "down", "--dir", str(sandbox_dir))
    assert (result.returncode, result.stdout.strip()) == (
        0,
        f"No sandbox of stack dev runs in {sandbox_dir} (nothing to stop).",
    )


def test_an_unknown_action_is_a_usage_error() -> None:
    result = ahictl("sandbox", "restart")
    assert result.returncode == 2
    assert "invalid choice: 'restart'" in result.stderr


@pytest.mark.parametrize("action", ["up", "down", "status"])
def test_a_stack_name_with_a_path_is_refused(action: str, tmp_path: Path) -> None:
    (tmp_path / "outputs.json").write_text("{}")
    result = ahictl("sandbox", action, "--stack", "..", "--dir", str(tmp_path / "sbx"))
    assert result.returncode == 2
    assert "error: --stack '..': give the stack's short name" in result.stderr
    assert (tmp_path / "outputs.json").exists()


# --- --set: the stack deployed with changed settings --------------------------------------------------------------

#: ``dicomwebOidc`` as a test sets it: the issuer of testkit.oidc, its audience, one persona.
DICOMWEB_OIDC = json.dumps({"issuer": ISSUER, "audiences": [AUDIENCE], "personas": {"reader": ["radiology"]}})


def test_up_with_dicomweb_oidc_set_runs_the_authorizer_in_process(sandbox_dir: Path) -> None:
    started = ahictl("sandbox", "up", "--detach", "--set", f"dicomwebOidc={DICOMWEB_OIDC}", "--dir", str(sandbox_dir))
    assert started.returncode == 0, started.stderr
    assert (
        "Run in-process: the DICOMweb authorizer (aws:lambda/function:Function  datastore-authorizer-function)"
        in started.stdout
    )
    skipped = started.stdout.split("Skipped", 1)[1]
    assert "datastore-authorizer-function" not in skipped
    assert "datastore-creator-function" in skipped  # the other functions are not run
    outputs = json.loads((sandbox_dir / "dev" / "outputs.json").read_text())
    assert outputs["datastoreLambdaAuthorizerArn"].endswith(":function:ahi-dev-dicomweb-authorizer:live")
    assert ahictl("sandbox", "down", "--dir", str(sandbox_dir)).returncode == 0


def test_up_without_dicomweb_oidc_runs_nothing_in_process(sandbox_dir: Path) -> None:
    started = ahictl("sandbox", "up", "--detach", "--dir", str(sandbox_dir))
    assert started.returncode == 0, started.stderr
    assert "Run in-process" not in started.stdout
    assert ahictl("sandbox", "down", "--dir", str(sandbox_dir)).returncode == 0


def test_a_set_of_an_unknown_setting_is_refused_before_anything_starts(sandbox_dir: Path) -> None:
    result = ahictl("sandbox", "up", "--set", "noSuchSetting=1", "--dir", str(sandbox_dir))
    assert result.returncode == 2
    assert "error: the plan of stack 'dev' fails:" in result.stderr
    assert "noSuchSetting is not a setting of this program" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Deploying" not in result.stdout
    assert not (sandbox_dir / "dev").exists()


def test_a_set_with_a_bad_value_is_refused_before_anything_starts(sandbox_dir: Path) -> None:
    bad = json.dumps({"issuer": "http://login.example.org", "audiences": [AUDIENCE], "personas": {"reader": ["r"]}})
    result = ahictl("sandbox", "up", "--set", f"dicomwebOidc={bad}", "--dir", str(sandbox_dir))
    assert result.returncode == 2
    assert "dicomwebOidc.issuer = 'http://login.example.org': the issuer must be an https URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Deploying" not in result.stdout
    assert not (sandbox_dir / "dev").exists()


def test_a_set_without_key_and_value_is_refused_before_anything_starts(sandbox_dir: Path) -> None:
    result = ahictl("sandbox", "up", "--detach", "--set", "dicomwebOidc", "--dir", str(sandbox_dir))
    assert result.returncode == 2
    assert "error: --set 'dicomwebOidc': give KEY=VALUE with a project setting's name" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (sandbox_dir / "dev").exists()

"""What the operational commands share: every failure becomes a message and an exit code, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import botocore.exceptions
import pytest

from ahictl import ops_common


def test_an_sdk_error_that_escaped_every_translation_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    reported: list[tuple[str, int, str | None]] = []

    def body() -> int:
        raise botocore.exceptions.ProxyConnectionError(proxy_url="http://proxy:3128", error="refused")

    code = ops_common.run_command(body, on_failure=lambda *failure: reported.append(failure))
    assert code == 1
    [(message, exit_code, aws_code)] = reported
    assert (exit_code, aws_code) == (1, None)
    assert "http://proxy:3128" in message
    assert "run the same command again" in message
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "Traceback" not in err


def json_out(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    from ahictl import cli

    try:
        code = cli.main(list(argv))
    except SystemExit as stop:
        code = int(stop.code or 0)
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_an_unknown_flag_of_import_with_json_prints_the_json_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, document = json_out(capsys, "import", str(tmp_path), "--outputs", "o.json", "--json", "--bogus")
    assert code == 2
    error = document["error"]
    assert isinstance(error, dict)
    assert "unrecognized arguments: --bogus" in str(error["message"])
    assert error["exitCode"] == 2
    assert document["ok"] is False


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("--outputs", "missing.json"), "missing.json"),
        (("--outputs", "o.json", "--bogus"), "unrecognized arguments: --bogus"),
        (("--outputs", "o.json", "--limit", "-1"), "-1 is negative"),
    ],
    ids=["missing-outputs", "unknown-flag", "bad-limit"],
)
def test_a_failed_jobs_command_with_json_prints_the_json_error(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: tuple[str, ...],
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, document = json_out(capsys, "jobs", "--json", *argv)
    assert code == 2
    error = document["error"]
    assert isinstance(error, dict)
    assert expected in str(error["message"])
    assert (error["exitCode"], error["awsErrorCode"]) == (2, None)


def test_the_import_flags_defaults_and_limits_come_from_ahiops_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from ahictl import cli
    from ahiops import limits

    monkeypatch.setattr(limits, "MAX_CONCURRENCY", 300)
    monkeypatch.setattr(limits, "DEFAULT_CONCURRENCY", {"crt": 70, "classic": 11})
    monkeypatch.setattr(limits, "MAX_FILES_PER_JOB", 4000)
    monkeypatch.setattr(limits, "DEFAULT_MAX_CONCURRENT_JOBS", 90)
    monkeypatch.setattr(limits, "MAX_CONCURRENT_JOBS_BY_REGION", {"ap-southeast-2": 15})
    parser = cli._parser()
    commands = next(action for action in parser._actions if action.dest == "command")
    import_parser = commands.choices["import"]  # type: ignore[index]
    flags = {option: action for action in import_parser._actions for option in action.option_strings}
    assert "at most 300 (default: 70, or 11 without awscrt)" in str(flags["--concurrency"].help)
    assert flags["--max-files-per-job"].default == 4000
    assert "default 4000" in str(flags["--max-files-per-job"].help)
    assert "the data store's quota, 90; 15 in ap-southeast-2" in str(flags["--max-concurrent-jobs"].help)

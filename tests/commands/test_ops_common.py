"""What the operational commands share: every failure becomes a message and an exit code, never a traceback."""

from __future__ import annotations

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

"""A command's --output file is written whole or not at all (ahictl/output_files.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ahictl import output_files
from ahictl.output_files import write_whole


def test_a_new_file_gets_the_content_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    write_whole(target, b"{}")
    assert target.read_bytes() == b"{}"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["plan.json"]


def test_an_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_bytes(b"old content")
    write_whole(target, b"new")
    assert target.read_bytes() == b"new"


def test_a_failed_write_keeps_the_old_content_and_removes_the_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "plan.json"
    target.write_bytes(b"old content")

    def no_room(source: str, destination: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output_files.os, "replace", no_room)
    with pytest.raises(OSError, match="No space left"):
        write_whole(target, b"new")
    assert target.read_bytes() == b"old content"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["plan.json"]


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null here")
def test_a_file_that_is_not_a_regular_file_is_written_directly_not_replaced() -> None:
    write_whole(Path("/dev/null"), b"discarded")
    assert Path("/dev/null").is_char_device()  # still the device: never renamed over

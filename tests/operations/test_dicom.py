"""The Part 10 check and the walk that sorts files into importable and skipped, on pydicom's real sample files."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

from ahiops import dicom, discovery
from ahiops.errors import UsageError
from testkit.dicom_samples import sample

PART10 = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm")
NOT_PART10 = ("no_meta.dcm", "ExplVR_LitEndNoMeta.dcm", "rtstruct.dcm")


@pytest.mark.parametrize("name", PART10)
def test_part10_samples_pass(name: str) -> None:
    assert dicom.is_part10(sample(name))


@pytest.mark.parametrize("name", NOT_PART10)
def test_samples_without_the_file_meta_header_fail(name: str) -> None:
    path = sample(name)
    assert not dicom.is_part10(path)
    problem = dicom.part10_problem(dicom.read_header(path))
    assert problem is not None
    assert "DICM" in problem


def test_short_and_empty_files_are_explained() -> None:
    assert "0 bytes long" in (dicom.part10_problem(b"") or "")
    assert "131 bytes long" in (dicom.part10_problem(b"\0" * 128 + b"DIC") or "")
    assert dicom.part10_problem(b"\0" * 128 + b"DICM") is None
    assert dicom.part10_problem(b"\0" * 128 + b"DICN") is not None


def test_only_the_first_132_bytes_are_read(tmp_path: Path) -> None:
    big = tmp_path / "big.dcm"
    with big.open("wb") as stream:
        stream.write(b"\0" * 128 + b"DICM")
        stream.truncate(64 * 1024 * 1024)
    assert dicom.read_header(big) == b"\0" * 128 + b"DICM"


def make_study(root: Path) -> None:
    (root / "study1" / "series1").mkdir(parents=True)
    (root / "study1" / "series2").mkdir(parents=True)
    shutil.copy(sample("CT_small.dcm"), root / "study1" / "series1" / "ct.dcm")
    shutil.copy(sample("MR_small.dcm"), root / "study1" / "series2" / "mr.dcm")
    shutil.copy(sample("no_meta.dcm"), root / "study1" / "series2" / "no_meta.dcm")
    (root / "notes.txt").write_text("not an image")
    (root / ".DS_Store").write_bytes(b"\0" * 10)


def test_discover_keeps_part10_and_reports_every_other_file(tmp_path: Path) -> None:
    make_study(tmp_path)
    found = discovery.discover(tmp_path)
    assert [item.relative_path for item in found.files] == ["study1/series1/ct.dcm", "study1/series2/mr.dcm"]
    assert found.total_bytes == sample("CT_small.dcm").stat().st_size + sample("MR_small.dcm").stat().st_size
    skipped = {item.relative_path: item.reason for item in found.skipped}
    assert set(skipped) == {".DS_Store", "notes.txt", "study1/series2/no_meta.dcm"}
    assert "DICM" in skipped["study1/series2/no_meta.dcm"]
    assert "bytes long" in skipped[".DS_Store"]


def test_discover_a_single_file(tmp_path: Path) -> None:
    target = tmp_path / "one.dcm"
    shutil.copy(sample("CT_small.dcm"), target)
    found = discovery.discover(target)
    assert [(item.relative_path, item.size) for item in found.files] == [("one.dcm", target.stat().st_size)]


def test_symlinked_folders_are_reported_not_followed(tmp_path: Path) -> None:
    make_study(tmp_path / "data")
    (tmp_path / "data" / "loop").symlink_to(tmp_path / "data")
    found = discovery.discover(tmp_path / "data")
    assert "loop" in {item.relative_path for item in found.skipped}
    assert len(found.files) == 2


def test_pipes_are_skipped_without_being_opened(tmp_path: Path) -> None:
    make_study(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    found = discovery.discover(tmp_path)
    assert {item.relative_path: item.reason for item in found.skipped}["pipe"].startswith("not a regular file")


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"does not exist") as caught:
        discovery.discover(tmp_path / "nope")
    assert caught.value.exit_code == 2


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(UsageError, match=r"holds no files"):
        discovery.discover(tmp_path / "empty")


def test_folder_without_part10_files_lists_what_it_found(tmp_path: Path) -> None:
    shutil.copy(sample("no_meta.dcm"), tmp_path / "a.dcm")
    (tmp_path / "b.txt").write_text("x")
    with pytest.raises(UsageError, match=r"no DICOM Part 10 file") as caught:
        discovery.discover(tmp_path)
    assert "a.dcm: not a DICOM Part 10 file" in str(caught.value)
    assert "b.txt" in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_files_are_named(tmp_path: Path) -> None:
    make_study(tmp_path)
    locked = tmp_path / "study1" / "series1" / "ct.dcm"
    locked.chmod(0)
    with pytest.raises(UsageError, match=r"cannot be read") as caught:
        discovery.discover(tmp_path)
    assert "study1/series1/ct.dcm" in str(caught.value)


def test_unreadable_files_are_named_even_for_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_study(tmp_path)
    real_read = dicom.read_header

    def read_header(path: Path) -> bytes:
        if path.name == "mr.dcm":
            raise PermissionError(13, "Permission denied")
        return real_read(path)

    monkeypatch.setattr(dicom, "read_header", read_header)
    with pytest.raises(UsageError) as caught:
        discovery.discover(tmp_path)
    assert "study1/series2/mr.dcm (Permission denied)" in str(caught.value)
    assert "nothing was uploaded" in str(caught.value)


def test_files_over_the_per_file_limit_are_refused(tmp_path: Path) -> None:
    make_study(tmp_path)
    with pytest.raises(UsageError, match=r"larger than HealthImaging's limit") as caught:
        discovery.discover(tmp_path, max_file_bytes=5000)
    assert "study1/series1/ct.dcm" in str(caught.value)


def crc64nvme(data: bytes) -> str:
    """CRC64NVME as S3 writes it, computed here by botocore's own checksum class (the one boto3 sends)."""
    from botocore.httpchecksum import CrtCrc64NvmeChecksum

    checksum = CrtCrc64NvmeChecksum()
    checksum.update(data)
    return base64.b64encode(checksum.digest()).decode()


def test_crc64nvme_is_the_nvme_polynomial_as_s3_writes_it() -> None:
    # CRC-64/NVME's check value (the CRC of b"123456789") is 0xAE8B14860A799888; S3 sends its 8 bytes in base64.
    check_value = 0xAE8B14860A799888
    assert discovery.crc64nvme_base64(check_value) == base64.b64encode(bytes.fromhex("ae8b14860a799888")).decode()
    assert crc64nvme(b"123456789") == discovery.crc64nvme_base64(check_value)


def test_fingerprint_matches_the_content(tmp_path: Path) -> None:
    make_study(tmp_path)
    found = discovery.discover(tmp_path)
    hashed = discovery.fingerprint(found.files, workers=2)
    for item in hashed:
        assert item.crc64nvme == crc64nvme(item.path.read_bytes())
    assert [item.relative_path for item in hashed] == [item.relative_path for item in found.files]
    assert len({item.crc64nvme for item in hashed}) == len(hashed)


def test_fingerprint_notices_a_file_that_changed(tmp_path: Path) -> None:
    make_study(tmp_path)
    found = discovery.discover(tmp_path)
    with (tmp_path / "study1" / "series1" / "ct.dcm").open("ab") as stream:
        stream.write(b"more")
    with pytest.raises(UsageError, match=r"changed while it was being read"):
        discovery.fingerprint(found.files)


def test_fingerprint_of_large_files_in_threads(tmp_path: Path) -> None:
    # Larger than the read buffer, and not a multiple of it: the CRC continues across reads.
    for index in range(3):
        (tmp_path / f"big{index}.dcm").write_bytes(b"\0" * 128 + b"DICM" + os.urandom(2_500_000 + index))
    found = discovery.discover(tmp_path)
    for workers in (1, 3):
        hashed = discovery.fingerprint(found.files, workers=workers)
        assert [item.crc64nvme for item in hashed] == [crc64nvme(item.path.read_bytes()) for item in hashed]

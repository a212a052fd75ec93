"""Staging files in S3 (moto's server on loopback): both engines, checksums, resume, interruption, errors."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from fakes.environment import AwsEnv

from ahiops import upload
from ahiops.errors import AwsAccessError, OpsError
from ahiops.upload import UploadInterrupted, UploadItem, upload_files

BUCKET = "input-bucket-test"
ENGINES = ["crt", "classic"]


def crc64nvme(data: bytes) -> str:
    from awscrt import checksums

    return base64.b64encode(checksums.crc64nvme(data).to_bytes(8, "big")).decode()


@pytest.fixture
def bucket(aws_env: AwsEnv) -> Any:
    s3 = aws_env.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


def make_items(root: Path, count: int, size: int = 3000, prefix: str = "imports/d/job-0001/") -> list[UploadItem]:
    items = []
    for index in range(count):
        data = os.urandom(size)
        path = root / f"f{index:03d}.dcm"
        path.write_bytes(data)
        items.append(
            UploadItem(path=path, key=f"{prefix}s/f{index:03d}.dcm", size=size, checksum_crc64nvme=crc64nvme(data))
        )
    return items


def versions(s3: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        for version in page.get("Versions", []):
            counts[version["Key"]] = counts.get(version["Key"], 0) + 1
    return counts


@pytest.mark.parametrize("engine", ENGINES)
def test_upload_stores_every_file_and_reports_progress(bucket: Any, tmp_path: Path, engine: str) -> None:
    items = make_items(tmp_path, 25)
    progress: list[tuple[int, int]] = []
    report = upload_files(
        boto3.session.Session(),
        BUCKET,
        items,
        concurrency=8,
        engine=engine,
        on_progress=lambda files, nbytes: progress.append((files, nbytes)),
    )
    assert (report.uploaded, report.uploaded_bytes, report.already_present) == (25, 25 * 3000, 0)
    assert report.engine == engine
    assert sum(files for files, _ in progress) == 25
    assert sum(nbytes for _, nbytes in progress) == 25 * 3000
    for item in items[:3]:
        assert bucket.get_object(Bucket=BUCKET, Key=item.key)["Body"].read() == item.path.read_bytes()
    assert versions(bucket) == {item.key: 1 for item in items}


@pytest.mark.parametrize("engine", ENGINES)
def test_rerun_uploads_nothing_twice(bucket: Any, tmp_path: Path, engine: str) -> None:
    items = make_items(tmp_path, 12)
    upload_files(boto3.session.Session(), BUCKET, items, engine=engine)
    again = upload_files(boto3.session.Session(), BUCKET, items, engine=engine)
    assert (again.uploaded, again.already_present, again.already_present_bytes) == (0, 12, 12 * 3000)
    assert versions(bucket) == {item.key: 1 for item in items}


@pytest.mark.parametrize("engine", ENGINES)
def test_interrupted_upload_resumes_without_duplicates(bucket: Any, tmp_path: Path, engine: str) -> None:
    items = make_items(tmp_path, 40)
    seen = {"files": 0}

    def stop_after_five(files: int, nbytes: int) -> None:
        seen["files"] += files
        if seen["files"] >= 5:
            raise KeyboardInterrupt

    with pytest.raises(UploadInterrupted) as caught:
        upload_files(boto3.session.Session(), BUCKET, items, concurrency=4, engine=engine, on_progress=stop_after_five)
    assert caught.value.uploaded == 5
    assert caught.value.remaining == 35
    partial = versions(bucket)
    assert 5 <= len(partial) < 40
    resumed = upload_files(boto3.session.Session(), BUCKET, items, concurrency=4, engine=engine)
    assert resumed.already_present == len(partial)
    assert resumed.uploaded == 40 - len(partial)
    assert versions(bucket) == {item.key: 1 for item in items}


def test_an_object_of_another_size_is_replaced(bucket: Any, tmp_path: Path) -> None:
    items = make_items(tmp_path, 3)
    bucket.put_object(Bucket=BUCKET, Key=items[0].key, Body=b"short")
    report = upload_files(boto3.session.Session(), BUCKET, items)
    assert (report.uploaded, report.already_present) == (3, 0)
    assert bucket.get_object(Bucket=BUCKET, Key=items[0].key)["Body"].read() == items[0].path.read_bytes()


@pytest.mark.parametrize("engine", ENGINES)
def test_large_files_go_multipart_with_a_full_object_crc64nvme(bucket: Any, tmp_path: Path, engine: str) -> None:
    data = os.urandom(upload.PART_SIZE + 1024 * 1024)
    path = tmp_path / "large.dcm"
    path.write_bytes(data)
    item = UploadItem(path=path, key="imports/d/job-0001/large.dcm", size=len(data), checksum_crc64nvme=crc64nvme(data))
    report = upload_files(boto3.session.Session(), BUCKET, [item], engine=engine)
    assert report.uploaded_bytes == len(data)
    head = bucket.head_object(Bucket=BUCKET, Key=item.key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    # moto computes a FULL_OBJECT multipart checksum from the bytes it received; the value sent is this one
    assert head["ChecksumCRC64NVME"] == crc64nvme(data)
    assert head["ChecksumType"].upper() == "FULL_OBJECT"
    assert head["ETag"].strip('"').endswith("-2")  # two parts


@pytest.mark.parametrize("engine", ENGINES)
def test_a_missing_bucket_is_a_clear_error(aws_env: AwsEnv, tmp_path: Path, engine: str) -> None:
    items = make_items(tmp_path, 2)
    with pytest.raises(OpsError, match=r"NoSuchBucket") as caught:
        upload_files(boto3.session.Session(), "no-such-bucket-here", items, engine=engine, skip_existing=False)
    assert "s3://no-such-bucket-here/imports/d/job-0001/s/f00" in str(caught.value)


def test_no_credentials(aws_env: AwsEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AwsAccessError, match=r"aws sso login"):
        upload_files(boto3.session.Session(), BUCKET, make_items(tmp_path, 1))


def test_common_prefix() -> None:
    assert upload.common_prefix(["imports/a/job-0001/x/y.dcm", "imports/a/job-0002/z.dcm"]) == "imports/a/"
    assert upload.common_prefix(["imports/a/job-0001/x.dcm"]) == "imports/a/job-0001/"
    assert upload.common_prefix(["a.dcm", "imports/b.dcm"]) == ""
    assert upload.common_prefix(["imports/ab/x", "imports/ac/y"]) == "imports/"


KEYS = ["imports/d/job-0001/a.dcm", "imports/d/job-0001/with space/ü~+%&=;?#.dcm", "imports/d/job-0001/a//b.dcm"]


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "https://s3.us-east-1.amazonaws.com"])
@pytest.mark.parametrize("checksum", [None, "c29qcQ9Ia2g="])
@pytest.mark.parametrize("key", KEYS)
def test_templated_put_requests_equal_botocores(aws_env: AwsEnv, endpoint: str, checksum: str | None, key: str) -> None:
    from s3transfer.crt import BotocoreCRTRequestSerializer, CRTTransferFuture, CRTTransferMeta
    from s3transfer.utils import CallArgs

    session = boto3.session.Session()
    kwargs = {"region_name": "us-east-1", "endpoint_url": endpoint}
    templated = upload.templated_put_serializer(BotocoreCRTRequestSerializer, session._session, kwargs)
    plain = BotocoreCRTRequestSerializer(session._session, dict(kwargs))

    def future() -> Any:
        extra: dict[str, Any] = {"ContentLength": 1234, "ContentMD5": "override-to-be-removed"}
        if checksum:
            extra["ChecksumCRC64NVME"] = checksum
        call_args = CallArgs(bucket="my-bucket", key=key, fileobj="/tmp/file", extra_args=extra, subscribers=[])
        return CRTTransferFuture(CRTTransferMeta(0, call_args))

    def shape(request: Any) -> tuple[str, str, dict[str, str]]:
        headers = {name.lower(): value for name, value in request.headers if name.lower() != "amz-sdk-invocation-id"}
        return request.method, request.path, headers

    for _ in range(2):  # the second request comes from the cached template
        assert shape(templated.serialize_http_request("put_object", future())) == shape(
            plain.serialize_http_request("put_object", future())
        )


def test_odd_keys_upload_intact(bucket: Any, tmp_path: Path) -> None:
    items = []
    for index, key in enumerate(KEYS):
        data = os.urandom(100 + index)
        path = tmp_path / f"{index}.dcm"
        path.write_bytes(data)
        items.append(UploadItem(path=path, key=key, size=len(data), checksum_crc64nvme=crc64nvme(data)))
    report = upload_files(boto3.session.Session(), BUCKET, items, engine="crt")
    assert report.uploaded == len(KEYS)
    for item in items:
        assert bucket.get_object(Bucket=BUCKET, Key=item.key)["Body"].read() == item.path.read_bytes()


def test_s3_receives_the_fingerprint_itself_as_the_full_object_checksum(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The CRT engine sends each item's CRC64NVME as given (real S3 rejects the object when it does not match the
    bytes), for a single PutObject and as the full-object checksum of a multipart upload, rather than a checksum
    of its own. The staging benchmark's endpoint keeps what the client sent without checking it, so a value that
    is not the content's own shows that the given one is what reaches S3."""
    from fakes.environment import apply_aws_env

    from benchmarks.s3_sink import running_sink

    stand_in = crc64nvme(b"a fingerprint that is not the content's")
    items = []
    for name, size in (("small.dcm", 3000), ("large.dcm", upload.PART_SIZE + 1024 * 1024)):
        path = tmp_path / name
        path.write_bytes(os.urandom(size))
        items.append(UploadItem(path=path, key=f"imports/d/job-0001/{name}", size=size, checksum_crc64nvme=stand_in))
    with running_sink() as sink:
        apply_aws_env(monkeypatch, tmp_path, {"S3": sink.url})
        s3 = boto3.session.Session().client("s3")
        s3.create_bucket(Bucket=BUCKET)
        report = upload_files(boto3.session.Session(), BUCKET, items, engine="crt")
        assert report.uploaded == 2
        for item in items:
            head = s3.head_object(Bucket=BUCKET, Key=item.key, ChecksumMode="ENABLED")
            assert head["ContentLength"] == item.size
            assert head["ChecksumCRC64NVME"] == stand_in
            assert head["ChecksumType"].upper() == "FULL_OBJECT"
            assert "ChecksumCRC32" not in head

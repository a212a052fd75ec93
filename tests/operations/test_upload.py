"""Staging files in S3 (moto's server on loopback): both engines, checksums, resume, interruption, errors."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.awsrequest
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from ahiops import upload
from ahiops.errors import AwsAccessError, OpsError
from ahiops.upload import UploadInterrupted, UploadItem, upload_files
from sandbox.moto_server import ObservedMotoServer
from testkit.fakes.environment import MOTO_ACCOUNT_ID, AwsEnv
from testkit.fakes.s3_checksums import store_checksum_headers_as_s3_does

BUCKET = "input-bucket-test"
ENGINES = ["crt", "classic"]

OWNER = MOTO_ACCOUNT_ID  # the loopback S3 owns every bucket under this account


def crc64nvme(data: bytes) -> str:
    from awscrt import checksums

    return base64.b64encode(checksums.crc64nvme(data).to_bytes(8, "big")).decode()


@pytest.fixture(autouse=True)
def s3_keeps_checksum_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    store_checksum_headers_as_s3_does(monkeypatch)


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
        expected_bucket_owner=OWNER,
    )
    assert (report.uploaded, report.uploaded_bytes, report.already_present, report.replaced) == (25, 25 * 3000, 0, 0)
    assert report.engine == engine
    assert sum(files for files, _ in progress) == 25
    assert sum(nbytes for _, nbytes in progress) == 25 * 3000
    for item in items[:3]:
        assert bucket.get_object(Bucket=BUCKET, Key=item.key)["Body"].read() == item.path.read_bytes()
    assert versions(bucket) == {item.key: 1 for item in items}


@pytest.mark.parametrize("engine", ENGINES)
def test_rerun_uploads_nothing_twice(bucket: Any, tmp_path: Path, engine: str) -> None:
    items = make_items(tmp_path, 12)
    upload_files(boto3.session.Session(), BUCKET, items, engine=engine, expected_bucket_owner=OWNER)
    again = upload_files(boto3.session.Session(), BUCKET, items, engine=engine, expected_bucket_owner=OWNER)
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
        upload_files(
            boto3.session.Session(),
            BUCKET,
            items,
            concurrency=4,
            engine=engine,
            on_progress=stop_after_five,
            expected_bucket_owner=OWNER,
        )
    assert caught.value.uploaded == 5
    assert caught.value.remaining == 35
    partial = versions(bucket)
    assert 5 <= len(partial) < 40
    resumed = upload_files(
        boto3.session.Session(), BUCKET, items, concurrency=4, engine=engine, expected_bucket_owner=OWNER
    )
    # A request cancelled on the wire may still complete on the service after the interrupt: what the rerun finds is
    # at least what was there right after it, and every file ends up uploaded exactly once.
    assert resumed.already_present >= len(partial)
    assert resumed.already_present + resumed.uploaded == 40
    assert versions(bucket) == {item.key: 1 for item in items}


def test_an_object_of_another_size_is_replaced(bucket: Any, tmp_path: Path) -> None:
    items = make_items(tmp_path, 3)
    bucket.put_object(Bucket=BUCKET, Key=items[0].key, Body=b"short")
    report = upload_files(boto3.session.Session(), BUCKET, items, expected_bucket_owner=OWNER)
    assert (report.uploaded, report.already_present, report.replaced) == (3, 0, 1)
    assert bucket.get_object(Bucket=BUCKET, Key=items[0].key)["Body"].read() == items[0].path.read_bytes()


@pytest.mark.parametrize("engine", ENGINES)
def test_large_files_go_multipart_with_a_full_object_crc64nvme(bucket: Any, tmp_path: Path, engine: str) -> None:
    data = os.urandom(upload.PART_SIZE + 1024 * 1024)
    path = tmp_path / "large.dcm"
    path.write_bytes(data)
    item = UploadItem(path=path, key="imports/d/job-0001/large.dcm", size=len(data), checksum_crc64nvme=crc64nvme(data))
    report = upload_files(boto3.session.Session(), BUCKET, [item], engine=engine, expected_bucket_owner=OWNER)
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
        upload_files(
            boto3.session.Session(),
            "no-such-bucket-here",
            items,
            engine=engine,
            skip_existing=False,
            expected_bucket_owner=OWNER,
        )
    assert "s3://no-such-bucket-here/imports/d/job-0001/s/f00" in str(caught.value)


def test_no_credentials(aws_env: AwsEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AwsAccessError, match=r"aws sso login"):
        upload_files(boto3.session.Session(), BUCKET, make_items(tmp_path, 1), expected_bucket_owner=OWNER)


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
    report = upload_files(boto3.session.Session(), BUCKET, items, engine="crt", expected_bucket_owner=OWNER)
    assert report.uploaded == len(KEYS)
    for item in items:
        assert bucket.get_object(Bucket=BUCKET, Key=item.key)["Body"].read() == item.path.read_bytes()


@pytest.mark.server  # the sink on loopback
def test_s3_receives_the_fingerprint_itself_as_the_full_object_checksum(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The CRT engine sends each item's CRC64NVME as given (real S3 rejects the object when it does not match the
    bytes), for a single PutObject and as the full-object checksum of a multipart upload, rather than a checksum
    of its own. The staging benchmark's endpoint keeps what the client sent without checking it, so a value that
    is not the content's own shows that the given one is what reaches S3."""
    from testkit.fakes.environment import apply_aws_env
    from testkit.fakes.s3_sink import running_sink

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
        report = upload_files(boto3.session.Session(), BUCKET, items, engine="crt", expected_bucket_owner=OWNER)
        assert report.uploaded == 2
        for item in items:
            head = s3.head_object(Bucket=BUCKET, Key=item.key, ChecksumMode="ENABLED")
            assert head["ContentLength"] == item.size
            assert head["ChecksumCRC64NVME"] == stand_in
            assert head["ChecksumType"].upper() == "FULL_OBJECT"
            assert "ChecksumCRC32" not in head


# ---------------------------------------------------------------- resume: same size AND same CRC64NVME


class Requests:
    """The requests moto's server receives for the test bucket's objects: (method, key), in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[tuple[str, str]] = []

    def __call__(self, method: str, path: str, query: str) -> None:
        prefix = f"/{BUCKET}/"
        if path.startswith(prefix) and len(path) > len(prefix):
            with self._lock:
                self.seen.append((method, path[len(prefix) :]))

    def keys(self, method: str) -> list[str]:
        with self._lock:
            return sorted(key for seen_method, key in self.seen if seen_method == method)


@pytest.fixture
def requests(moto_server: ObservedMotoServer) -> Iterator[Requests]:
    recorder = Requests()
    moto_server.add_observer(recorder)
    try:
        yield recorder
    finally:
        moto_server.remove_observer(recorder)


def plain_client(aws_env: AwsEnv) -> Any:
    """An S3 client that sends no checksum unless one is required: another tool writing into the bucket."""
    return boto3.session.Session().client(
        "s3", endpoint_url=aws_env.moto_endpoint, config=Config(request_checksum_calculation="when_required")
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_an_object_with_the_same_size_and_crc64nvme_is_not_uploaded_again(
    bucket: Any, tmp_path: Path, engine: str, requests: Requests
) -> None:
    items = make_items(tmp_path, 6)
    items.append(large_item(tmp_path))  # a multipart upload stores its full-object CRC64NVME too
    upload_files(boto3.session.Session(), BUCKET, items, engine=engine, expected_bucket_owner=OWNER)
    for item in items:  # what the resume compares against: S3's stored full-object checksum
        stored = bucket.head_object(Bucket=BUCKET, Key=item.key, ChecksumMode="ENABLED")
        assert stored["ChecksumCRC64NVME"] == item.checksum_crc64nvme
    requests.seen.clear()
    progress: list[tuple[int, int]] = []
    again = upload_files(
        boto3.session.Session(),
        BUCKET,
        items,
        engine=engine,
        on_progress=lambda files, nbytes: progress.append((files, nbytes)),
        expected_bucket_owner=OWNER,
    )
    total = sum(item.size for item in items)
    assert (again.uploaded, again.already_present, again.already_present_bytes, again.replaced) == (0, 7, total, 0)
    assert requests.keys("PUT") == []  # no PutObject, no UploadPart
    assert requests.keys("POST") == []  # no multipart upload started
    assert requests.keys("HEAD") == sorted(item.key for item in items)  # one HeadObject per object
    assert (sum(files for files, _ in progress), sum(nbytes for _, nbytes in progress)) == (7, total)
    assert versions(bucket) == {item.key: 1 for item in items}


def large_item(root: Path) -> UploadItem:
    data = os.urandom(upload.PART_SIZE + 1024)
    path = root / "large.dcm"
    path.write_bytes(data)
    return UploadItem(
        path=path, key="imports/d/job-0001/s/large.dcm", size=len(data), checksum_crc64nvme=crc64nvme(data)
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_other_bytes_of_the_same_size_are_uploaded_again(
    bucket: Any, tmp_path: Path, engine: str, requests: Requests
) -> None:
    items = make_items(tmp_path, 4)
    upload_files(boto3.session.Session(), BUCKET, items, engine=engine, expected_bucket_owner=OWNER)
    changed = items[2]
    # written out of band: other bytes of the same size, with their own (correct) CRC64NVME
    bucket.put_object(Bucket=BUCKET, Key=changed.key, Body=os.urandom(changed.size), ChecksumAlgorithm="CRC64NVME")
    stored = bucket.head_object(Bucket=BUCKET, Key=changed.key, ChecksumMode="ENABLED")
    assert stored["ContentLength"] == changed.size
    assert stored["ChecksumCRC64NVME"] != changed.checksum_crc64nvme
    requests.seen.clear()
    report = upload_files(boto3.session.Session(), BUCKET, items, engine=engine, expected_bucket_owner=OWNER)
    assert bucket.get_object(Bucket=BUCKET, Key=changed.key)["Body"].read() == changed.path.read_bytes()
    assert requests.keys("PUT") == [changed.key]
    assert versions(bucket) == {item.key: 3 if item is changed else 1 for item in items}  # nothing lost
    assert (report.uploaded, report.already_present, report.replaced) == (1, 3, 1)


@pytest.mark.parametrize("stored_checksum", ["none", "crc32"])
def test_an_object_without_a_stored_crc64nvme_is_uploaded_again(
    aws_env: AwsEnv, bucket: Any, tmp_path: Path, requests: Requests, stored_checksum: str
) -> None:
    items = make_items(tmp_path, 3)
    upload_files(boto3.session.Session(), BUCKET, items, expected_bucket_owner=OWNER)
    target = items[0]
    # The same bytes, written again by another tool: without any checksum, or with only a CRC32 (boto3's default).
    writer = plain_client(aws_env) if stored_checksum == "none" else bucket
    writer.put_object(Bucket=BUCKET, Key=target.key, Body=target.path.read_bytes())
    stored = bucket.head_object(Bucket=BUCKET, Key=target.key, ChecksumMode="ENABLED")
    assert "ChecksumCRC64NVME" not in stored
    assert ("ChecksumCRC32" in stored) == (stored_checksum == "crc32")
    requests.seen.clear()
    report = upload_files(boto3.session.Session(), BUCKET, items, expected_bucket_owner=OWNER)
    assert requests.keys("PUT") == [target.key]
    stored = bucket.head_object(Bucket=BUCKET, Key=target.key, ChecksumMode="ENABLED")
    assert stored["ChecksumCRC64NVME"] == target.checksum_crc64nvme
    assert (report.uploaded, report.already_present, report.replaced) == (1, 2, 1)
    assert upload_files(boto3.session.Session(), BUCKET, items, expected_bucket_owner=OWNER).already_present == 3


def test_only_objects_of_the_same_size_are_asked_for_their_checksum(
    bucket: Any, tmp_path: Path, requests: Requests
) -> None:
    items = make_items(tmp_path, 4)
    bucket.put_object(Bucket=BUCKET, Key=items[0].key, Body=b"short")
    bucket.put_object(Bucket=BUCKET, Key=items[1].key, Body=os.urandom(items[1].size))
    requests.seen.clear()
    report = upload_files(boto3.session.Session(), BUCKET, items, expected_bucket_owner=OWNER)
    assert (report.uploaded, report.already_present, report.replaced) == (4, 0, 2)
    assert requests.keys("HEAD") == [items[1].key]  # not the other size, not the keys that were not there


def test_items_without_a_checksum_are_compared_by_their_files_crc64nvme(bucket: Any, tmp_path: Path) -> None:
    items = [upload.replace(item, checksum_crc64nvme=None) for item in make_items(tmp_path, 3)]
    first = upload_files(boto3.session.Session(), BUCKET, items, expected_bucket_owner=OWNER)
    assert first.uploaded == 3
    stored = bucket.head_object(Bucket=BUCKET, Key=items[0].key, ChecksumMode="ENABLED")
    assert "ChecksumCRC64NVME" not in stored  # uploaded with the engine's CRC32
    second = upload_files(boto3.session.Session(), BUCKET, items, expected_bucket_owner=OWNER)
    assert (second.uploaded, second.already_present, second.replaced) == (3, 0, 3)  # nothing to compare with
    stored = bucket.head_object(Bucket=BUCKET, Key=items[0].key, ChecksumMode="ENABLED")
    assert stored["ChecksumCRC64NVME"] == crc64nvme(items[0].path.read_bytes())  # the computed value was sent
    third = upload_files(boto3.session.Session(), BUCKET, items, expected_bucket_owner=OWNER)
    assert (third.uploaded, third.already_present) == (0, 3)


def test_checksum_checks_run_concurrently_within_the_limit(
    bucket: Any, tmp_path: Path, moto_server: ObservedMotoServer
) -> None:
    items = make_items(tmp_path, 12)
    upload_files(boto3.session.Session(), BUCKET, items, expected_bucket_owner=OWNER)
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    def slow_heads(method: str, path: str, query: str) -> None:  # runs on the server's request threads
        if method != "HEAD" or not path.startswith(f"/{BUCKET}/"):
            return
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.2)
        with lock:
            state["now"] -= 1

    moto_server.add_observer(slow_heads)
    try:
        report = upload_files(boto3.session.Session(), BUCKET, items, concurrency=4, expected_bucket_owner=OWNER)
    finally:
        moto_server.remove_observer(slow_heads)
    assert report.already_present == 12
    assert 2 <= state["most"] <= 4


def test_an_object_gone_since_the_listing_is_uploaded_and_not_counted_as_replaced(
    bucket: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, requests: Requests
) -> None:
    items = make_items(tmp_path, 3)
    stale_listing = {item.key: item.size for item in items}  # listed, then deleted before the HeadObject
    monkeypatch.setattr(upload, "existing_objects", lambda s3, bucket, prefix, **kwargs: stale_listing)
    report = upload_files(boto3.session.Session(), BUCKET, items, expected_bucket_owner=OWNER)
    assert (report.uploaded, report.already_present, report.replaced) == (3, 0, 0)
    assert requests.keys("HEAD") == sorted(item.key for item in items)
    assert versions(bucket) == {item.key: 1 for item in items}


def test_ctrl_c_while_checking_stops_before_any_upload(bucket: Any, tmp_path: Path, requests: Requests) -> None:
    items = make_items(tmp_path, 20)
    upload_files(boto3.session.Session(), BUCKET, items, expected_bucket_owner=OWNER)
    bucket.put_object(Bucket=BUCKET, Key=items[-1].key, Body=b"short")  # one would be uploaded again
    requests.seen.clear()

    def stop(files: int, nbytes: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(UploadInterrupted) as caught:
        upload_files(
            boto3.session.Session(), BUCKET, items, concurrency=2, on_progress=stop, expected_bucket_owner=OWNER
        )
    assert caught.value.uploaded == 0
    assert 1 <= caught.value.remaining < 20
    assert requests.keys("PUT") == []


def test_a_refused_checksum_check_stops_asking_and_uploads_every_same_size_item(
    aws_env: AwsEnv, tmp_path: Path
) -> None:
    items = make_items(tmp_path, 3)
    s3 = boto3.session.Session().client("s3")
    with Stubber(s3) as stub:
        stub.add_response(
            "list_objects_v2",
            {"Contents": [{"Key": item.key, "Size": item.size} for item in items], "IsTruncated": False},
            {
                "Bucket": BUCKET,
                "Prefix": upload.common_prefix(item.key for item in items),
                "ExpectedBucketOwner": OWNER,
            },
        )
        # One refusal and no more HeadObject: a second call would find no stubbed response and fail the test.
        stub.add_client_error("head_object", service_error_code="403", http_status_code=403)
        check = upload.check_existing(s3, BUCKET, items, concurrency=1, expected_bucket_owner=OWNER)
        stub.assert_no_pending_responses()
    assert [item.key for item in check.to_upload] == [item.key for item in items]
    assert (check.present, check.replacing, check.unverified) == (0, 0, 3)


def test_an_identity_that_may_only_write_uploads_again_and_says_so(
    bucket: Any, tmp_path: Path, requests: Requests
) -> None:
    items = make_items(tmp_path, 3)
    upload_files(boto3.session.Session(), BUCKET, items, expected_bucket_owner=OWNER)
    writer_only = boto3.session.Session()

    def refuse_head_object(**_: Any) -> tuple[Any, dict[str, Any]]:  # S3's answer without s3:GetObject
        response = botocore.awsrequest.AWSResponse("", 403, {}, None)
        return response, {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}

    writer_only.events.register("before-call.s3.HeadObject", refuse_head_object)
    report = upload_files(writer_only, BUCKET, items, expected_bucket_owner=OWNER)
    assert (report.uploaded, report.already_present, report.unverified, report.replaced) == (3, 0, 3, 0)
    assert versions(bucket) == {item.key: 2 for item in items}  # uploaded again, the first copies kept


# ---------------------------------------------------------------- errors read like the tool's other messages


@pytest.mark.parametrize(
    ("name", "message", "words"),
    [
        ("AWS_ERROR_FILE_INVALID_PATH", "Invalid file path.", "it changed or went away during the upload"),
        ("AWS_ERROR_S3_INCORRECT_CONTENT_LENGTH", "", "it changed or went away during the upload"),
        ("AWS_IO_SOCKET_CONNECTION_REFUSED", "socket connection refused.", "S3 could not be reached"),
        ("AWS_ERROR_UNKNOWN", "", "AWS_ERROR_UNKNOWN"),
    ],
)
def test_crt_errors_say_what_happened_and_that_a_rerun_resumes(name: str, message: str, words: str) -> None:
    from awscrt.exceptions import AwsCrtError

    item = UploadItem(path=Path("/data/a.dcm"), key="imports/d/job-0001/a.dcm", size=1)
    error = upload._upload_error(BUCKET, item, AwsCrtError(1, name, message))
    text = str(error)
    assert text.startswith(f"upload '/data/a.dcm' to s3://{BUCKET}/imports/d/job-0001/a.dcm")
    assert words in text
    assert text.endswith("Run the same command again: files already uploaded are not uploaded again.")
    assert "()" not in text
    assert ": ." not in text
    assert ":  " not in text


def test_a_refused_connection_of_the_crt_client_is_a_clear_error(
    aws_env: AwsEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    with pytest.raises(OpsError) as caught:
        upload_files(
            boto3.session.Session(),
            BUCKET,
            make_items(tmp_path, 1),
            engine="crt",
            skip_existing=False,
            expected_bucket_owner=OWNER,
        )
    text = str(caught.value)
    assert "S3 could not be reached" in text
    assert text.endswith("Run the same command again: files already uploaded are not uploaded again.")

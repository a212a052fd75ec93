"""The staging benchmark's S3 endpoint answers boto3 as S3 would, so the benchmark cannot measure failures as speed.

The sink (testkit/fakes/s3_sink.py) keeps sizes and discards bytes; these tests drive it with boto3 (pointed at it
through AWS_ENDPOINT_URL_S3, as the benchmark does) and with hand-framed requests for what boto3 does not send over
plain HTTP (aws-chunked bodies with checksum trailers, as boto3 does over HTTPS and the CRT does everywhere).
"""

from __future__ import annotations

import base64
import http.client
import io
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from testkit.fakes.s3_sink import SinkServer, running_sink

# Every test here serves the sink on loopback.
pytestmark = pytest.mark.server

MIB = 1024 * 1024


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SinkServer]:
    with running_sink() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        yield server


def s3_client() -> Any:
    return boto3.session.Session().client(
        "s3", config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=5, read_timeout=10)
    )


def crc32_base64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def bucket_stats(server: SinkServer, bucket: str) -> dict[str, int]:
    buckets = server.stats()["buckets"]
    assert isinstance(buckets, dict)
    result: dict[str, int] = buckets[bucket]
    return result


def test_put_head_list_and_counts(sink: SinkServer) -> None:
    s3 = s3_client()
    s3.create_bucket(Bucket="stage")
    s3.head_bucket(Bucket="stage")
    bodies = {"imports/a/one.dcm": b"1" * 1000, "imports/a/two words+plus é.dcm": b"2" * 50_000, "top.dcm": b""}
    for key, body in bodies.items():
        s3.put_object(Bucket="stage", Key=key, Body=body)

    head = s3.head_object(Bucket="stage", Key="imports/a/one.dcm", ChecksumMode="ENABLED")
    assert head["ContentLength"] == 1000
    assert head["ChecksumCRC32"] == crc32_base64(b"1" * 1000)  # what boto3 sent by default, kept
    listed = s3.list_objects_v2(Bucket="stage")["Contents"]
    assert {item["Key"]: item["Size"] for item in listed} == {key: len(body) for key, body in bodies.items()}
    assert bucket_stats(sink, "stage") == {"objects": 3, "bytes": 51_000}
    stats = sink.stats()
    assert stats["errors"] == {}
    assert stats["operations"] == {
        "CreateBucket": 1,
        "HeadBucket": 1,
        "PutObject": 3,
        "HeadObject": 1,
        "ListObjectsV2": 1,
    }

    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket="stage", Key="absent.dcm")
    assert missing.value.response["Error"]["Code"] == "404"
    with pytest.raises(ClientError) as no_bucket:
        s3.put_object(Bucket="nowhere", Key="x", Body=b"x")
    assert no_bucket.value.response["Error"]["Code"] == "NoSuchBucket"


def test_multipart_upload_through_the_transfer_manager(sink: SinkServer) -> None:
    s3 = s3_client()
    s3.create_bucket(Bucket="stage")
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=3)
    s3.upload_fileobj(io.BytesIO(b"m" * (12 * MIB + 7)), "stage", "big.dcm", Config=config)

    assert s3.head_object(Bucket="stage", Key="big.dcm")["ContentLength"] == 12 * MIB + 7
    stats = sink.stats()
    assert stats["operations"] == {
        "CreateBucket": 1,
        "CreateMultipartUpload": 1,
        "UploadPart": 3,
        "CompleteMultipartUpload": 1,
        "HeadObject": 1,
    }
    assert stats["open_multipart_uploads"] == 0
    assert stats["errors"] == {}
    assert bucket_stats(sink, "stage") == {"objects": 1, "bytes": 12 * MIB + 7}


def test_multipart_abort_and_a_wrong_part_are_not_counted_as_objects(sink: SinkServer) -> None:
    s3 = s3_client()
    s3.create_bucket(Bucket="stage")
    upload_id = s3.create_multipart_upload(Bucket="stage", Key="a.dcm")["UploadId"]
    etag = s3.upload_part(Bucket="stage", Key="a.dcm", UploadId=upload_id, PartNumber=1, Body=b"p" * 100)["ETag"]
    with pytest.raises(ClientError) as wrong:
        s3.complete_multipart_upload(
            Bucket="stage",
            Key="a.dcm",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"not-the-etag"'}]},
        )
    assert wrong.value.response["Error"]["Code"] == "InvalidPart"
    assert sink.stats()["open_multipart_uploads"] == 1
    s3.abort_multipart_upload(Bucket="stage", Key="a.dcm", UploadId=upload_id)
    assert sink.stats()["open_multipart_uploads"] == 0
    assert etag.startswith('"')
    assert bucket_stats(sink, "stage") == {"objects": 0, "bytes": 0}
    assert sink.stats()["errors"] == {"CompleteMultipartUpload:InvalidPart": 1}


def test_list_objects_v2_pages_prefixes_and_delimiters(sink: SinkServer) -> None:
    s3 = s3_client()
    s3.create_bucket(Bucket="stage")
    keys = [f"imports/d1/job-0001/f{index}.dcm" for index in range(5)] + ["imports/d2/x.dcm", "other.dcm"]
    for key in keys:
        s3.put_object(Bucket="stage", Key=key, Body=key.encode())

    paginator = s3.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket="stage", Prefix="imports/d1/", PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert [item["Key"] for page in pages for item in page["Contents"]] == sorted(keys[:5])
    assert [item["Size"] for page in pages for item in page["Contents"]] == [len(key) for key in sorted(keys[:5])]

    folders = s3.list_objects_v2(Bucket="stage", Prefix="imports/", Delimiter="/")
    assert [item["Prefix"] for item in folders["CommonPrefixes"]] == ["imports/d1/", "imports/d2/"]
    assert "Contents" not in folders


def test_aws_chunked_bodies_with_checksum_trailers(sink: SinkServer) -> None:
    """Both framings clients use: Content-Length around aws-chunked (the CRT) and chunked transfer coding around
    aws-chunked (botocore over HTTPS), with the trailer framing written by botocore's own AwsChunkedWrapper."""
    s3_client().create_bucket(Bucket="stage")
    data = bytes(range(256)) * 9000  # 2.2 MiB: three aws-chunked chunks of botocore's 1 MiB
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-decoded-content-length": str(len(data)),
    }
    encoded = AwsChunkedWrapper(io.BytesIO(data), Crc32Checksum, "x-amz-checksum-crc32").read()
    assert encoded.endswith(f"0\r\nx-amz-checksum-crc32:{crc32_base64(data)}\r\n\r\n".encode())

    with_length = send(sink, "PUT", "/stage/with-length.dcm", encoded, headers)
    with_transfer_chunks = send(
        sink,
        "PUT",
        "/stage/transfer-chunked.dcm",
        AwsChunkedWrapper(io.BytesIO(data), Crc32Checksum, "x-amz-checksum-crc32", chunk_size=300_000),
        headers,
    )
    assert (with_length, with_transfer_chunks) == (200, 200)

    s3 = s3_client()
    for key in ("with-length.dcm", "transfer-chunked.dcm"):
        head = s3.head_object(Bucket="stage", Key=key, ChecksumMode="ENABLED")
        assert head["ContentLength"] == len(data)
        assert head["ChecksumCRC32"] == crc32_base64(data)
    assert bucket_stats(sink, "stage") == {"objects": 2, "bytes": 2 * len(data)}


def test_signed_aws_chunked_body(sink: SinkServer) -> None:
    s3_client().create_bucket(Bucket="stage")
    signature = "0" * 64
    body = (
        f"10;chunk-signature={signature}\r\n".encode()
        + b"A" * 16
        + f"\r\n5;chunk-signature={signature}\r\n".encode()
        + b"B" * 5
        + f"\r\n0;chunk-signature={signature}\r\n\r\n".encode()
    )
    headers = {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "x-amz-decoded-content-length": "21"}
    assert send(sink, "PUT", "/stage/signed.dcm", body, headers) == 200
    assert bucket_stats(sink, "stage") == {"objects": 1, "bytes": 21}


def test_a_broken_aws_chunked_body_is_an_error_not_an_object(sink: SinkServer) -> None:
    s3_client().create_bucket(Bucket="stage")
    body = b"5\r\nhello\r\n0\r\n\r\n"
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "6"}  # says 6, sends 5
    assert send(sink, "PUT", "/stage/short.dcm", body, headers) == 400
    assert send(sink, "PUT", "/stage/bad.dcm", b"zz\r\nhello\r\n0\r\n\r\n", {"Content-Encoding": "aws-chunked"}) == 400
    assert bucket_stats(sink, "stage") == {"objects": 0, "bytes": 0}
    assert sink.stats()["errors"] == {"Framing:BadRequest": 2}


def test_unsupported_operations_fail_visibly(sink: SinkServer) -> None:
    s3 = s3_client()
    s3.create_bucket(Bucket="stage")
    s3.put_object(Bucket="stage", Key="a.dcm", Body=b"x")
    with pytest.raises(ClientError) as get:
        s3.get_object(Bucket="stage", Key="a.dcm")
    assert get.value.response["Error"]["Code"] == "NotImplemented"
    assert sink.stats()["errors"] == {"Unsupported:NotImplemented": 1}


def test_expect_100_continue_is_answered_before_the_body() -> None:
    with running_sink() as server, socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(b"PUT /stage HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        connection.sendall(b"PUT /stage/k HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert connection.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"  # a 5 s timeout, not a hang, if missing
        connection.sendall(b"data")
        assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        assert bucket_stats(server, "stage") == {"objects": 1, "bytes": 4}


def test_only_loopback_addresses_are_accepted() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        SinkServer(host="0.0.0.0")


def send(server: SinkServer, method: str, path: str, body: bytes | AwsChunkedWrapper, headers: dict[str, str]) -> int:
    """Send one raw request; a body that is not bytes goes out with chunked transfer coding. Returns the status."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        if isinstance(body, bytes):
            connection.request(method, path, body=body, headers=headers)
        else:
            connection.request(method, path, body=iter(body), headers=headers, encode_chunked=True)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()

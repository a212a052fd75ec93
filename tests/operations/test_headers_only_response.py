"""The proxy reads the DICOMweb host's answers with http.client, their heads parsed as headers only: the same status,
headers and body framing as http.client's own response, for every kind of answer head."""

from __future__ import annotations

import http.client
import io

import pytest

from ahiops.upstream_pool import HeadersOnlyResponse

MULTIPART = 'multipart/related; type="application/octet-stream"; boundary=5f0c2a9e61b54f0c9d3a0e7b1c2d3e4f'


class BytesSocket:
    """What http.client's response reads from: ``makefile`` over fixed bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self.data))


HEADS = {
    "multipart with a length": f"HTTP/1.1 200 OK\r\nContent-Type: {MULTIPART}\r\nContent-Length: 5\r\n\r\nparts",
    "chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/dicom+json\r\n\r\n"
    "2\r\n[]\r\n0\r\n\r\n",
    "no length: ends with the connection": "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}",
    "connection close": "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno",
    "HTTP/1.0 keep-alive": "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    "not modified": 'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n\r\n',
    "100 continue first": "HTTP/1.1 100 Continue\r\nX-Skipped: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "repeated header": "HTTP/1.1 200 OK\r\nX-Amz-Id: a\r\nX-Amz-Id: b\r\nContent-Length: 0\r\n\r\n",
}


def opened(response_class: type[http.client.HTTPResponse], head: str, method: str) -> http.client.HTTPResponse:
    response = response_class(BytesSocket(head.encode("iso-8859-1")), method=method)  # type: ignore[arg-type]
    response.begin()
    return response


def observed(response: http.client.HTTPResponse) -> dict[str, object]:
    return {
        "status": response.status,
        "reason": response.reason,
        "version": response.version,
        "headers": response.getheaders(),
        "length": response.length,
        "chunked": response.chunked,
        "will_close": response.will_close,
        "body": response.read(),
    }


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("head", list(HEADS.values()), ids=list(HEADS))
def test_an_answer_reads_as_with_http_client(head: str, method: str) -> None:
    assert observed(opened(HeadersOnlyResponse, head, method)) == observed(
        opened(http.client.HTTPResponse, head, method)
    )


def test_a_multipart_head_is_not_parsed_for_its_parts() -> None:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {MULTIPART}\r\nContent-Length: 0\r\n\r\n"
    response = opened(HeadersOnlyResponse, head, "GET")
    assert response.headers.get_content_type() == "multipart/related"
    assert not response.headers.is_multipart()
    assert response.headers.defects == []
    # http.client's own response has parsed the (empty) body for its parts and found the closing boundary missing.
    assert opened(http.client.HTTPResponse, head, "GET").headers.defects != []


def test_a_response_of_another_protocol_is_refused() -> None:
    with pytest.raises(http.client.UnknownProtocol):
        opened(HeadersOnlyResponse, "HTTP/2.0 200 OK\r\n\r\n", "GET")

"""The viewer's server on 127.0.0.1: every security rule, and what it forwards (signed) to the DICOMweb service (the
HealthImaging emulator serving pydicom's sample CT)."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.credentials import ReadOnlyCredentials

from ahiops import viewer_rules
from ahiops.viewer_server import CHUNK_BYTES, ViewerServer, ViewerSettings
from testkit.dicomweb_client import ServedSample

pytestmark = pytest.mark.server

APP_CONFIG = b"window.config = {};\n"


def dummy_credentials() -> ReadOnlyCredentials:
    return ReadOnlyCredentials("testing", "testing", None)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    (app / "assets").mkdir(parents=True)
    (app / "index.html").write_text("<!doctype html><title>viewer</title>")
    (app / "assets" / "main.js").write_text("console.log('viewer');")
    (tmp_path / "private.txt").write_text("not part of the app")
    (app / "escape.txt").symlink_to(tmp_path / "private.txt")
    return app


@pytest.fixture
def viewer(served_sample: ServedSample, app_dir: Path) -> Iterator[ViewerServer]:
    server = ViewerServer(
        ViewerSettings(
            datastore_id=served_sample.datastore_id,
            dicomweb_root=served_sample.root,
            region="us-east-1",
            credentials=dummy_credentials,
            app_dir=app_dir,
            app_config=APP_CONFIG,
        )
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def request(
    server: ViewerServer,
    path: str,
    *,
    method: str = "GET",
    cookie: bool = True,
    host: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: status, headers (lower-case names), body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host or f"127.0.0.1:{server.port}")
        if cookie:
            connection.putheader("Cookie", f"{viewer_rules.cookie_name(server.port)}={server.settings.secret}")
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, body
    finally:
        connection.close()


def root_path(origin: ServedSample, rest: str = "/studies") -> str:
    return f"/datastore/{origin.datastore_id}{rest}"


# --- the listener -------------------------------------------------------------------------------------------------


def test_listens_on_127_0_0_1_only(viewer: ViewerServer) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", viewer.port), timeout=5).close()
    socket.create_connection(("127.0.0.1", viewer.port), timeout=5).close()


def test_a_port_in_use_is_an_os_error(viewer: ViewerServer, served_sample: ServedSample) -> None:
    other = ViewerServer(
        ViewerSettings(
            datastore_id=served_sample.datastore_id,
            dicomweb_root=served_sample.root,
            region="us-east-1",
            credentials=dummy_credentials,
            app_dir=None,
            port=viewer.port,
        )
    )
    with pytest.raises(OSError, match="in use"):
        other.start()


# --- the secret -------------------------------------------------------------------------------------------------


def test_without_the_secret_the_app_is_refused(viewer: ViewerServer) -> None:
    status, _, body = request(viewer, "/", cookie=False)
    assert status == 403
    assert b"ahictl view" in body


def test_without_the_secret_nothing_is_forwarded(viewer: ViewerServer, served_sample: ServedSample) -> None:
    status, _, _ = request(viewer, root_path(served_sample), cookie=False)
    assert status == 403
    assert served_sample.arrived == []


def test_a_wrong_secret_in_the_cookie_is_refused(viewer: ViewerServer, served_sample: ServedSample) -> None:
    wrong = f"{viewer_rules.cookie_name(viewer.port)}={viewer.settings.secret[:-1]}x"
    status, _, _ = request(viewer, root_path(served_sample), cookie=False, headers={"Cookie": wrong})
    assert status == 403
    assert served_sample.arrived == []


def test_the_cookie_of_another_port_is_refused(viewer: ViewerServer) -> None:
    other = f"{viewer_rules.cookie_name(viewer.port + 1)}={viewer.settings.secret}"
    status, _, _ = request(viewer, "/", cookie=False, headers={"Cookie": other})
    assert status == 403


def test_the_printed_url_sets_an_httponly_strict_cookie_and_leaves_the_secret_behind(viewer: ViewerServer) -> None:
    url = viewer.open_url()
    status, headers, _ = request(viewer, url.split(str(viewer.port), 1)[1], cookie=False)
    assert status == 303
    assert headers["location"] == "/"
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{viewer_rules.cookie_name(viewer.port)}={viewer.settings.secret};")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


def test_the_printed_url_with_a_study_opens_that_study(viewer: ViewerServer) -> None:
    url = viewer.open_url("1.2.3.4")
    status, headers, _ = request(viewer, url.split(str(viewer.port), 1)[1], cookie=False)
    assert status == 303
    assert headers["location"] == "/viewer?StudyInstanceUIDs=1.2.3.4"


def test_the_open_path_with_a_wrong_secret_sets_no_cookie(viewer: ViewerServer) -> None:
    status, headers, _ = request(viewer, f"{viewer_rules.OPEN_PATH}?key=guess", cookie=False)
    assert status == 403
    assert "set-cookie" not in headers


def test_each_run_has_a_new_long_secret(served_sample: ServedSample) -> None:
    def settings() -> ViewerSettings:
        return ViewerSettings(served_sample.datastore_id, served_sample.root, "us-east-1", dummy_credentials, None)

    first, second = settings().secret, settings().secret
    assert first != second
    assert len(first) >= 40


# --- Host (DNS rebinding) -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["attacker.example:{port}", "localhost:{port}", "127.0.0.1:1", "127.0.0.1", ""])
def test_a_foreign_host_header_is_refused_even_with_the_secret(
    viewer: ViewerServer, served_sample: ServedSample, host: str
) -> None:
    status, _, body = request(viewer, root_path(served_sample), host=host.format(port=viewer.port) or " ")
    assert status == 403
    assert f"127.0.0.1:{viewer.port}".encode() in body
    assert served_sample.arrived == []


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_a_request_from_another_site_or_port_is_refused_even_with_the_secret(
    viewer: ViewerServer, served_sample: ServedSample, site: str
) -> None:
    status, _, body = request(viewer, root_path(served_sample), headers={"Sec-Fetch-Site": site})
    assert status == 403
    assert b"only the viewer's own page" in body
    assert served_sample.arrived == []


@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_the_viewers_own_requests_and_the_users_navigation_are_answered(
    viewer: ViewerServer, served_sample: ServedSample, site: str
) -> None:
    assert request(viewer, root_path(served_sample), headers={"Sec-Fetch-Site": site})[0] == 200


# --- methods -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_head_are_answered(viewer: ViewerServer, served_sample: ServedSample, method: str) -> None:
    status, headers, _ = request(viewer, root_path(served_sample), method=method, headers={"Content-Length": "0"})
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert served_sample.arrived == []


# --- paths ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/datastore/ffffffffffffffffffffffffffffffff/studies",
        "/datastore/{id}",
        "/datastore/{id}/",
        "/datastore/{id}/studiesX",
        "/datastore/{id}/series",
        "/datastore",
    ],
)
def test_a_path_outside_this_data_stores_studies_is_not_forwarded(
    viewer: ViewerServer, served_sample: ServedSample, path: str
) -> None:
    status, _, body = request(viewer, path.format(id=served_sample.datastore_id))
    assert status == 404
    assert b"forwarded" in body
    assert served_sample.arrived == []


@pytest.mark.parametrize(
    "rest",
    [
        "/studies/../../other/studies",
        "/studies/%2e%2e/%2e%2e/x",
        "/studies/..%2f..%2fx",
        "/studies/..%5c..%5cx",
        "/studies//x",
        "/studies/./x",
        "/studies/%00",
    ],
)
def test_path_traversal_is_refused(viewer: ViewerServer, served_sample: ServedSample, rest: str) -> None:
    status, _, _ = request(viewer, root_path(served_sample, rest))
    assert status == 400
    assert served_sample.arrived == []


@pytest.mark.parametrize("path", ["/../private.txt", "/assets/%2e%2e/%2e%2e/private.txt", "http://127.0.0.1/x"])
def test_traversal_out_of_the_app_is_refused(viewer: ViewerServer, path: str) -> None:
    status, _, body = request(viewer, path)
    assert status == 400
    assert b"not part of the app" not in body


def test_a_symlink_out_of_the_app_is_not_followed(viewer: ViewerServer) -> None:
    status, _, body = request(viewer, "/escape.txt")
    assert status == 200
    assert b"not part of the app" not in body
    assert body.startswith(b"<!doctype html>")


# --- the app -------------------------------------------------------------------------------------------------------


def test_the_app_files_and_the_generated_config_are_served(viewer: ViewerServer) -> None:
    status, headers, body = request(viewer, "/assets/main.js")
    assert (status, headers["content-type"], body) == (200, "text/javascript", b"console.log('viewer');")
    assert request(viewer, "/app-config.js")[2] == APP_CONFIG


def test_unknown_paths_are_answered_with_index_html(viewer: ViewerServer) -> None:
    status, _, body = request(viewer, "/viewer/anything")
    assert status == 200
    assert body == b"<!doctype html><title>viewer</title>"


def test_no_cors_headers_even_for_a_foreign_origin(viewer: ViewerServer, served_sample: ServedSample) -> None:
    status, headers, _ = request(viewer, root_path(served_sample), headers={"Origin": "https://attacker.example"})
    assert status == 200
    assert not [name for name in headers if name.startswith("access-control-")]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


# --- forwarding ----------------------------------------------------------------------------------------------------


def test_a_search_is_forwarded_signed(viewer: ViewerServer, served_sample: ServedSample) -> None:
    status, headers, body = request(viewer, root_path(served_sample, "/studies?includefield=00081030%2C00080060"))
    assert status == 200
    assert served_sample.study_uid.encode() in body
    assert headers["content-type"] == "application/dicom+json"
    [judged] = served_sample.emulator.dicomweb.requests
    assert (judged.signed, judged.status) == (True, 200)
    [arrived] = served_sample.arrived
    assert arrived.query == "includefield=00081030%2C00080060"


def test_the_cookie_and_other_headers_never_reach_the_origin(viewer: ViewerServer, served_sample: ServedSample) -> None:
    request(viewer, root_path(served_sample), headers={"X-Custom": "1", "Authorization": "Bearer stolen"})
    [judged] = served_sample.emulator.dicomweb.requests
    assert (judged.signed, judged.status) == (True, 200)
    [arrived] = served_sample.arrived
    assert "cookie" not in arrived.headers
    assert "x-custom" not in arrived.headers
    assert arrived.headers["authorization"].startswith("AWS4-HMAC-SHA256 ")


def test_the_origins_cookies_and_cors_headers_are_not_passed_on(
    viewer: ViewerServer, served_sample: ServedSample
) -> None:
    served_sample.extra_response_headers.update(
        {"Set-Cookie": "tracker=1", "Access-Control-Allow-Origin": "*", "X-Amz-Id": "1"}
    )
    status, headers, _ = request(viewer, root_path(served_sample))
    assert status == 200
    assert "set-cookie" not in headers
    assert "access-control-allow-origin" not in headers
    assert "x-amz-id" not in headers


def test_a_frame_is_streamed_back_whole(viewer: ViewerServer, served_sample: ServedSample) -> None:
    accept = "multipart/related; type=application/octet-stream; transfer-syntax=*"
    status, headers, body = request(
        viewer, root_path(served_sample, served_sample.frame_path()), headers={"Accept": accept}
    )
    assert status == 200
    assert headers["content-type"].startswith("multipart/related")
    assert bytes(served_sample.sample.PixelData) in body
    assert headers["cache-control"] == "no-store"


def test_head_is_forwarded_as_head(viewer: ViewerServer, served_sample: ServedSample) -> None:
    status, _, body = request(viewer, root_path(served_sample), method="HEAD")
    assert (status, body) == (200, b"")
    assert [(seen.method, seen.status) for seen in served_sample.emulator.dicomweb.requests] == [("HEAD", 200)]


def test_the_origins_refusal_is_passed_on(served_sample: ServedSample, app_dir: Path) -> None:
    def wrong_key() -> ReadOnlyCredentials:
        return ReadOnlyCredentials("testing", "not-the-secret-key", None)

    settings = ViewerSettings(served_sample.datastore_id, served_sample.root, "us-east-1", wrong_key, app_dir)
    with ViewerServer(settings) as server:
        status, _, body = request(server, root_path(served_sample))
    assert status == 403
    assert b"signature we calculated does not match" in body


def test_credentials_are_taken_for_every_request(served_sample: ServedSample, app_dir: Path) -> None:
    tokens = iter(["session-token-1", "session-token-2"])

    def refreshed() -> ReadOnlyCredentials:
        return ReadOnlyCredentials("testing", "testing", next(tokens))

    settings = ViewerSettings(served_sample.datastore_id, served_sample.root, "us-east-1", refreshed, app_dir)
    with ViewerServer(settings) as server:
        request(server, root_path(served_sample))
        request(server, root_path(served_sample))
    sent = [arrived.headers.get("x-amz-security-token") for arrived in served_sample.arrived]
    assert sent == ["session-token-1", "session-token-2"]
    assert all("x-amz-security-token" in arrived.headers["authorization"] for arrived in served_sample.arrived)


def test_a_signing_failure_is_reported_without_its_detail(served_sample: ServedSample, app_dir: Path) -> None:
    problems: list[str] = []

    def expired() -> ReadOnlyCredentials:
        raise RuntimeError("token eyJhbGciOi-secret-token-text expired")

    settings = ViewerSettings(
        served_sample.datastore_id, served_sample.root, "us-east-1", expired, app_dir, on_problem=problems.append
    )
    with ViewerServer(settings) as server:
        status, _, body = request(server, root_path(served_sample))
    assert status == 502
    assert b"signed" in body
    assert len(problems) == 1
    assert "sign in again" in problems[0]
    assert "secret-token-text" not in problems[0]
    assert served_sample.arrived == []


def test_an_unreachable_origin_is_a_502(served_sample: ServedSample, app_dir: Path) -> None:
    problems: list[str] = []
    settings = ViewerSettings(
        served_sample.datastore_id,
        served_sample.root,
        "us-east-1",
        dummy_credentials,
        app_dir,
        on_problem=problems.append,
    )
    served_sample.stop()
    with ViewerServer(settings) as server:
        status, _, _ = request(server, root_path(served_sample))
    assert status == 502
    assert len(problems) == 1
    assert "could not be reached" in problems[0]


def test_nothing_is_logged(
    viewer: ViewerServer, served_sample: ServedSample, capfd: pytest.CaptureFixture[str]
) -> None:
    open_path = viewer.open_url().split(str(viewer.port), 1)[1]
    request(viewer, open_path, cookie=False)
    request(viewer, root_path(served_sample))
    request(viewer, "/", cookie=False)
    captured = capfd.readouterr()
    assert viewer.settings.secret not in captured.out + captured.err
    assert captured.err == ""


def test_32_parallel_frame_requests_on_reused_connections(viewer: ViewerServer, served_sample: ServedSample) -> None:
    path = root_path(served_sample, served_sample.frame_path())
    local = threading.local()

    def fetch_twice(_: int) -> list[int]:
        connection = getattr(local, "connection", None) or http.client.HTTPConnection(
            "127.0.0.1", viewer.port, timeout=30
        )
        local.connection = connection
        statuses = []
        for _repeat in range(2):  # the second request goes over the same connection (keep-alive)
            connection.request(
                "GET", path, headers={"Cookie": f"{viewer_rules.cookie_name(viewer.port)}={viewer.settings.secret}"}
            )
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
        return statuses

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(fetch_twice, range(32)))
    assert results == [[200, 200]] * 32
    judged = served_sample.emulator.dicomweb.requests
    assert len(judged) == 64
    assert all(seen.signed and seen.status == 200 for seen in judged)


#: The data store the proxy tests' stand-in origins serve.
ORIGIN_DATASTORE = "0123456789abcdef0123456789abcdef"


@contextlib.contextmanager
def proxy_to(handler: type[BaseHTTPRequestHandler], app_dir: Path) -> Iterator[ViewerServer]:
    """A stand-in DICOMweb host answering with ``handler`` on 127.0.0.1, and the viewer's proxy in front of it; both
    stopped when the block ends."""
    origin = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=origin.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    root = f"http://127.0.0.1:{origin.server_address[1]}/datastore/{ORIGIN_DATASTORE}"
    try:
        with ViewerServer(ViewerSettings(ORIGIN_DATASTORE, root, "us-east-1", dummy_credentials, app_dir)) as server:
            yield server
    finally:
        origin.shutdown()
        origin.server_close()


class _ChunkedOrigin(BaseHTTPRequestHandler):
    """Answers every GET with a body in three chunks and no Content-Length, as a streaming service may."""

    protocol_version = "HTTP/1.1"
    chunks = (b"first-", b"x" * 300_000, b"-last")

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in self.chunks:
            self.wfile.write(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_chunked_answer_is_passed_on_chunked_and_whole(app_dir: Path) -> None:
    with proxy_to(_ChunkedOrigin, app_dir) as server:
        first = request(server, f"/datastore/{ORIGIN_DATASTORE}/studies")
        second = request(server, f"/datastore/{ORIGIN_DATASTORE}/studies")
    for status, headers, body in (first, second):
        assert status == 200
        assert headers["transfer-encoding"] == "chunked"
        assert body == b"".join(_ChunkedOrigin.chunks)


class _LengthOrigin(BaseHTTPRequestHandler):
    """Answers ``.../studies/<n>`` with ``n`` bytes of a pattern that never repeats at the buffer's size, and a
    Content-Length; ``.../studies/<n>/padded`` with long headers too (a head longer than half the buffer)."""

    protocol_version = "HTTP/1.1"
    padding = "p" * 60_000

    @staticmethod
    def body(size: int) -> bytes:
        return bytes(index * 7 % 251 for index in range(size))

    def do_GET(self) -> None:
        size, _, padded = self.path.split("/studies/", 1)[1].partition("/")
        body = self.body(int(size))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if padded:
            for name in ("ETag", "Last-Modified", "Content-Encoding"):
                self.send_header(name, self.padding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_answers_longer_and_shorter_than_the_buffer_arrive_whole_on_one_connection(app_dir: Path) -> None:
    sizes = [2 * CHUNK_BYTES + 12_345, 10, 0, CHUNK_BYTES]
    with proxy_to(_LengthOrigin, app_dir) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        cookie = f"{viewer_rules.cookie_name(server.port)}={server.settings.secret}"
        bodies = []
        for size in sizes:
            connection.request("GET", f"/datastore/{ORIGIN_DATASTORE}/studies/{size}", headers={"Cookie": cookie})
            response = connection.getresponse()
            assert (response.status, response.getheader("Content-Length")) == (200, str(size))
            bodies.append(response.read())
        connection.close()
    assert bodies == [_LengthOrigin.body(size) for size in sizes]


def test_an_answer_with_a_head_longer_than_half_the_buffer_arrives_whole(app_dir: Path) -> None:
    with proxy_to(_LengthOrigin, app_dir) as server:
        status, headers, body = request(server, f"/datastore/{ORIGIN_DATASTORE}/studies/{CHUNK_BYTES + 5}/padded")
    assert status == 200
    assert 3 * len(_LengthOrigin.padding) > CHUNK_BYTES // 2
    assert headers["etag"] == headers["last-modified"] == headers["content-encoding"] == _LengthOrigin.padding
    assert body == _LengthOrigin.body(CHUNK_BYTES + 5)


def test_a_browser_that_goes_away_mid_answer_leaves_nothing_running(app_dir: Path) -> None:
    size = 64 * CHUNK_BYTES  # more than the sockets' buffers hold: the relay is mid-answer when the browser leaves
    with proxy_to(_LengthOrigin, app_dir) as server:
        cookie = f"{viewer_rules.cookie_name(server.port)}={server.settings.secret}"
        browser = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        browser.sendall(
            f"GET /datastore/{ORIGIN_DATASTORE}/studies/{size} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Cookie: {cookie}\r\n\r\n".encode()
        )
        assert browser.recv(12) == b"HTTP/1.1 200"
        browser.close()
        deadline = time.monotonic() + 10
        while _serving_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _serving_threads() == []
        status, _, body = request(server, f"/datastore/{ORIGIN_DATASTORE}/studies/{CHUNK_BYTES}")
    assert (status, body) == (200, _LengthOrigin.body(CHUNK_BYTES))


def _serving_threads() -> list[threading.Thread]:
    """The threads answering a connection, of the viewer's server or of the origin."""
    return [thread for thread in threading.enumerate() if "process_request_thread" in thread.name]


class _CuttingOrigin(BaseHTTPRequestHandler):
    """Announces 1,000 bytes, sends 500 and closes the connection, as a host that fails mid-answer."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"x" * 500)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        return


def test_an_answer_the_origin_cuts_short_ends_the_browsers_connection(app_dir: Path) -> None:
    with proxy_to(_CuttingOrigin, app_dir) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        cookie = f"{viewer_rules.cookie_name(server.port)}={server.settings.secret}"
        connection.request("GET", f"/datastore/{ORIGIN_DATASTORE}/studies", headers={"Cookie": cookie})
        response = connection.getresponse()
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()
        connection.close()
    assert cut.value.partial == b"x" * 500

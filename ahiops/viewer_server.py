"""The local viewer's server on 127.0.0.1: the viewer app's files, and its DICOMweb requests forwarded signed.

One HTTP/1.1 server (a thread per connection, keep-alive) answers the browser. Requests under
``/datastore/<this data store>/studies`` are signed with SigV4 (credentials taken fresh from the session for every
request, so refreshed temporary credentials and SSO keep working) and sent to the data store's DICOMweb root over a
pool of reused connections (:mod:`ahiops.upstream_pool`); the answer is streamed back in chunks through one buffer
per browser connection, its head in the same write as the body's first bytes. Everything else is a file of the
viewer app (``app-config.js`` generated, unknown paths answered with ``index.html``). What is answered at all is
decided by :mod:`ahiops.viewer_rules`. Nothing is logged: request targets carry the secret, and answers carry PHI.
"""

from __future__ import annotations

import http.client
import io
import mimetypes
import secrets
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from . import viewer_rules
from .dicomweb import SIGNING_NAME
from .upstream_pool import UpstreamPool

#: Parallel requests to the DICOMweb host (connections kept in the pool); OHIF asks for frames in parallel, and
#: Chromium opens at most 6 connections to the viewer's server: more requests wait for a free connection.
UPSTREAM_CONNECTIONS = 32
#: Bytes read from the DICOMweb host and written to the browser at a time (the relay buffer of each browser
#: connection).
CHUNK_BYTES = 256 * 1024
#: Seconds to connect to the DICOMweb host, and to wait for its next bytes.
CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 120.0
#: Seconds an idle browser connection is kept open.
IDLE_TIMEOUT_SECONDS = 120.0
#: Request headers passed to the DICOMweb host (the rest, cookies above all, never leave this machine).
FORWARDED_REQUEST_HEADERS = ("Accept",)
#: Response headers passed back to the browser (no cookies, no CORS, nothing else of AWS's).
FORWARDED_RESPONSE_HEADERS = ("Content-Type", "Content-Length", "Content-Encoding", "ETag", "Last-Modified")
#: On every answer: nothing cached on disk, no sniffing, no framing by other pages, no referrer, and the page may
#: load and fetch from this server only (the viewer makes no call to the internet).
SECURITY_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    (
        "Content-Security-Policy",
        "default-src 'self' blob: data:; script-src 'self' 'unsafe-inline' 'unsafe-eval' 'wasm-unsafe-eval' blob:; "
        "style-src 'self' 'unsafe-inline'; connect-src 'self' blob: data:; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'self'",
    ),
)
_CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".css": "text/css",
    ".html": "text/html; charset=utf-8",
    ".woff2": "font/woff2",
    ".map": "application/json",
}
APP_CONFIG_PATH = "/app-config.js"

#: Returns the credentials to sign one request with (for example ``session.get_credentials().get_frozen_credentials``).
CredentialSource = Callable[[], ReadOnlyCredentials]


@dataclass
class ViewerSettings:
    """What one run of the viewer's server serves and where it forwards."""

    datastore_id: str
    #: The data store's DICOMweb root, ``https://dicom-medical-imaging.<region>.amazonaws.com/datastore/<id>``.
    dicomweb_root: str
    #: The region in the signature's scope.
    region: str
    credentials: CredentialSource
    #: The viewer app's files (``index.html`` at the top), or None to serve DICOMweb only.
    app_dir: Path | None
    #: The generated ``app-config.js``, served instead of the app's own.
    app_config: bytes = b""
    #: 0: a free port.
    port: int = 0
    #: The run's secret (a new random one by default).
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    #: Called with a one-line message when a request could not be signed or forwarded (no PHI, no secret in it).
    on_problem: Callable[[str], None] | None = None
    #: Verify the DICOMweb host's TLS certificate against this CA bundle (None: the system's).
    ca_bundle: str | None = None
    #: Reach the DICOMweb host through this HTTP proxy (``http://host:port``; None: directly).
    proxy: str | None = None


class ViewerServer:
    """The viewer's server: :meth:`start` listens on 127.0.0.1, :meth:`stop` closes it (both idempotent)."""

    def __init__(self, settings: ViewerSettings) -> None:
        self.settings = settings
        self.upstream = UpstreamPool(
            settings.dicomweb_root,
            size=UPSTREAM_CONNECTIONS,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
            ca_bundle=settings.ca_bundle,
            proxy=settings.proxy,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._reported: set[str] = set()
        self._report_lock = threading.Lock()

    # --- life cycle -------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Listen on 127.0.0.1 (OSError when the port is taken) and answer in a background thread."""
        if self._server is not None:
            return
        self._server = _Server(("127.0.0.1", self.settings.port), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="viewer-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self.upstream.clear()

    def __enter__(self) -> ViewerServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the viewer server is not started")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://{viewer_rules.expected_host(self.port)}"

    def open_url(self, study_uid: str | None = None) -> str:
        """The URL to print: opens the viewer (on ``study_uid``) and hands the browser the secret."""
        return viewer_rules.open_url(self.port, self.settings.secret, study_uid)

    # --- forwarding -------------------------------------------------------------------------------------------
    def signed_headers(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        """``headers`` plus the SigV4 signature of ``method url`` with the current credentials."""
        request = AWSRequest(method=method, url=url, headers=headers)
        SigV4Auth(self.settings.credentials(), SIGNING_NAME, self.settings.region).add_auth(request)
        return dict(request.headers.items())

    def report(self, message: str) -> None:
        """Tell the user about a problem once (the same message is not repeated for every frame)."""
        with self._report_lock:
            if message in self._reported:
                return
            self._reported.add(message)
        if self.settings.on_problem is not None:
            self.settings.on_problem(message)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], viewer: ViewerServer) -> None:
        self.viewer = viewer
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser that closes a connection mid-answer is normal; anything else is reported in one line, without
        # the request (it may carry the secret).
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError | TimeoutError):
            self.viewer.report(f"the viewer's server failed on a request: {type(error).__name__}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ahictl-view"
    sys_version = ""
    timeout = IDLE_TIMEOUT_SECONDS
    # Headers and body go out in separate writes: without TCP_NODELAY the body waits for the browser's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server
    _buffer: memoryview | None = None

    # Nothing is logged: request lines carry the secret (the open URL) and DICOM UIDs.
    def log_message(self, format: str, *args: Any) -> None:
        return

    @property
    def viewer(self) -> ViewerServer:
        return self.server.viewer

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def _refuse_method(self) -> None:
        self._plain(405, "only GET and HEAD are answered", extra=(("Allow", ", ".join(viewer_rules.ALLOWED_METHODS)),))

    # --- the rules, in order ---------------------------------------------------------------------------------
    def _answer(self) -> None:
        port = self.viewer.port
        if not viewer_rules.host_allowed(self.headers.get_all("Host") or [], port):
            self._plain(403, f"only requests to {viewer_rules.expected_host(port)} are answered")
            return
        if not viewer_rules.fetch_site_allowed(self.headers.get_all("Sec-Fetch-Site") or []):
            self._plain(
                403,
                "only the viewer's own page is answered: paste the URL that `ahictl view` printed into the address bar",
            )
            return
        try:
            target = viewer_rules.parse_target(self.path)
        except viewer_rules.RefusedPathError as refused:
            self._plain(refused.status, str(refused))
            return
        secret = self.viewer.settings.secret
        if target.path == viewer_rules.OPEN_PATH:
            self._open(target, secret, port)
            return
        if not viewer_rules.secret_matches(
            viewer_rules.cookie_secret(self.headers.get_all("Cookie") or [], port), secret
        ):
            self._plain(403, "open the URL that `ahictl view` printed")
            return
        if viewer_rules.is_dicomweb_path(target.path):
            try:
                rest = viewer_rules.dicomweb_rest(target.path, self.viewer.settings.datastore_id)
            except viewer_rules.RefusedPathError as refused:
                self._plain(refused.status, str(refused))
                return
            self._forward(rest, target.query)
            return
        self._static(target.path)

    def _open(self, target: viewer_rules.Target, secret: str, port: int) -> None:
        """The printed URL: a right secret sets the cookie and redirects to the viewer (the secret leaves the
        address bar); a wrong or missing one is refused."""
        parameters = dict(target.query)
        if not viewer_rules.secret_matches(parameters.get(viewer_rules.SECRET_PARAMETER), secret):
            self._plain(403, "open the URL that `ahictl view` printed")
            return
        study = parameters.get(viewer_rules.STUDY_PARAMETER)
        if study is not None and viewer_rules.study_uid_problem(study):
            self._plain(400, "the study is not a DICOM UID")
            return
        self.send_response(303)
        self.send_header("Location", viewer_rules.viewer_path_for_study(study))
        self.send_header("Set-Cookie", viewer_rules.set_cookie_header(secret, port))
        self.send_header("Content-Length", "0")
        self._security_headers()
        self.end_headers()

    # --- answers ----------------------------------------------------------------------------------------------
    def _security_headers(self) -> None:
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)

    def _plain(self, status: int, text: str, extra: tuple[tuple[str, str], ...] = ()) -> None:
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        if status >= 400:
            # A refused request may have a body this server never reads: the connection ends with the answer.
            self.send_header("Connection", "close")
            self.close_connection = True
        self._security_headers()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, rest: str, query: list[tuple[str, str]]) -> None:
        viewer = self.viewer
        root = viewer.settings.dicomweb_root
        encoded = viewer_rules.encoded_query(query)
        target = urlsplit(root).path + rest + (f"?{encoded}" if encoded else "")
        headers = {name: value for name in FORWARDED_REQUEST_HEADERS if (value := self.headers.get(name)) is not None}
        try:
            signed = viewer.signed_headers(self.command, root + rest + (f"?{encoded}" if encoded else ""), headers)
        except Exception as error:  # credentials errors of any provider: no traceback, no detail
            viewer.report(_credentials_problem(error))
            self._plain(502, "the request could not be signed: see the terminal of `ahictl view`")
            return
        try:
            connection, response = viewer.upstream.request(self.command, target, signed)
        except (OSError, http.client.HTTPException) as error:
            viewer.report(f"the DICOMweb host could not be reached: {type(error).__name__}")
            self._plain(502, "the DICOMweb host could not be reached")
            return
        try:
            self._relay(response)
        finally:
            viewer.upstream.release(connection, response)

    def _relay(self, response: http.client.HTTPResponse) -> None:
        """Send the origin's status, the allowed headers and the body, read into this connection's buffer and written
        from it; an answer of known length goes out with its head in the same write as the body's first bytes."""
        self.send_response(response.status)
        for name in FORWARDED_RESPONSE_HEADERS:
            value = response.getheader(name)
            if value is not None:
                self.send_header(name, value)
        bodiless = self.command == "HEAD" or response.status in (204, 304)
        chunked = response.getheader("Content-Length") is None and not bodiless
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif response.getheader("Content-Length") is None:
            self.send_header("Content-Length", "0")
        self._security_headers()
        head = self._ended_head()
        if bodiless:
            self.wfile.write(head)
            response.read()
            return
        view = self._relay_view()
        try:
            if chunked:
                self.wfile.write(head)
                while count := response.readinto(view):
                    self.wfile.write(f"{count:X}\r\n".encode())
                    self.wfile.write(view[:count])
                    self.wfile.write(b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            # One write for the head and the body's first bytes: one packet fewer for the browser to wake up for.
            start = len(head) if len(head) <= len(view) // 2 else 0
            if start:
                view[:start] = head
            else:
                self.wfile.write(head)
            count = response.readinto(view[start:])
            self.wfile.write(view[: start + count])
            while count := response.readinto(view):
                self.wfile.write(view[:count])
            if response.length:
                # The origin closed the connection before the end of its answer: so does this server, or the browser
                # would wait for the rest.
                self.close_connection = True
        except (OSError, http.client.HTTPException):
            # The origin broke off mid-answer, or the browser went away: the browser sees the connection end. The
            # answer is left unread, so the pool closes its connection to the origin too.
            self.close_connection = True

    def _ended_head(self) -> bytes:
        """The answer's head as http.server ends it (:meth:`end_headers`), taken instead of written."""
        wfile, self.wfile = self.wfile, io.BytesIO()
        try:
            self.end_headers()
            return self.wfile.getvalue()
        finally:
            self.wfile = wfile

    def _relay_view(self) -> memoryview:
        """This connection's relay buffer (:data:`CHUNK_BYTES`), made on its first forwarded answer and kept: a new
        one for every answer costs the zeroing and page faults of its memory each time."""
        if self._buffer is None:
            self._buffer = memoryview(bytearray(CHUNK_BYTES))
        return self._buffer

    def _static(self, path: str) -> None:
        settings = self.viewer.settings
        if path == APP_CONFIG_PATH:
            self._bytes(settings.app_config, _CONTENT_TYPES[".js"])
            return
        if settings.app_dir is None:
            self._plain(404, "no viewer app is served")
            return
        root = settings.app_dir.resolve()
        candidate = (root / path.lstrip("/")).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            candidate = root / "index.html"
        try:
            size = candidate.stat().st_size
            with candidate.open("rb") as file:
                self.send_response(200)
                self.send_header("Content-Type", _content_type(candidate))
                self.send_header("Content-Length", str(size))
                self._security_headers()
                self.end_headers()
                if self.command != "HEAD":
                    while chunk := file.read(CHUNK_BYTES):
                        self.wfile.write(chunk)
        except FileNotFoundError:
            self._plain(404, "not found")

    def _bytes(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._security_headers()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


# Every other method of HTTP is answered 405 (methods HTTP does not define get BaseHTTPRequestHandler's 501).
for _method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"):
    setattr(_Handler, f"do_{_method}", _Handler._refuse_method)


def _content_type(path: Path) -> str:
    return _CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _credentials_problem(error: Exception) -> str:
    """A one-line message for a signing failure: the error's type and advice, never its text (it may hold a token)."""
    return (
        f"a request could not be signed ({type(error).__name__}): the AWS sign-in may have expired; sign in again "
        "(for example `aws sso login`) and reload the viewer"
    )

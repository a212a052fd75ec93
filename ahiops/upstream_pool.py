"""Kept-alive connections to one HTTP(S) origin, for the viewer's proxy: at most ``size`` requests at a time, idle
connections reused, answers read straight into the caller's buffer (``readinto``: no copy per chunk).

The standard library's http.client does the HTTP; this module only keeps its connections: a connection is put back
when its answer was read to the end and the origin keeps it open, else closed. A request on a reused connection that
the origin had closed meanwhile is sent once more on a new one (GET and HEAD only are sent here). Through an HTTP
proxy (``proxy``: ``http://[user:password@]host:port``), each connection is a CONNECT tunnel to the origin, and TLS
runs inside it from end to end.

Answers are read by :class:`HeadersOnlyResponse`: http.client's response with its head parsed as headers only.
"""

from __future__ import annotations

import base64
import email.parser
import http.client
import ssl
import threading
from urllib.parse import unquote, urlsplit


class HeadersOnlyResponse(http.client.HTTPResponse):
    """http.client's response, its head parsed as headers only.

    http.client hands a response head to the email package as a whole message; for a multipart answer (every WADO-RS
    answer) that parser then compiles a regular expression for the body's boundary, which is new in every answer:
    about 0.2 ms of CPU per answer, several times all the rest of its head. The proxy never reads the parts, so the
    head is parsed with ``headersonly=True``; everything else is http.client's :meth:`begin` as it is.
    """

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            http.client._read_headers(self.fp)  # a 100 Continue's head: skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        lines = http.client._read_headers(self.fp)
        self.headers = self.msg = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(
            b"".join(lines).decode("iso-8859-1"), headersonly=True
        )
        # From here on as http.client: the body's framing, and whether the connection ends with it.
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding and encoding.lower() == "chunked")
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if (
            status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED)
            or 100 <= status < 200
            or self._method == "HEAD"
        ):
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


class UpstreamPool:
    """Connections to the origin of ``root`` (``https://host[:port]/...``; ``http://`` for loopback tests)."""

    def __init__(
        self,
        root: str,
        *,
        size: int,
        connect_timeout: float,
        read_timeout: float,
        ca_bundle: str | None = None,
        proxy: str | None = None,
    ) -> None:
        parts = urlsplit(root)
        if parts.hostname is None or parts.scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {root}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self._context = ssl.create_default_context(cafile=ca_bundle) if parts.scheme == "https" else None
        self._proxy = urlsplit(proxy) if proxy else None
        if self._proxy is not None and (self._proxy.scheme != "http" or self._proxy.hostname is None):
            raise ValueError("the proxy must be an http://host:port URL")
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _new_connection(self) -> http.client.HTTPConnection:
        host, port = self.host, self.port
        if self._proxy is not None:
            assert self._proxy.hostname is not None
            host, port = self._proxy.hostname, self._proxy.port or 80
        connection: http.client.HTTPConnection
        if self._context is not None:
            connection = http.client.HTTPSConnection(host, port, timeout=self._connect_timeout, context=self._context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self._connect_timeout)
        if self._proxy is not None:
            headers = {}
            if self._proxy.username is not None:
                user = f"{unquote(self._proxy.username)}:{unquote(self._proxy.password or '')}"
                headers["Proxy-Authorization"] = "Basic " + base64.b64encode(user.encode()).decode()
            connection.set_tunnel(self.host, self.port, headers=headers)
        connection.response_class = HeadersOnlyResponse
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(self._read_timeout)
        return connection

    def request(
        self, method: str, target: str, headers: dict[str, str]
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send ``method target`` and read the answer's head; give both back with :meth:`release`.
        OSError or http.client.HTTPException when the origin cannot be reached or answers no HTTP."""
        self._slots.acquire()
        try:
            for attempt in (1, 2):
                with self._lock:
                    connection = self._idle.pop() if self._idle else None
                reused = connection is not None
                if connection is None:
                    connection = self._new_connection()
                try:
                    connection.request(method, target, headers=headers)
                    return connection, connection.getresponse()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    connection.close()
                    if not reused or attempt == 2:
                        raise
                except BaseException:
                    connection.close()
                    raise
            raise AssertionError("unreachable")
        except BaseException:
            self._slots.release()
            raise

    def release(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        """Take back a connection: kept when its answer was read to the end and the origin keeps it open.

        http.client closes a response when it has read its end; ``length`` (the bytes still to come of an answer of
        known length) is then 0, unless the origin closed the connection before. A response left open was not read
        to the end: the rest of its answer would be read as the next answer's head, so its connection is closed."""
        try:
            if response.isclosed() and not response.length and not response.will_close and connection.sock is not None:
                with self._lock:
                    self._idle.append(connection)
            else:
                connection.close()
        finally:
            self._slots.release()

    def clear(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

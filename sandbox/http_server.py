"""A loopback HTTP server for a stand-in: the standard library's ThreadingHTTPServer on 127.0.0.1, a free port."""

from __future__ import annotations

import json
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .rest_json import HttpRequest, HttpResponse

#: Seconds a connection may stay silent (between or inside requests) before its handler thread ends.
SOCKET_TIMEOUT_SECONDS = 10
#: Seconds ``stop()`` waits for the serving thread.
STOP_TIMEOUT_SECONDS = 5
#: Connections the kernel queues before the server accepts them: a browser opens dozens at once for frames.
LISTEN_BACKLOG = 128

Application = Callable[[HttpRequest], HttpResponse]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    # Handler threads are daemons and end by themselves within SOCKET_TIMEOUT_SECONDS; do not wait for them.
    block_on_close = False

    def __init__(self, application: Application, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.application = application


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_SECONDS
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Answers go out at once: without it, Nagle's algorithm and the client's delayed ACK hold each small answer
        # on a keep-alive connection for about 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        request = HttpRequest(
            method=self.command,
            path=path,
            query=query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.application(request)
        except Exception:  # a bug in the stand-in: answer 500 with the traceback, never hang the client
            text = traceback.format_exc()
            print(text, file=sys.stderr)
            response = HttpResponse(
                500,
                {"Content-Type": "application/json", "X-Amzn-ErrorType": "InternalServerException"},
                json.dumps({"message": f"stand-in crashed: {text.splitlines()[-1]}"}).encode(),
            )
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client stopped waiting (a read timeout, as after a freeze): a server drops the answer quietly,
            # instead of a traceback on stderr in the middle of whatever test runs then.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _serve  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: object) -> None:  # quiet: pytest shows failures, not traffic
        return


class LoopbackHttpServer:
    """Serve ``application`` on 127.0.0.1 and ``port`` (0: a free port) in a daemon thread until :meth:`stop`.

    The socket is bound at construction: a port in use raises :class:`OSError` (``errno.EADDRINUSE``) there."""

    def __init__(self, application: Application, port: int = 0) -> None:
        self._server = _Server(application, port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-http", daemon=True
        )
        self._started = False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        self._thread.start()
        self._started = True
        return self.url

    def stop(self) -> None:
        if self._started:
            self._server.shutdown()
            self._thread.join(timeout=STOP_TIMEOUT_SECONDS)
            self._started = False
        self._server.server_close()

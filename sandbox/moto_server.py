"""moto's threaded server on 127.0.0.1, with observers that see each request before moto handles it."""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from moto.server import DomainDispatcherApplication, MotoRequestHandler, ThreadedMotoServer, create_backend_app
from werkzeug.serving import make_server

from . import moto_patches

#: Seconds a connection to moto may stay silent before its handler thread gives up.
SOCKET_TIMEOUT_SECONDS = 30
#: Seconds to wait for moto's reset endpoint.
RESET_TIMEOUT_SECONDS = 10

#: ``observer(method, path, query_string)``: called before moto handles a request (path percent-decoded).
RequestObserver = Callable[[str, str, str], None]


@dataclass(frozen=True)
class RecordedRequest:
    """A request as moto's server received it: method, percent-decoded path, query string, headers (lower-case)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]

    @property
    def access_key_id(self) -> str | None:
        """The access key id of a SigV4 ``Authorization`` header (None when unsigned)."""
        found = re.search(r"Credential=([^/,\s]+)/", self.headers.get("authorization", ""))
        return found.group(1) if found else None

    @property
    def signed_service(self) -> str | None:
        """The service of a SigV4 credential scope (``s3``, ``sts``, ...)."""
        found = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", self.headers.get("authorization", ""))
        return found.group(1) if found else None


class RequestRecorder:
    """Every request moto's server receives while attached (:meth:`ObservedMotoServer.recording`), with headers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    def add(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)


class _TimedRequestHandler(MotoRequestHandler):
    timeout = SOCKET_TIMEOUT_SECONDS

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return  # quiet: a sandbox's terminal and pytest show failures, not traffic


class ObservedMotoServer(ThreadedMotoServer):
    """:class:`moto.server.ThreadedMotoServer` on 127.0.0.1 and ``port`` (0: a free port), with request observers.

    Observers let a stand-in react to what a client asks moto for (the HealthImaging stand-in uses one to
    make a job's output appear only after a number of reads). ``start`` serves moto 5.2.5's application wrapped,
    with a socket timeout on each connection.
    """

    def __init__(self, port: int = 0) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self._observers: list[RequestObserver] = []
        self._recorders: list[RequestRecorder] = []
        self._observers_lock = threading.Lock()
        #: Exceptions raised by observers (an observer must never break moto's answer).
        self.observer_errors: list[BaseException] = []

    @property
    def url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"

    def add_observer(self, observer: RequestObserver) -> None:
        with self._observers_lock:
            self._observers.append(observer)

    def remove_observer(self, observer: RequestObserver) -> None:
        with self._observers_lock:
            if observer in self._observers:
                self._observers.remove(observer)

    @contextlib.contextmanager
    def recording(self) -> Iterator[RequestRecorder]:
        """Record every request (with its headers) received inside the block."""
        recorder = RequestRecorder()
        with self._observers_lock:
            self._recorders.append(recorder)
        try:
            yield recorder
        finally:
            with self._observers_lock:
                self._recorders.remove(recorder)

    def reset(self) -> None:
        """Forget every resource in every moto backend (``POST /moto-api/reset``)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=RESET_TIMEOUT_SECONDS) as response:
            response.read()

    def _observe(self, environ: dict[str, Any]) -> None:
        with self._observers_lock:
            observers = list(self._observers)
            recorders = list(self._recorders)
        method = str(environ.get("REQUEST_METHOD", ""))
        path = urllib.parse.unquote(str(environ.get("PATH_INFO", "")))
        query = str(environ.get("QUERY_STRING", ""))
        if recorders:
            headers = {
                name[len("HTTP_") :].replace("_", "-").lower(): str(value)
                for name, value in environ.items()
                if name.startswith("HTTP_")
            }
            recorded = RecordedRequest(method, path, query, headers)
            for recorder in recorders:
                recorder.add(recorded)
        for observer in observers:
            try:
                observer(method, path, query)
            except Exception as error:  # recorded for the tests; moto still answers
                self.observer_errors.append(error)
                print(f"moto request observer failed: {error!r}", file=sys.stderr)

    def start(self) -> None:
        """Bind 127.0.0.1 and the port now (a port in use raises :class:`OSError` here, where moto's own
        ``start`` would wait forever for a thread that failed), then serve in a daemon thread. Bucket policies are
        judged with their conditions (:mod:`sandbox.moto_patches`)."""
        moto_patches.install()
        moto_app = DomainDispatcherApplication(create_backend_app)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            self._observe(environ)
            return moto_app(environ, start_response)

        self._server = make_server(self._ip_address, self._port, app, True, request_handler=_TimedRequestHandler)
        self._server_ready_event.set()
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()

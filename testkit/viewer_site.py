"""The team viewer as its distribution serves it, on 127.0.0.1, for the browser tests.

Exactly the files ``ImagingViewer`` uploads (:func:`components.viewer_files.app_files`, with their content types and
cache headers), the ``app-config.js`` the component generates, and the distribution's single-page routing
(:func:`components.viewer_policies.routes_to_index`: a path without an extension is answered with ``index.html``; a
missing file is 404). Not served: the response headers policy, whose Content-Security-Policy allows connections to
the data store's DICOMweb host on AWS only, not to the emulator on 127.0.0.1 (its documents are tested under mocks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from components.viewer_files import APP_CONFIG, INDEX, REVALIDATE, AppFile, app_files
from components.viewer_policies import routes_to_index


class ViewerSite:
    """The app of ``app_dir`` on a free port of 127.0.0.1; ``config`` (given the site's URL) is its app-config.js."""

    def __init__(self, app_dir: Path) -> None:
        self._files: dict[str, AppFile] = {f.key: f for f in app_files(app_dir)}
        self._config = b""
        self.paths: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                site.paths.append(path)
                status, headers, body = site.answer(path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def set_config(self, config_js: str) -> None:
        self._config = config_js.encode()

    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        key = path.lstrip("/")
        if key == APP_CONFIG:
            return 200, {"Content-Type": "text/javascript; charset=utf-8", "Cache-Control": REVALIDATE}, self._config
        if routes_to_index(path):
            key = INDEX
        found = self._files.get(key)
        if found is None:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        return 200, {"Content-Type": found.content_type, "Cache-Control": found.cache_control}, found.path.read_bytes()

    @contextmanager
    def serving(self) -> Iterator[ViewerSite]:
        thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=10)


def serving_viewer(app_dir: Path, config_for: Callable[[str], str]) -> Any:
    """``with serving_viewer(app_dir, lambda site_url: app_config_js(...)) as site``: the site with its config."""
    site = ViewerSite(app_dir)
    site.set_config(config_for(site.url))
    return site.serving()

"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``): no port, no
websocket library. For the browser tests: open a page, evaluate JavaScript in it, watch its requests, screenshot it,
and answer the requests of chosen hosts from the test (:meth:`Chromium.intercept`: the Fetch domain, so that a
host on the internet, an identity provider, is played offline before anything reaches the network).

Chromium reads commands (JSON, each ended by a NUL byte) on its file descriptor 3 and writes answers and events on
4. Every wait is bounded; :meth:`Chromium.close` ends the browser.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Software WebGL 2 in headless Chromium (SwiftShader through ANGLE): without WebGL the viewport stays black.
SOFTWARE_WEBGL_FLAGS = ("--headless=new", "--use-angle=swiftshader", "--enable-unsafe-swiftshader")
QUIET_FLAGS = (
    "--no-sandbox",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--password-store=basic",
)
COMMAND_TIMEOUT_SECONDS = 30.0


class CdpError(RuntimeError):
    """Chromium answered a command with an error, did not answer in time, or exited."""


@dataclass(frozen=True)
class InterceptedRequest:
    """A request the page made to an intercepted host."""

    method: str
    url: str
    headers: dict[str, str]
    body: str = ""


@dataclass(frozen=True)
class InterceptedAnswer:
    """What the test answers it with (a redirect is followed by the page as from the network)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


Interceptor = Callable[[InterceptedRequest], InterceptedAnswer]


def find_chromium() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless Chromium with one page (``window_size`` pixels); use as a context manager."""

    def __init__(self, binary: str, *, window_size: tuple[int, int] = (1280, 900)) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="cdp-profile-")
        self._log = Path(self._profile.name) / "chromium.log"
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()

        def child_fds() -> None:  # runs in the child before exec: the pipe ends become its descriptors 3 and 4
            read_end = fcntl.fcntl(commands_read, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(answers_write, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    binary,
                    *SOFTWARE_WEBGL_FLAGS,
                    *QUIET_FLAGS,
                    f"--window-size={window_size[0]},{window_size[1]}",
                    f"--user-data-dir={self._profile.name}/profile",
                    "--remote-debugging-pipe",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(3, 4),
                preexec_fn=child_fds,  # the only way to place the pipe on descriptors 3 and 4
            )
        os.close(commands_read)
        os.close(answers_write)
        self._next_id = 0
        self._answered: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._condition = threading.Condition()
        self._closed = False
        self._interceptor: Interceptor | None = None
        self._paused: queue.Queue[dict[str, Any] | None] = queue.Queue()
        #: Requests the interceptor answered, and the errors it raised (answered 500), in order.
        self.intercepted: list[InterceptedRequest] = []
        self.interceptor_errors: list[str] = []
        self._reader = threading.Thread(target=self._read, name="cdp-reader", daemon=True)
        self._reader.start()
        self._dispatcher = threading.Thread(target=self._answer_paused, name="cdp-intercept", daemon=True)
        self._dispatcher.start()
        target = self.command("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.command("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.command(f"{domain}.enable", session=True)

    # --- protocol ------------------------------------------------------------------------------------------------
    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                data = os.read(self._answers, 1 << 20)
            except OSError:
                data = b""
            if not data:
                with self._condition:
                    self._closed = True
                    self._condition.notify_all()
                return
            buffer += data
            *messages, buffer = buffer.split(b"\0")
            with self._condition:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._answered[message["id"]] = message
                    elif message.get("method") == "Fetch.requestPaused":
                        self._paused.put(message["params"])
                    else:
                        self.events.append(message)
                self._condition.notify_all()

    def command(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: bool = False,
        timeout: float = COMMAND_TIMEOUT_SECONDS,
    ) -> dict[str, Any]:
        """Send one command (to the page when ``session``) and wait for its result."""
        with self._condition:
            self._next_id += 1
            number = self._next_id
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._condition:
            while number not in self._answered:
                remaining = deadline - time.monotonic()
                if self._closed or remaining <= 0:
                    raise CdpError(f"{method}: no answer from Chromium ({'exited' if self._closed else 'timed out'})")
                self._condition.wait(remaining)
            answer = self._answered.pop(number)
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def _answer_paused(self) -> None:
        """Answer each paused request with the interceptor, on a thread of its own (the reader must keep reading)."""
        while (paused := self._paused.get()) is not None:
            request = paused["request"]
            seen = InterceptedRequest(
                method=request["method"],
                url=request["url"],
                headers={name.lower(): value for name, value in request.get("headers", {}).items()},
                body=request.get("postData", ""),
            )
            self.intercepted.append(seen)
            try:
                assert self._interceptor is not None
                answer = self._interceptor(seen)
            except Exception as error:  # the test's own fake failed: the page gets a 500, the test sees why
                self.interceptor_errors.append(f"{seen.method} {seen.url}: {type(error).__name__}: {error}")
                answer = InterceptedAnswer(500, {"content-type": "text/plain"}, str(error).encode())
            with contextlib.suppress(CdpError):  # the page may have gone meanwhile
                self.command(
                    "Fetch.fulfillRequest",
                    {
                        "requestId": paused["requestId"],
                        "responseCode": answer.status,
                        "responseHeaders": [{"name": k, "value": v} for k, v in answer.headers.items()],
                        "body": base64.b64encode(answer.body).decode(),
                    },
                    session=True,
                )

    # --- what a test does ------------------------------------------------------------------------------------------
    def intercept(self, url_patterns: Sequence[str], interceptor: Interceptor) -> None:
        """From now on, answer the page's requests whose URL matches one of ``url_patterns`` (the DevTools
        protocol's wildcards: ``https://login.example.org/*``) with ``interceptor``: they never reach the network."""
        self._interceptor = interceptor
        self.command(
            "Fetch.enable",
            {"patterns": [{"urlPattern": pattern, "requestStage": "Request"} for pattern in url_patterns]},
            session=True,
        )

    def navigate(self, url: str) -> None:
        self.command("Page.navigate", {"url": url}, session=True)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited when it is a promise)."""
        result = self.command(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session=True
        )
        if "exceptionDetails" in result:
            raise CdpError(f"the page's script failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        data = self.command("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        path.write_bytes(base64.b64decode(data))

    def requested_urls(self) -> list[str]:
        """Every URL the page asked for (Network.requestWillBeSent), in order."""
        with self._condition:
            return [
                event["params"]["request"]["url"]
                for event in self.events
                if event.get("method") == "Network.requestWillBeSent"
            ]

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return self._log.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def close(self) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(CdpError):
                self.command("Browser.close", timeout=5)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._paused.put(None)
        self._dispatcher.join(timeout=5)
        os.close(self._commands)
        self._reader.join(timeout=5)
        os.close(self._answers)
        self._profile.cleanup()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

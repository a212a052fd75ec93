"""A sandbox's files under ``<dir>/<stack>/``: ``state.json`` (its process and ports, while it runs),
``outputs.json`` (the stack's outputs), ``env`` (the client environment), ``sandbox.log`` (a detached sandbox's
output); and the checks on them: does its process live, do its endpoints answer, are its ports free."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shlex
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

#: Seconds one readiness probe of an endpoint may take.
PROBE_TIMEOUT_SECONDS = 2.0
#: Variables of the user's own AWS setup that the env file unsets (they would mix with the dummy credentials).
UNSET_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL")


@dataclass(frozen=True)
class SandboxFiles:
    """The paths of one stack's sandbox."""

    root: Path
    stack: str

    @property
    def directory(self) -> Path:
        return self.root / self.stack

    @property
    def state(self) -> Path:
        return self.directory / "state.json"

    @property
    def outputs(self) -> Path:
        return self.directory / "outputs.json"

    @property
    def env(self) -> Path:
        return self.directory / "env"

    @property
    def log(self) -> Path:
        return self.directory / "sandbox.log"

    @property
    def lock_file(self) -> Path:
        return self.directory / "lock"

    def lock(self) -> TextIO | None:
        """Take the stack's sandbox lock (an exclusive ``flock`` on ``lock``, held by the sandbox's process for its
        whole life, and passed to a detached sandbox's process): None when another holds it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = self.lock_file.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return handle

    def locked(self) -> bool:
        """Whether a process holds the lock (a sandbox starts or runs)."""
        if not self.lock_file.exists():
            return False
        handle = self.lock()
        if handle is None:
            return True
        handle.close()
        return False

    def read_state(self) -> dict[str, Any] | None:
        """The state file's content (None when there is none or it cannot be read)."""
        try:
            state = json.loads(self.state.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def write_state(self, state: Mapping[str, Any]) -> None:
        write_atomically(self.state, json.dumps(state, indent=2, sort_keys=True) + "\n")

    def remove(self, *, keep_results: bool = False) -> None:
        """Remove the state and lock files and, unless ``keep_results``, the outputs, env and log files; then the stack's
        directory if it is empty (nothing else of the user's is touched)."""
        paths = [self.state, self.lock_file]
        if not keep_results:
            paths += [self.outputs, self.env, self.log]
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(OSError):
            self.directory.rmdir()


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


def env_file_text(variables: Mapping[str, str], stack: str) -> str:
    """``export NAME=value`` lines (values quoted for the shell), after an ``unset`` of the user's own AWS
    profile and session variables."""
    lines = [
        f"# The AWS sandbox of stack {stack} on 127.0.0.1: `. this-file` points AWS clients (boto3, the AWS CLI,",
        "# ahictl) at it. Dummy credentials: accepted by nothing in AWS.",
        f"unset {' '.join(UNSET_VARIABLES)}",
    ]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
    return "\n".join(lines) + "\n"


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (and is not a zombie)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def is_sandbox_process(pid: int) -> bool:
    """Whether ``pid`` is a sandbox's process (its command line names the sandbox), so that a pid the system
    gave to another process since is never signalled. True where /proc cannot tell."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return process_alive(pid)
    return b"sandbox" in command


def answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (any status counts)."""
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_SECONDS) as response:
            response.read()
        return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def port_in_use(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port`` (a bind as the servers bind, address reuse on, fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE or error.errno == errno.EACCES
    return False

"""``ahictl sandbox up|down|status``: the sandbox's life.

``up`` checks everything it can before it starts anything (the stack file, the stack's plan, the ports), then
starts the loopback AWS (:class:`sandbox.services.LoopbackAws`) in this process, deploys the stack's plan into it
(:mod:`sandbox.deploy`), writes ``outputs.json`` and ``env``, records its process and ports in ``state.json`` and
serves until Ctrl-C (SIGINT) or ``down`` (SIGTERM). ``--detach`` starts the same in a process of its own
(``python -m sandbox``, in a session of its own, output in ``sandbox.log``) and returns once every endpoint
answers. Everything runs in that one process: stopping it frees every port.

Exit codes: 0 done (also for an ``up`` of a sandbox that already runs, and a ``down`` of one that does not);
1 the sandbox failed (a resource could not be created, it did not become ready, it would not stop);
2 a usage error (unknown stack, a plan that fails, a ``--set`` that is not a setting or not a valid value, a port
in use, a bad ``--port-base``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ahictl.repository import REPOSITORY_ROOT

from . import MOTO_ACCOUNT_ID, TEST_REGION
from .services import PORT_OFFSETS, SERVICE_DESCRIPTIONS, LoopbackAws, Ports, client_environment
from .state import (
    SandboxFiles,
    answers,
    env_file_text,
    is_sandbox_process,
    port_in_use,
    process_alive,
    write_atomically,
)

if TYPE_CHECKING:
    from .deploy import Deployment

#: Seconds ``up --detach`` waits for the sandbox to answer.
READY_TIMEOUT_SECONDS = 60.0
#: Seconds ``down`` waits for the sandbox's process to end after SIGTERM (then SIGKILL), and for its ports.
STOP_TIMEOUT_SECONDS = 10.0
#: The lowest and highest ``--port-base`` (unprivileged ports, room for every service).
PORT_BASE_RANGE = (1024, 65535 - len(PORT_OFFSETS) + 1)
POLL_SECONDS = 0.05


class UsageError(Exception):
    """A user mistake: exit code 2, the message says what to do."""


class SandboxError(Exception):
    """The sandbox could not be started or stopped: exit code 1."""


@dataclass(frozen=True)
class Options:
    stack: str = "dev"
    directory: Path = Path(".sandbox")
    port_base: int | None = None
    project_dir: Path = Path(".")
    #: ``--set KEY=VALUE`` arguments, as given: project settings changed for this sandbox (as ``ahictl plan --set``).
    settings: tuple[str, ...] = ()

    @property
    def files(self) -> SandboxFiles:
        return SandboxFiles(self.directory, self.stack)

    @property
    def ports(self) -> Ports:
        return Ports() if self.port_base is None else Ports.from_base(self.port_base)


# --- checks before anything starts -------------------------------------------------------------------------------


def check_stack_name(stack: str) -> None:
    """A stack's short name (as in ``Pulumi.<stack>.yaml``): it names the sandbox's folder under ``--dir``."""
    if not stack or stack in (".", "..") or "/" in stack or "\\" in stack:
        raise UsageError(
            f"--stack {stack!r}: give the stack's short name (as in Pulumi.<name>.yaml), without a path or an "
            "organisation or project part"
        )


def check_port_base(port_base: int | None) -> None:
    if port_base is None:
        return
    low, high = PORT_BASE_RANGE
    if not low <= port_base <= high:
        raise UsageError(
            f"--port-base {port_base}: give a port from {low} to {high} (the sandbox uses {len(PORT_OFFSETS)} ports "
            f"from it), or leave it out to use free ports"
        )


def check_ports_free(ports: Ports) -> None:
    for name, port in ports.as_dict().items():
        if port and port_in_use(port):
            raise UsageError(
                f"port {port} on 127.0.0.1 (for {SERVICE_DESCRIPTIONS[name]}) is in use: choose another --port-base "
                f"(the sandbox uses {len(PORT_OFFSETS)} ports from it) or leave --port-base out to use free ports"
            )


def check_stack_file(options: Options) -> None:
    """The stack file exists and reads, and every ``--set`` is KEY=VALUE (a quick check before a detached
    sandbox's process starts)."""
    from ahictl.stack_files import PlanError, stack_config

    try:
        overrides_of(options)
        stack_config(options.project_dir, options.stack)
    except PlanError as error:
        raise UsageError(str(error)) from error


def overrides_of(options: Options) -> dict[str, str]:
    """The ``--set`` arguments as {setting: value} (``ahictl plan --set``'s rules); a PlanError names a bad one."""
    from ahictl.plan import parse_overrides

    return parse_overrides(options.settings)


def check_stack(options: Options) -> None:
    """The stack file exists and the stack's program plans without error (nothing is created)."""
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)  # pulumi_aws's, at import time
    from ahictl.stack_files import PlanError
    from components.validation import InvalidInputError

    from .deploy import check_plan

    try:
        check_plan(options.project_dir, options.stack, MOTO_ACCOUNT_ID, TEST_REGION, overrides_of(options))
    except PlanError as error:
        raise UsageError(str(error)) from error
    except InvalidInputError as error:
        raise UsageError(
            f"the plan of stack {options.stack!r} fails: {error} (`python -m ahictl plan --stack {options.stack}` "
            "shows the same offline)"
        ) from error


def running_state(files: SandboxFiles) -> dict[str, object] | None:
    """The state of a sandbox whose process still runs; a state left by one that ended is removed."""
    state = files.read_state()
    if state is None:
        return None
    pid = state.get("pid")
    if isinstance(pid, int) and process_alive(pid) and is_sandbox_process(pid):
        return state
    with contextlib.suppress(FileNotFoundError):
        files.state.unlink()
    return None


# --- up ----------------------------------------------------------------------------------------------------------


def up(options: Options, *, detach: bool, out: TextIO = sys.stdout) -> int:
    check_stack_name(options.stack)
    files = options.files
    state = running_state(files)
    if state is not None:
        print(f"The sandbox of stack {options.stack} already runs (pid {state['pid']}):", file=out)
        _print_endpoints(state, files, out)
        return 0
    check_port_base(options.port_base)
    try:
        lock = files.lock()
    except OSError as error:
        raise UsageError(
            f"--dir {options.directory}: cannot create {files.directory} ({error.strerror or error}); choose a "
            "directory you can write"
        ) from error
    if lock is None:
        print(
            f"The sandbox of stack {options.stack} is starting or runs (another `sandbox up` holds "
            f"{files.lock_file}); `python -m ahictl sandbox status` says where.",
            file=out,
        )
        return 0
    try:
        try:
            check_ports_free(options.ports)
            check_stack_file(options)
        except BaseException:  # a usage error, or Ctrl-C: leave nothing
            files.remove(keep_results=True)
            raise
        if detach:
            return _start_detached(options, out, lock)
        return serve(options, out=out, detached=False)
    finally:
        lock.close()  # a detached sandbox's process holds its own copy


def serve(options: Options, *, out: TextIO, detached: bool) -> int:
    """Check the stack's plan (a :class:`UsageError` before anything starts), then start, deploy, write the files
    and serve until SIGINT (then remove every file: a foreground Ctrl-C) or SIGTERM (then only the state file:
    ``down`` removes the rest unless ``--keep``)."""
    files = options.files
    started = time.monotonic()
    stop_signal: list[int] = []
    serving = False

    def stop(signum: int, frame: types.FrameType | None) -> None:
        # While the program runs under Pulumi's mocks, an exception thrown into its event loop could leave the
        # run waiting forever: the stop waits for the end of the step (checked below), unless asked twice.
        stop_signal.append(signum)
        if serving or len(stop_signal) > 1:
            raise _Stop

    def unless_stopped() -> None:
        if stop_signal:
            raise _Stop

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    aws: LoopbackAws | None = None
    code = 0
    try:
        check_stack(options)
        unless_stopped()
        try:
            aws = LoopbackAws(options.ports, region=TEST_REGION).start()
        except OSError as error:
            raise UsageError(
                f"cannot listen on 127.0.0.1: {error.strerror or error}; choose another --port-base"
            ) from error
        print(f"Deploying the plan of stack {options.stack} into the sandbox on 127.0.0.1", file=out, flush=True)
        deployment = _deploy(options, aws)
        unless_stopped()
        aws.healthimaging.check_data_access_role = True
        aws.healthimaging.check_dicomweb_roles = True
        write_atomically(files.outputs, deployment.outputs_json())
        write_atomically(files.env, env_file_text(client_environment(aws.endpoints(), aws.region), options.stack))
        for note in deployment.overrides:
            print(f"  {note}", file=out)
        for warning in deployment.warnings:
            print(f"  warning from the program: {warning}", file=out)
        print(f"Created {len(deployment.created)} resources.", file=out)
        for function in deployment.in_process:
            print(f"Run in-process: {function.description} ({function.type}  {function.name})", file=out)
        if deployment.skipped:
            print(f"Skipped {len(deployment.skipped)} resources the sandbox does not emulate:", file=out)
            width = max(len(s.type) for s in deployment.skipped)
            for skipped in deployment.skipped:
                print(f"  {skipped.type:<{width}}  {skipped.name}", file=out)
        state: dict[str, object] = {
            "pid": os.getpid(),
            "stack": options.stack,
            "urls": aws.service_urls(),
            "endpoints": aws.endpoints(),
            "detached": detached,
        }
        files.write_state(state)
        _print_endpoints(state, files, out)
        how_to_stop = "" if detached else "Ctrl-C or "
        print(
            f"Ready in {time.monotonic() - started:.1f} s; {how_to_stop}`python -m ahictl sandbox down --stack "
            f"{options.stack} --dir {options.directory}` stops it.",
            file=out,
            flush=True,
        )
        serving = True
        unless_stopped()
        while True:
            signal.pause()
    except _Stop:
        pass
    except SandboxError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        code = 1
    finally:
        if aws is not None:
            aws.stop()
        # Ctrl-C of a foreground sandbox removes everything; SIGTERM (from `down`) and failures leave the results
        # to `down` (the state file always goes: it describes a process that is ending).
        files.remove(keep_results=not (stop_signal and stop_signal[0] == signal.SIGINT and not detached))
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop_signal:
        print(f"Stopped the sandbox of stack {options.stack}.", file=out, flush=True)
    return code


class _Stop(BaseException):
    """Raised in the main thread by SIGINT or SIGTERM."""


def _deploy(options: Options, aws: LoopbackAws) -> Deployment:
    from .deploy import DeployError, deploy_stack

    try:
        return deploy_stack(
            options.project_dir,
            options.stack,
            aws.endpoints(),
            aws.healthimaging,
            account_id=aws.account_id,
            region=aws.region,
            overrides=overrides_of(options),
        )
    except DeployError as error:
        raise SandboxError(f"the deployment of stack {options.stack} failed: {error}") from error


def _print_endpoints(state: dict[str, object], files: SandboxFiles, out: TextIO) -> None:
    urls = state.get("urls")
    if isinstance(urls, dict):
        for name, description in SERVICE_DESCRIPTIONS.items():
            print(f"  {description:<40} {urls.get(name)}", file=out)
    print(f"Outputs: {files.outputs}", file=out)
    print(f"Environment: . {files.env}", file=out)
    print(f"Then: python -m ahictl verify --outputs {files.outputs}", file=out, flush=True)


def _start_detached(options: Options, out: TextIO, lock: TextIO) -> int:
    """Start ``python -m sandbox`` in a session of its own, holding ``lock``; wait until it answers."""
    files = options.files
    command = [
        sys.executable,
        "-m",
        "sandbox",
        "--stack",
        options.stack,
        "--dir",
        str(options.directory),
        "--project-dir",
        str(options.project_dir),
    ]
    if options.port_base is not None:
        command += ["--port-base", str(options.port_base)]
    for setting in options.settings:
        command += ["--set", setting]
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY_ROOT), environment.get("PYTHONPATH")]))
    process: subprocess.Popen[bytes] | None = None
    try:
        # A Ctrl-C while the process starts is raised once it has started, so that it is known and stopped below.
        with _interrupt_deferred(), files.log.open("w") as log:
            process = subprocess.Popen(  # noqa: S603 - this interpreter, this package
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=environment,
                pass_fds=(lock.fileno(),),
            )
        return _wait_until_ready(process, files, out)
    except KeyboardInterrupt:  # Ctrl-C while waiting: the sandbox, in a session of its own, would run on
        if process is not None:
            _terminate(process.pid)
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        files.remove(keep_results=False)
        raise


@contextlib.contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """Run the block to its end even if Ctrl-C arrives meanwhile; raise KeyboardInterrupt after it if one did."""
    interrupted = False

    def remember(signum: int, frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    previous = signal.signal(signal.SIGINT, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt


def _wait_until_ready(process: subprocess.Popen[bytes], files: SandboxFiles, out: TextIO) -> int:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            print(_log_errors(files) or f"error: the sandbox ended with exit code {code}", file=sys.stderr)
            files.remove(keep_results=False)
            return code or 1
        state = files.read_state()
        if state is not None and state.get("pid") == process.pid and _all_answer(state):
            out.write(files.log.read_text())
            out.flush()
            return 0
        time.sleep(POLL_SECONDS)
    _terminate(process.pid)
    process.wait(timeout=STOP_TIMEOUT_SECONDS)
    files.remove(keep_results=False)
    raise SandboxError(f"the sandbox did not answer within {READY_TIMEOUT_SECONDS:.0f} s; it was stopped")


def _all_answer(state: dict[str, object]) -> bool:
    urls = state.get("urls")
    return isinstance(urls, dict) and all(answers(str(url)) for url in urls.values())


def _log_errors(files: SandboxFiles) -> str:
    """The detached process's error message: its log from the first ``error:`` line on."""
    with contextlib.suppress(OSError):
        text = files.log.read_text()
        if text.startswith("error:"):
            return text.rstrip()
        _, found, rest = text.partition("\nerror:")
        return f"error:{rest}".rstrip() if found else ""
    return ""


# --- down and status ---------------------------------------------------------------------------------------------


def down(options: Options, *, keep: bool, out: TextIO = sys.stdout) -> int:
    check_stack_name(options.stack)
    files = options.files
    state = running_state(files)
    if state is None and files.locked():
        raise SandboxError(f"the sandbox of stack {options.stack} is starting; run `down` again once `up` has returned")
    if state is None:
        files.remove(keep_results=keep)
        print(f"No sandbox of stack {options.stack} runs in {options.directory} (nothing to stop).", file=out)
        return 0
    pid = state["pid"]
    assert isinstance(pid, int)
    _terminate(pid)
    if not _wait(lambda: not process_alive(pid)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if not _wait(lambda: not process_alive(pid)):
            raise SandboxError(f"the sandbox's process {pid} does not end; stop it by hand (kill -9 {pid})")
    ports = _ports(state)
    if not _wait(lambda: not any(port_in_use(port) for port in ports)):
        raise SandboxError(f"the sandbox's ports {', '.join(map(str, ports))} are still in use")
    files.remove(keep_results=keep)
    kept = f"; kept {files.outputs}, {files.env} and {files.log}" if keep else ""
    print(
        f"Stopped the sandbox of stack {options.stack} (pid {pid}); ports {', '.join(map(str, ports))} are free{kept}.",
        file=out,
    )
    return 0


def status(options: Options, out: TextIO = sys.stdout) -> int:
    """0 and what runs where when the sandbox runs; 1 and a sentence when it does not."""
    check_stack_name(options.stack)
    files = options.files
    state = running_state(files)
    if state is None:
        starting = " (one is starting)" if files.locked() else ""
        print(f"No sandbox of stack {options.stack} runs in {options.directory}{starting}.", file=out)
        return 1
    print(f"The sandbox of stack {options.stack} runs (pid {state['pid']}):", file=out)
    urls = state.get("urls")
    if isinstance(urls, dict):
        for name, description in SERVICE_DESCRIPTIONS.items():
            url = str(urls.get(name))
            print(f"  {description:<40} {url} ({'answers' if answers(url) else 'does not answer'})", file=out)
    print(f"Outputs: {files.outputs}", file=out)
    print(f"Environment: . {files.env}", file=out)
    return 0


def _terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


def _wait(condition: Callable[[], bool], timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL_SECONDS)
    return condition()


def _ports(state: dict[str, object]) -> list[int]:
    urls = state.get("urls")
    if not isinstance(urls, dict):
        return []
    return [int(str(url).rsplit(":", 1)[1]) for url in urls.values()]

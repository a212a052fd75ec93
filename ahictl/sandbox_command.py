"""``python -m ahictl sandbox up|down|status``: the stack deployed into a local AWS on 127.0.0.1 (moto, the
HealthImaging emulator, IAM's policy simulator), without an AWS account. The logic is in :mod:`sandbox.runner`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .repository import REPOSITORY_ROOT

DEFAULT_DIR = Path(".sandbox")


def _port(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "sandbox",
        help="run the stack in a local AWS on 127.0.0.1 (no AWS account): up, down, status",
        description="A local AWS on 127.0.0.1 with the stack deployed as its plan says: moto (S3, KMS, STS, IAM), "
        "a HealthImaging emulator and IAM's policy simulator. Not AWS: no real encryption, IAM enforced only where "
        "the simulator and the emulator check it, not for PHI. Exit 0 done, 1 the sandbox failed, 2 a usage error.",
    )
    actions = parser.add_subparsers(dest="sandbox_action", required=True, metavar="{up,down,status}")
    up = actions.add_parser(
        "up",
        help="start the sandbox and deploy the stack's plan into it",
        description="Start the sandbox, deploy the stack's plan into it, write <dir>/<stack>/outputs.json (the "
        "stack's outputs) and <dir>/<stack>/env (`. <dir>/<stack>/env` points AWS clients at it). Runs in the "
        "foreground until Ctrl-C unless --detach. An `up` of a sandbox that runs says so and exits 0.",
    )
    _common(up)
    up.add_argument("--detach", action="store_true", help="run in the background; return once every endpoint answers")
    up.add_argument(
        "--port-base",
        type=_port,
        metavar="N",
        help="listen on ports N (S3, KMS, STS), N+1 (HealthImaging) and N+2 (IAM) (default: free ports)",
    )
    up.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="settings",
        help="deploy with a project setting changed, without editing the stack file (repeatable), as `plan --set`; "
        'for example --set \'dicomwebOidc={"issuer": ..., "audiences": [...], "personas": {...}}\' '
        "(default: none)",
    )
    up.add_argument(
        "--project-dir",
        type=Path,
        default=REPOSITORY_ROOT,
        help="directory of Pulumi.yaml and the stack files (default: this project)",
    )
    down = actions.add_parser(
        "down",
        help="stop the sandbox and free its ports",
        description="Stop the sandbox and free its ports; remove <dir>/<stack>/ (its state, outputs, env and log) "
        "unless --keep.",
    )
    _common(down)
    down.add_argument(
        "--keep", action="store_true", help="keep outputs.json, env and sandbox.log (default: remove them)"
    )
    status = actions.add_parser(
        "status",
        help="say what runs where",
        description="Say whether the stack's sandbox runs, and each endpoint. Exit 0 when it runs, 1 when not.",
    )
    _common(status)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", "-s", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIR,
        dest="directory",
        help=f"directory of the sandbox's files, one folder per stack (default: {DEFAULT_DIR})",
    )


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("interrupted: the sandbox was stopped before it was ready (nothing runs)", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    from sandbox.runner import Options, SandboxError, UsageError, down, status, up

    options = Options(
        stack=args.stack,
        directory=args.directory,
        port_base=getattr(args, "port_base", None),
        project_dir=getattr(args, "project_dir", REPOSITORY_ROOT).resolve(),
        settings=tuple(getattr(args, "settings", ())),
    )
    try:
        if args.sandbox_action == "up":
            return up(options, detach=args.detach)
        if args.sandbox_action == "down":
            return down(options, keep=args.keep)
        return status(options)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except SandboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

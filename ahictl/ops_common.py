"""What the operational commands (``verify``, ``import``, ``jobs``) share: the stack and AWS flags, and error handling.

The commands stay thin: they read the flags, call :mod:`ahiops`, print the result. Every
:class:`ahiops.errors.OpsError` becomes one ``error: ...`` line on stderr and its exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .repository import REPOSITORY_ROOT

if TYPE_CHECKING:
    import boto3

    from ahiops.stack_outputs import StackOutputs

#: Where ``--stack NAME`` runs ``pulumi stack output`` (the directory of Pulumi.yaml).
#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT_CODE = 130
DEFAULT_INTERRUPT_MESSAGE = "interrupted; nothing more was started. Run the same command again to continue."


def add_stack_arguments(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    """Add ``--outputs FILE`` | ``--stack NAME`` (one required), ``--profile``, ``--region`` and (unless
    ``json_flag`` is false) ``--json``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--outputs",
        metavar="FILE",
        type=Path,
        help="the stack's outputs: the JSON that `pulumi stack output --json` prints",
    )
    source.add_argument(
        "--stack",
        metavar="NAME",
        help="read the outputs with `pulumi stack output --json --stack NAME` (needs the Pulumi CLI)",
    )
    parser.add_argument(
        "--profile",
        help="AWS profile (default: boto3's chain: AWS_PROFILE, then the default profile)",
    )
    parser.add_argument("--region", help="AWS region (default: the stack's `region` output)")
    if json_flag:
        parser.add_argument(
            "--json", action="store_true", help="print one JSON document on standard output instead of text"
        )


def stack_outputs_from_args(args: argparse.Namespace) -> StackOutputs:
    """The stack outputs named by ``--outputs`` or ``--stack``."""
    from ahiops.stack_outputs import load_outputs_file, load_stack_outputs

    if getattr(args, "outputs", None) is not None:
        return load_outputs_file(args.outputs)
    return load_stack_outputs(args.stack, cwd=REPOSITORY_ROOT)


def session_from_args(args: argparse.Namespace, outputs: StackOutputs) -> boto3.session.Session:
    """A boto3 session: ``--profile``/``--region`` over boto3's chain; the region defaults to the stack's."""
    from ahiops.session import make_session

    return make_session(
        profile=getattr(args, "profile", None), region=getattr(args, "region", None), default_region=outputs.region
    )


#: ``on_failure(message, exit_code, aws_error_code)``: called when a command body stops with an error or Ctrl-C.
FailureReport = Callable[[str, int, "str | None"], None]


def run_command(
    fn: Callable[[], int],
    *,
    interrupt_message: str = DEFAULT_INTERRUPT_MESSAGE,
    on_failure: FailureReport | None = None,
) -> int:
    """Run a command body: an OpsError (or any other AWS SDK error, exit 1) prints ``error: ...`` on stderr and
    returns its exit code; Ctrl-C returns 130.
    ``on_failure`` (for example a JSON report of what was done) is called first in both cases."""
    import botocore.exceptions

    from ahiops.errors import OpsError

    try:
        return fn()
    except OpsError as error:
        if on_failure is not None:
            on_failure(str(error), error.exit_code, error.aws_error_code)
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except botocore.exceptions.BotoCoreError as error:
        # An AWS SDK error that no step turned into an OpsError (a network, TLS or proxy failure): still a message.
        message = (
            f"an AWS request failed: {error or type(error).__name__}. Check the network, the proxy and the "
            "region, then run the same command again."
        )
        if on_failure is not None:
            on_failure(message, 1, None)
        print(f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if on_failure is not None:
            on_failure(interrupt_message, INTERRUPTED_EXIT_CODE, None)
        print(f"\n{interrupt_message}", file=sys.stderr)
        return INTERRUPTED_EXIT_CODE
    except BrokenPipeError:
        # stdout closed early (for example `| head`): nothing more to say.
        return 1


def error_json(message: str, exit_code: int, aws_error_code: str | None) -> dict[str, Any]:
    """The ``error`` member of a failed command's ``--json`` document."""
    return {"message": message, "exitCode": exit_code, "awsErrorCode": aws_error_code}


#: The whole ``--json`` document of a command that failed on its arguments, from argparse's message.
UsageFailureJson = Callable[[str], dict[str, Any]]


def usage_errors_as_json(parser: argparse.ArgumentParser, document: UsageFailureJson) -> None:
    """With --json among the arguments, argparse's own usage errors (an unknown flag, a flag's value) also print
    ``document(message)`` on stdout before argparse prints the usage and exits with 2."""
    parse_known_args = parser.parse_known_args
    usage_error = parser.error
    wanted = {"json": False}

    def parse(args: Any = None, namespace: Any = None) -> Any:
        wanted["json"] = "--json" in (sys.argv[1:] if args is None else list(args))
        return parse_known_args(args, namespace)

    def error(message: str) -> Any:
        if wanted["json"]:
            print_json(document(f"{parser.prog}: {message}"))
        return usage_error(message)

    setattr(parser, "parse_known_args", parse)  # noqa: B010 - this parser instance only
    setattr(parser, "error", error)  # noqa: B010


def print_json(document: Any) -> None:
    """Write one JSON document to standard output."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table: columns padded to their widest cell, the last column unpadded."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"

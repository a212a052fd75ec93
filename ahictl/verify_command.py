"""``python -m ahictl verify``: read-only checks of the deployed stack against what the program meant."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import ops_common

if TYPE_CHECKING:
    from ahiops.verify import CheckResult


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "verify",
        help="check the deployed stack: account, region, data store, buckets, import role (read-only)",
        description="Read-only checks of the deployed stack against what the program meant, one line each: "
        "pass, fail (the stack is not as meant) or error (the check could not tell). Exit 0 only when every "
        "check passes, 1 when any fails or errors, 2 for a usage error.",
    )
    ops_common.add_stack_arguments(parser)
    parser.add_argument(
        "--canary",
        action="store_true",
        help="also import one small synthetic DICOM file end to end (writes under verify/ in the input bucket, "
        "to the output bucket and to the data store; deletes the image set when allowed)",
    )


def render_results(results: Sequence[CheckResult]) -> str:
    """The checks as a table (STATUS, CHECK, DETAIL) and a one-line summary."""
    rows = [(result.status.upper(), result.id, result.detail) for result in results]
    counts = Counter(result.status for result in results)
    summary = f"{len(results)} checks: {counts['pass']} passed, {counts['fail']} failed, {counts['error']} errors"
    return ops_common.render_table(("STATUS", "CHECK", "DETAIL"), rows) + "\n" + summary + "\n"


def _verify(args: argparse.Namespace) -> int:
    from ahiops.canary import CanaryOptions
    from ahiops.verify import all_passed, results_to_json, verify_stack

    outputs = ops_common.stack_outputs_from_args(args)
    session = ops_common.session_from_args(args, outputs)
    show_progress = not args.json and sys.stderr.isatty()
    if not args.json:
        print(
            f"Verifying the stack in {outputs.source}: account {outputs.account_id}, region "
            f"{session.region_name}, data store {outputs.datastore_id}"
            + (" (with the canary import)" if args.canary else ""),
            file=sys.stderr,
        )

    def progress(result: CheckResult) -> None:
        if show_progress:
            print(f"  {result.status:<5} {result.id}", file=sys.stderr)

    def canary_message(message: str) -> None:
        if not args.json:
            print(f"  {message}", file=sys.stderr)

    results = verify_stack(
        outputs,
        session,
        profile=args.profile,
        canary=args.canary,
        canary_options=CanaryOptions(on_message=canary_message),
        on_result=progress,
    )
    if args.json:
        ops_common.print_json(results_to_json(results))
    else:
        sys.stdout.write(render_results(results))
    return 0 if all_passed(results) else 1


def run(args: argparse.Namespace) -> int:
    return ops_common.run_command(
        lambda: _verify(args),
        interrupt_message="interrupted: verify stopped; it changes nothing (a canary import already started "
        "finishes on its own and shows in `python -m ahictl jobs`). Run the same command again.",
    )

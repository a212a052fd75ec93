"""``python -m ahictl verify``: read-only checks of the deployed stack against what the program meant."""

from __future__ import annotations

import argparse

from . import ops_common


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "verify",
        help="check the deployed stack: account, region, data store, buckets, import role (read-only)",
        description="Read-only checks of the deployed stack against what the program meant. Exit 0 only when every "
        "check passes, 1 when any fails or errors, 2 for a usage error.",
    )
    ops_common.add_stack_arguments(parser)
    parser.add_argument(
        "--canary",
        action="store_true",
        help="also import one small synthetic DICOM file end to end (writes to the input and output buckets "
        "and the data store; deletes the image set when allowed)",
    )


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError

"""``python -m ahictl jobs``: recent import jobs of the data store, or one job's manifest summary and failures."""

from __future__ import annotations

import argparse

from . import ops_common


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "jobs",
        help="list the data store's import jobs, or show one job's results",
        description="List the data store's recent DICOM import jobs (by anyone, not only this tool), or with JOB_ID "
        "show that job's status, manifest summary and failed files.",
    )
    parser.add_argument("job_id", nargs="?", metavar="JOB_ID", help="show this job's manifest summary and failures")
    ops_common.add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError

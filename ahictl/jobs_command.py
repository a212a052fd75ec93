"""``python -m ahictl jobs``: recent import jobs of the data store, or one job's manifest summary and failures."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from . import ops_common

if TYPE_CHECKING:
    from ahiops.job_history import JobReport
    from ahiops.jobs import JobStatus

DEFAULT_LIMIT = 50


def _positive_or_zero(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 for all jobs or a positive number")
    return value


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "jobs",
        help="list the data store's import jobs, or show one job's results",
        description="List the data store's recent DICOM import jobs (started by anyone, not only this tool; "
        "HealthImaging keeps them 90 days), or with JOB_ID show that job's status, manifest summary, image sets "
        "and failed files. Exit 0 when shown (whatever the jobs' outcome), 1 when AWS could not be read, 2 for a "
        "usage error.",
    )
    parser.add_argument("job_id", nargs="?", metavar="JOB_ID", help="show this job's manifest summary and failures")
    ops_common.add_stack_arguments(parser)
    parser.add_argument(
        "--status", choices=("SUBMITTED", "IN_PROGRESS", "COMPLETED", "FAILED"), help="list only jobs in this status"
    )
    parser.add_argument(
        "--limit",
        type=_positive_or_zero,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"list the N most recently submitted jobs (default {DEFAULT_LIMIT}; 0: all)",
    )
    ops_common.usage_errors_as_json(parser, usage_failure_json)


def usage_failure_json(message: str) -> dict[str, Any]:
    """The ``--json`` document of a run refused for its arguments."""
    return {"error": ops_common.error_json(message, 2, None)}


def render_job_list(datastore_id: str, jobs: list[JobStatus]) -> str:
    if not jobs:
        return f"No import jobs in data store {datastore_id}.\n"
    rows = [
        (job.job_id, job.job_status, job.submitted_at or "-", job.ended_at or "-", job.job_name or "-") for job in jobs
    ]
    return ops_common.render_table(("JOB ID", "STATUS", "SUBMITTED", "ENDED", "NAME"), rows)


def render_job_report(report: JobReport) -> str:
    status = report.status
    lines = [
        f"Job {status.job_id} ({status.job_name or 'no name'}): {status.job_status}",
        f"  submitted {status.submitted_at or '-'}, ended {status.ended_at or '-'}",
        f"  input   {status.input_s3_uri or '-'}",
        f"  output  {status.output_s3_uri or '-'}",
    ]
    if status.message:
        lines.append(f"  message {status.message}")
    output = report.output
    if output is None:
        lines.append(f"  results: {report.output_note}")
        return "\n".join(lines) + "\n"
    summary = output.summary
    lines += [
        f"  results {output.folder_uri}",
        f"  files scanned {summary.scanned_files}, imported {summary.imported_files}, failed "
        f"{summary.files_with_customer_error + summary.files_with_server_error} "
        f"(input errors {summary.files_with_customer_error}, server errors {summary.files_with_server_error}), "
        f"warnings {len(output.warnings)}",
        f"  image sets created {summary.generated_image_sets}",
    ]
    for image_set in summary.image_sets:
        primary = {True: "primary", False: "not primary", None: "primary: unknown"}[image_set.is_primary]
        lines.append(f"    {image_set.image_set_id} version {image_set.image_set_version} ({primary})")
    if output.failed:
        lines.append(f"  failed files ({len(output.failed)}):")
        lines += [f"    {failure.input_file}: {failure.reason}" for failure in output.failed]
    if output.warnings:
        lines.append(f"  files with warnings ({len(output.warnings)}):")
        lines += [f"    {warned.input_file}: {'; '.join(warned.warnings)}" for warned in output.warnings]
    if status.job_status == "COMPLETED" and output.failed:
        lines.append("  COMPLETED with failed files: this job is a partial import.")
    return "\n".join(lines) + "\n"


def _jobs(args: argparse.Namespace) -> int:
    from ahiops.job_history import job_report, job_report_to_json, job_status_to_json, list_import_jobs
    from ahiops.session import make_client

    outputs = ops_common.stack_outputs_from_args(args)
    session = ops_common.session_from_args(args, outputs)
    client = make_client(session, "medical-imaging")
    if args.job_id is None:
        jobs = list_import_jobs(client, outputs.datastore_id, status=args.status, limit=args.limit or None)
        if args.json:
            ops_common.print_json(
                {"datastoreId": outputs.datastore_id, "jobs": [job_status_to_json(job) for job in jobs]}
            )
        else:
            sys.stdout.write(render_job_list(outputs.datastore_id, jobs))
        return 0
    report = job_report(
        client, make_client(session, "s3"), outputs.datastore_id, args.job_id, expected_bucket_owner=outputs.account_id
    )
    if args.json:
        ops_common.print_json(job_report_to_json(report))
    else:
        sys.stdout.write(render_job_report(report))
    if report.output_error:
        print(f"error: the job's results could not be read: {report.output_note}", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    def on_failure(message: str, exit_code: int, aws_error_code: str | None) -> None:
        if args.json:
            ops_common.print_json({"error": ops_common.error_json(message, exit_code, aws_error_code)})

    return ops_common.run_command(
        lambda: _jobs(args), interrupt_message="interrupted; jobs only reads, nothing changed.", on_failure=on_failure
    )

"""``python -m ahictl import PATH``: import a folder of DICOM Part 10 files into the stack's data store.

The work is done by :mod:`ahiops.importer`; this module reads the flags, shows progress on stderr (a tqdm bar,
only on a terminal and never with --json), and prints the plan or the report on stdout (text, or one JSON
document with --json). Exit 0 when every file was imported, 1 for a partial or failed import or an AWS
failure, 2 for bad input, 130 after Ctrl-C (run the same command again to resume).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ops_common

if TYPE_CHECKING:
    from ahiops.importer import ImportResult
    from ahiops.planning import ImportPlan
    from ahiops.stack_outputs import StackOutputs

INTERRUPT_MESSAGE = (
    "interrupted. Run the same command again to resume: files already uploaded are not uploaded again, and jobs "
    "already started are not started twice (it waits for them and reports them)."
)
#: Skipped or failed files listed by name in the text report before "... and N more" (--json lists all).
LISTED = 20


def _count(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value

    return parse


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "import",
        help="upload a folder of DICOM Part 10 files and import it into the data store",
        description="Walk PATH (DICOM Part 10 files are kept, every other file is reported as skipped), split the "
        "files into import jobs within HealthImaging's limits, upload them under a prefix derived from their "
        "content (imports/<digest>/job-0001/...), start one import job per part with a content-derived client "
        "token, wait for every job and report what was imported and what failed, with the reasons. Running the "
        "same command again uploads nothing twice and starts nothing twice. Exit 0 when every file was imported, "
        "1 for a partial or failed import, 2 for bad input.",
    )
    parser.add_argument("path", metavar="PATH", type=Path, help="a folder of DICOM Part 10 files (or one file)")
    ops_common.add_stack_arguments(parser)
    parser.add_argument(
        "--max-files-per-job",
        type=_count(1),
        default=5000,
        metavar="N",
        help="files per import job (default 5000, HealthImaging's quota; raise it only if the quota was raised)",
    )
    parser.add_argument(
        "--max-concurrent-jobs",
        type=_count(1),
        metavar="N",
        help="import jobs running at once (default: the data store's quota, 100; 20 in ap-southeast-2)",
    )
    parser.add_argument(
        "--concurrency", type=_count(1), metavar="N", help="files uploaded at once (default: 64, or 10 without awscrt)"
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="start a new attempt of each job that an earlier run of the same import left FAILED (fix the cause "
        "first); without it a rerun reports the FAILED job again and never restarts it",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (jobs, files, bytes, skipped files) and stop: nothing is uploaded or started",
    )


def run(args: argparse.Namespace) -> int:
    return ops_common.run_command(lambda: _run(args), interrupt_message=INTERRUPT_MESSAGE)


def _run(args: argparse.Namespace) -> int:
    from ahiops import importer

    outputs = ops_common.stack_outputs_from_args(args)
    options = importer.ImportOptions(
        max_files_per_job=args.max_files_per_job,
        max_concurrent_jobs=args.max_concurrent_jobs,
        upload_concurrency=args.concurrency,
        retry_failed=args.retry_failed,
    )
    plan = importer.prepare(args.path, outputs, options)
    if args.dry_run:
        if args.json:
            ops_common.print_json(importer.plan_to_json(plan, outputs))
        else:
            sys.stdout.write(render_plan(plan, outputs, args.path))
        return 0
    session = ops_common.session_from_args(args, outputs)
    show_progress = not args.json and sys.stderr.isatty()
    callbacks, close = _callbacks(quiet=args.json, show_progress=show_progress)
    try:
        result = importer.run_import(session, outputs, plan, options, callbacks)
    finally:
        close()
    if args.json:
        ops_common.print_json(importer.result_to_json(result))
    else:
        sys.stdout.write(render_result(result, outputs))
    return 0 if result.ok else 1


def _callbacks(*, quiet: bool, show_progress: bool) -> tuple[Any, Any]:
    from ahiops.importer import ImportCallbacks

    state: dict[str, Any] = {"bar": None, "files": 0, "total": 0}

    def say(text: str) -> None:
        bar = state["bar"]
        if bar is not None:
            bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def on_upload_start(files: int, nbytes: int) -> None:
        state["total"] = files
        if show_progress:
            from tqdm import tqdm

            state["bar"] = tqdm(
                total=nbytes, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, desc="upload", leave=True
            )
            state["bar"].set_postfix_str(f"0/{files} files")

    def on_upload_progress(files: int, nbytes: int) -> None:
        bar = state["bar"]
        state["files"] += files
        if bar is not None:
            if files:
                bar.set_postfix_str(f"{state['files']}/{state['total']} files", refresh=False)
            bar.update(nbytes)

    def on_upload_end(report: Any) -> None:
        close()
        if not quiet:
            say(
                f"uploaded {report.uploaded} file(s), {report.uploaded_bytes:,} bytes in {report.seconds:.1f} s; "
                f"{report.already_present} already in S3"
                + (
                    f"; {report.replaced} of the uploads replaced an object with other bytes at the same key "
                    "(kept as an older version)"
                    if report.replaced
                    else ""
                )
            )
            if report.unverified:
                say(
                    f"warning: {report.unverified} file(s) of the same size as the object at their key were uploaded "
                    "again: S3 refused to show the stored checksums (HeadObject needs s3:GetObject on the staged "
                    "objects, and kms:Decrypt on the bucket key through S3). Nothing is lost (the bucket keeps "
                    "versions); grant those to skip them next time."
                )

    def close() -> None:
        bar = state["bar"]
        if bar is not None:
            bar.close()
            state["bar"] = None

    callbacks = ImportCallbacks(
        on_message=None if quiet else say,
        on_wait=say,
        on_upload_start=on_upload_start,
        on_upload_progress=on_upload_progress,
        on_upload_end=on_upload_end,
    )
    return callbacks, close


def _listing(lines: list[str]) -> str:
    shown = [f"  {line}\n" for line in lines[:LISTED]]
    if len(lines) > LISTED:
        shown.append(f"  ... and {len(lines) - LISTED} more (--json lists all)\n")
    return "".join(shown)


def render_plan(plan: ImportPlan, outputs: StackOutputs, path: Path) -> str:
    from ahiops.importer import input_s3_uri

    limits = plan.limits
    text = (
        f"Plan for {path}: {plan.file_count} DICOM Part 10 file(s), {plan.total_bytes:,} bytes, in "
        f"{len(plan.jobs)} import job(s) (at most {limits.max_files:,} files, {limits.max_bytes:,} bytes and "
        f"{limits.max_folders:,} folders each); {len(plan.skipped)} file(s) skipped.\n"
    )
    rows = [
        (job.label, str(len(job.files)), f"{job.total_bytes:,}", str(job.folder_count), input_s3_uri(outputs, job))
        for job in plan.jobs
    ]
    text += ops_common.render_table(("JOB", "FILES", "BYTES", "FOLDERS", "INPUT"), rows)
    if plan.skipped:
        text += "Skipped:\n" + _listing([f"{item.relative_path}: {item.reason}" for item in plan.skipped])
    return text + "Dry run: nothing was uploaded or started.\n"


def render_result(result: ImportResult, outputs: StackOutputs) -> str:
    plan = result.plan
    text = (
        f"Imported {result.imported} of {plan.file_count} file(s) into data store {outputs.datastore_id} "
        f"in {len(result.jobs)} job(s).\n"
    )
    rows = []
    for job in result.jobs:
        summary = job.output.summary if job.output is not None else None
        rows.append(
            (
                job.planned.label,
                job.status.job_id,
                job.status.job_status,
                str(len(job.planned.files)),
                str(job.imported),
                str(len(job.failed)),
                str(len(job.output.warnings)) if job.output is not None else "-",
                str(summary.generated_image_sets) if summary is not None else "-",
            )
        )
    text += ops_common.render_table(
        ("JOB", "JOB ID", "STATUS", "FILES", "IMPORTED", "FAILED", "WARNINGS", "IMAGE SETS"), rows
    )
    for job in result.jobs:
        if job.status.job_status == "FAILED":
            text += f"{job.planned.label}: job {job.status.job_id} FAILED: {job.status.message or 'no message'}\n"
    if any(job.status.job_status == "FAILED" for job in result.jobs):
        text += "Fix the cause, then run the same command with --retry-failed to start new attempts of FAILED jobs.\n"
    if plan.skipped:
        text += f"Skipped ({len(plan.skipped)}, not imported):\n" + _listing(
            [f"{item.relative_path}: {item.reason}" for item in plan.skipped]
        )
    if result.failed:
        text += f"Failed ({len(result.failed)}):\n" + _listing(
            [f"{item.file}: {item.reason}" for item in result.failed]
        )
    warnings = [
        f"{item.input_file}: {'; '.join(item.warnings)}"
        for job in result.jobs
        if job.output is not None
        for item in job.output.warnings
    ]
    if warnings:
        text += f"Warnings ({len(warnings)}):\n" + _listing(warnings)
    text += "All files imported.\n" if result.ok else "Not every file was imported (exit 1).\n"
    return text

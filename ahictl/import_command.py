"""``python -m ahictl import PATH``: import a folder of DICOM Part 10 files into the stack's data store.

The work is done by :mod:`ahiops.folder_import`; this module reads the flags, shows progress on stderr (a tqdm bar on a
terminal without --json; otherwise a line every few seconds, the first one at once), and prints the plan or the
report on stdout (text, or one JSON document with --json, also when the import stops: then with what was done and an
``error`` member). Exit 0 when every file was imported, 1 for a partial or failed import or an AWS failure, 2 for bad
input, 130 after Ctrl-C (run the same command again to resume).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ops_common

if TYPE_CHECKING:
    from ahiops.folder_import import ImportResult
    from ahiops.planning import ImportPlan
    from ahiops.stack_outputs import StackOutputs

INTERRUPT_MESSAGE = (
    "interrupted. Run the same command again to resume: files already uploaded are not uploaded again, and jobs "
    "already started are not started twice (it waits for them and reports them)."
)
#: Skipped or failed files listed by name in the text report before "... and N more" (--json lists all).
LISTED = 20
#: Seconds between progress lines on stderr when there is no progress bar (--json, or not a terminal).
PROGRESS_LINE_SECONDS = 5.0


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
    parser.add_argument(
        "path",
        metavar="PATH",
        help="a folder of DICOM Part 10 files (or one file); an empty PATH is refused (give '.' for the current folder)",
    )
    ops_common.add_stack_arguments(parser)
    from ahiops import limits

    lower_quotas = "".join(f"; {count} in {region}" for region, count in limits.MAX_CONCURRENT_JOBS_BY_REGION.items())
    parser.add_argument(
        "--max-files-per-job",
        type=_count(1),
        default=limits.MAX_FILES_PER_JOB,
        metavar="N",
        help=f"files per import job (default {limits.MAX_FILES_PER_JOB}, HealthImaging's quota; raise it only if the "
        "quota was raised)",
    )
    parser.add_argument(
        "--max-concurrent-jobs",
        type=_count(1),
        metavar="N",
        help=f"import jobs running at once (default: the data store's quota, {limits.DEFAULT_MAX_CONCURRENT_JOBS}"
        f"{lower_quotas})",
    )
    parser.add_argument(
        "--concurrency",
        type=_count(1),
        metavar="N",
        help=f"files uploaded at once, at most {limits.MAX_CONCURRENCY} (default: {limits.DEFAULT_CONCURRENCY['crt']}, "
        f"or {limits.DEFAULT_CONCURRENCY['classic']} without awscrt)",
    )
    parser.add_argument(
        "--reimport",
        action="store_true",
        help="import again files whose content an earlier job already imported into this data store (default: they "
        "are reported as already imported, with the job, and not imported again)",
    )
    parser.add_argument(
        "--follow-links",
        action="store_true",
        help="follow symbolic links to files and folders, also outside PATH (each folder walked once); default: every "
        "link is skipped and listed with what it points to",
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="start a new attempt of each job that an earlier run left FAILED, and import again the files that failed "
        "in a COMPLETED job (fix the cause first); without it a rerun reports them again and never restarts them",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (jobs, files, bytes, skipped files) and stop: nothing is uploaded or started",
    )
    ops_common.usage_errors_as_json(parser, usage_failure_json)


def usage_failure_json(message: str) -> dict[str, Any]:
    """The ``--json`` document of a run refused for its arguments (nothing was done)."""
    from ahiops.folder_import import ImportProgress, failure_to_json

    return failure_to_json(ImportProgress(), message, 2, None)


def run(args: argparse.Namespace) -> int:
    from ahiops.folder_import import ImportProgress, failure_to_json

    progress = ImportProgress()

    def on_failure(message: str, exit_code: int, aws_error_code: str | None) -> None:
        if args.json:
            ops_common.print_json(
                failure_to_json(progress, message, exit_code, aws_error_code, reimport=bool(args.reimport))
            )

    return ops_common.run_command(
        lambda: _run(args, progress), interrupt_message=INTERRUPT_MESSAGE, on_failure=on_failure
    )


def validate_arguments(args: argparse.Namespace) -> Path:
    """The checks argparse cannot make, as usage errors (so that --json reports them too); returns PATH."""
    from ahiops.errors import UsageError
    from ahiops.upload import check_concurrency

    if not str(args.path).strip():
        raise UsageError(
            "PATH is empty (an unset shell variable?): give the folder to import, for example ./study-2024; "
            "to import the current folder, give '.'."
        )
    if args.concurrency is not None:
        check_concurrency(args.concurrency)
    return Path(args.path)


def _run(args: argparse.Namespace, progress: Any) -> int:
    from ahiops import folder_import

    path = validate_arguments(args)
    reporter = _Reporter(tty=sys.stderr.isatty(), json_output=args.json)
    reporter.say(f"import: looking at the files under '{_shown(str(path))}'")
    outputs = ops_common.stack_outputs_from_args(args)
    options = folder_import.ImportOptions(
        max_files_per_job=args.max_files_per_job,
        max_concurrent_jobs=args.max_concurrent_jobs,
        upload_concurrency=args.concurrency,
        retry_failed=args.retry_failed,
        reimport=args.reimport,
        follow_links=args.follow_links,
    )
    plan = folder_import.prepare(path, outputs, options, on_file=reporter.looked_at, on_hashed=reporter.hashed)
    reporter.say(
        f"import: {plan.file_count:,} DICOM Part 10 file(s), {plan.total_bytes:,} bytes; "
        f"{len(plan.skipped):,} file(s) skipped"
    )
    if args.dry_run:
        if args.json:
            ops_common.print_json(folder_import.plan_to_json(plan, outputs))
        else:
            sys.stdout.write(render_plan(plan, outputs, path))
        return 0
    session = ops_common.session_from_args(args, outputs)
    try:
        result = folder_import.run_import(session, outputs, plan, options, reporter.callbacks(), progress)
    finally:
        reporter.close()
    if args.json:
        ops_common.print_json(folder_import.result_to_json(result))
    else:
        sys.stdout.write(render_result(result, outputs))
    return 0 if result.ok else 1


def _shown(text: str) -> str:
    from ahiops.discovery import printable

    return printable(text)


class _Reporter:
    """Progress on stderr: a tqdm bar for the upload on a terminal without --json; otherwise a line at most every
    :data:`PROGRESS_LINE_SECONDS` (and at the end of each step), so that a run without a terminal is never silent."""

    def __init__(self, *, tty: bool, json_output: bool) -> None:
        self.bar_wanted = tty and not json_output
        self.bar: Any = None
        self.counts = {
            "looked": 0,
            "hashed": 0,
            "hashed_bytes": 0,
            "files": 0,
            "bytes": 0,
            "total": 0,
            "total_bytes": 0,
        }
        self.last_line = time.monotonic()

    def say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def _due(self) -> bool:
        now = time.monotonic()
        if now - self.last_line >= PROGRESS_LINE_SECONDS:
            self.last_line = now
            return True
        return False

    def looked_at(self) -> None:
        self.counts["looked"] += 1
        if self._due():
            self.say(f"import: {self.counts['looked']:,} file(s) looked at")

    def hashed(self, files: int, nbytes: int) -> None:
        self.counts["hashed"] += files
        self.counts["hashed_bytes"] += nbytes
        if self._due():
            self.say(f"import: {self.counts['hashed']:,} file(s) fingerprinted ({self.counts['hashed_bytes']:,} bytes)")

    def on_upload_start(self, files: int, nbytes: int) -> None:
        self.counts.update(total=files, total_bytes=nbytes, files=0, bytes=0)
        if self.bar_wanted:
            from tqdm import tqdm

            self.bar = tqdm(
                total=nbytes, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, desc="upload", leave=True
            )
            self.bar.set_postfix_str(f"0/{files} files")
        elif files:
            self.say(f"import: checking and uploading {files:,} file(s), {nbytes:,} bytes")
            self.last_line = time.monotonic()

    def on_upload_progress(self, files: int, nbytes: int) -> None:
        self.counts["files"] += files
        self.counts["bytes"] += nbytes
        if self.bar is not None:
            if files:
                self.bar.set_postfix_str(f"{self.counts['files']}/{self.counts['total']} files", refresh=False)
            self.bar.update(nbytes)
        elif self._due():
            self.say(
                f"import: {self.counts['files']:,}/{self.counts['total']:,} file(s), "
                f"{self.counts['bytes']:,}/{self.counts['total_bytes']:,} bytes in S3"
            )

    def on_upload_end(self, report: Any) -> None:
        self.close()
        self.say(
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
            self.say(
                f"warning: {report.unverified} file(s) of the same size as the object at their key were uploaded "
                "again: S3 refused to show the stored checksums (HeadObject needs s3:GetObject on the staged "
                "objects, and kms:Decrypt on the bucket key through S3). Nothing is lost (the bucket keeps "
                "versions); grant those to skip them next time."
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def callbacks(self) -> Any:
        from ahiops.folder_import import ImportCallbacks

        return ImportCallbacks(
            on_message=self.say,
            on_wait=self.say,
            on_upload_start=self.on_upload_start,
            on_upload_progress=self.on_upload_progress,
            on_upload_end=self.on_upload_end,
        )


def _listing(lines: list[str]) -> str:
    shown = [f"  {line}\n" for line in lines[:LISTED]]
    if len(lines) > LISTED:
        shown.append(f"  ... and {len(lines) - LISTED} more (--json lists all)\n")
    return "".join(shown)


def render_plan(plan: ImportPlan, outputs: StackOutputs, path: Path) -> str:
    from ahiops.folder_import import input_s3_uri

    limits = plan.limits
    text = (
        f"Plan for {_shown(str(path))}: {plan.file_count} DICOM Part 10 file(s), {plan.total_bytes:,} bytes, in "
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
    return text + (
        "Dry run: nothing was uploaded or started. A run leaves out files that earlier jobs already imported into "
        "the data store (it reads the import ledger, which a dry run does not).\n"
    )


def render_result(result: ImportResult, outputs: StackOutputs) -> str:
    plan = result.plan
    text = (
        f"Imported {result.imported} of {plan.file_count} file(s) into data store {outputs.datastore_id} "
        f"in {len(result.jobs)} job(s).\n"
    )
    earlier = [job for job in result.jobs if job.earlier]
    if earlier:
        by_job = ", ".join(f"job {job.status.job_id} ({job.imported})" for job in earlier if job.imported)
        text += (
            f"{result.already_imported} of them were already imported by earlier jobs ({by_job or 'none'}) and were "
            "not imported again (--reimport imports them again).\n"
        )
    rows = []
    for job in result.jobs:
        summary = job.output.summary if job.output is not None else None
        rows.append(
            (
                job.planned.label,
                job.status.job_id,
                job.status.job_status + (" (earlier)" if job.earlier else ""),
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
    for job in result.jobs:
        if job.outside_path:
            text += (
                f"{job.planned.label} (job {job.status.job_id}), an earlier run's job taken on, also held "
                f"{len(job.outside_path)} file(s) not under PATH: {len(job.imported_keys & job.outside_path)} of "
                "them imported (not counted above).\n"
            )
    if result.left_alone:
        text += (
            f"{len(result.left_alone)} unfinished import job(s) of another folder were left alone (they hold none of "
            "the files under PATH).\n"
        )
    for record in result.abandoned:
        text += (
            f"{len(record.files)} file(s) staged under s3://{outputs.input_bucket_name}/{record.prefix} by an earlier run "
            "that never started its job are in no job (the folder changed since); they stay in the input bucket.\n"
        )
    text += "All files imported.\n" if result.ok else "Not every file was imported (exit 1).\n"
    return text

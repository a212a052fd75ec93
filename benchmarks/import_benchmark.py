"""How soon `ahictl import` says something, and how much memory it takes, on a folder of 20,000 files.

Usage: ``venv/bin/python benchmarks/import_benchmark.py [--files 20000] [--size 2048] [--rounds 3] [--full] [--json]``

The folder holds ``--files`` DICOM Part 10 files (a 128-byte preamble, ``DICM``, then random bytes, so every file has
its own content) in folders of 200. ``python -m ahictl import FOLDER --dry-run`` runs on it as a subprocess with
stdout and stderr on pipes (no terminal), with and without ``--json``: everything the import does before its first
AWS call (walk, Part 10 check, CRC64NVME of every file, plan of 5,000 files a job, validation of every start), and
no AWS call at all. For each run it records, from the child's pipes and rusage:

- the time until the first byte on stderr (progress) and on stdout (the plan or report, written at the end), and
  the wall time: the baseline of the same run is stdout's first byte, which is all a script or a log saw before
  progress went to stderr without a terminal;
- peak RSS (max resident set size of the child) and its CPU-seconds.

With ``--full`` a folder of as many valid DICOM files (pydicom's CT sample, each with its own SOP instance UID) is
also imported for real, once with ``--json``: S3 and STS are moto's server and HealthImaging is the tests' stand-in
(``testkit/fakes``), all in this process on 127.0.0.1. moto stores every byte in one Python process (about 190 PUTs/s),
so the wall time of that run says little; its first bytes and the child's peak RSS are the figures.

The figures depend on the machine and its load; this is a benchmark, not a timed test. The upload itself (and its
peak RSS) is measured by ``benchmarks/stage_benchmark.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

# Run as a file (python benchmarks/import_benchmark.py): the project's packages are one level up.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ahictl.repository import REPOSITORY_ROOT

PROJECT_DIR: Final = REPOSITORY_ROOT
PART10_HEADER: Final = bytes(128) + b"DICM"
FILES_PER_FOLDER: Final = 200
RUN_TIMEOUT_SECONDS: Final = 1800.0
#: Stack outputs of the right shapes (a dry run makes no AWS call with them).
OUTPUTS: Final = {
    "accountId": "123456789012",
    "region": "us-east-1",
    "inputBucketName": "benchmark-input",
    "outputBucketName": "benchmark-output",
    "datastoreId": "0123456789abcdef0123456789abcdef",
    "datastoreArn": "arn:aws:medical-imaging:us-east-1:123456789012:datastore/0123456789abcdef0123456789abcdef",
    "importRoleArn": "arn:aws:iam::123456789012:role/benchmark-import",
}


@dataclass(frozen=True)
class Run:
    mode: str
    wall_seconds: float
    first_stderr_seconds: float | None
    first_stdout_seconds: float | None
    peak_rss_mb: float
    cpu_seconds: float
    jobs: int | None
    exit_code: int


def make_folder(root: Path, files: int, size: int) -> None:
    payload = max(size - len(PART10_HEADER), 0)
    for index in range(files):
        folder = root / f"series{index // FILES_PER_FOLDER:04d}"
        if index % FILES_PER_FOLDER == 0:
            folder.mkdir(parents=True)
        (folder / f"image{index:06d}.dcm").write_bytes(PART10_HEADER + os.urandom(payload))


def make_dicom_folder(root: Path, files: int) -> None:
    """``files`` copies of pydicom's CT sample, each with its own SOP instance UID (the same length in bytes)."""
    import pydicom
    from pydicom.data import get_testdata_file

    sample = Path(str(get_testdata_file("CT_small.dcm")))
    uid = str(pydicom.dcmread(sample, stop_before_pixels=True).SOPInstanceUID).encode()
    template = sample.read_bytes()
    for index in range(files):
        folder = root / f"series{index // FILES_PER_FOLDER:04d}"
        if index % FILES_PER_FOLDER == 0:
            folder.mkdir(parents=True)
        own = uid[:-7] + f"{index:07d}".encode()
        (folder / f"image{index:06d}.dcm").write_bytes(template.replace(uid, own))


def run_import(
    folder: Path, outputs: Path, *, json_output: bool, dry_run: bool = True, env: dict[str, str] | None = None
) -> Run:
    command = [sys.executable, "-m", "ahictl", "import", str(folder), "--outputs", str(outputs)]
    if dry_run:
        command.append("--dry-run")
    if json_output:
        command.append("--json")
    started = time.monotonic()
    child = subprocess.Popen(  # noqa: S603
        command, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert child.stdout is not None
    assert child.stderr is not None
    first: dict[str, float | None] = {"stdout": None, "stderr": None}
    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ, "stdout")
    selector.register(child.stderr, selectors.EVENT_READ, "stderr")
    open_streams = 2
    while open_streams:
        if time.monotonic() - started > RUN_TIMEOUT_SECONDS:
            child.kill()
            raise SystemExit(f"the import ran longer than {RUN_TIMEOUT_SECONDS:.0f} s")
        for key, _ in selector.select(timeout=1.0):
            data = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
            if not data:
                selector.unregister(key.fileobj)
                open_streams -= 1
                continue
            if first[key.data] is None:
                first[key.data] = time.monotonic() - started
            chunks[key.data].append(data)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1) or (code == 1 and dry_run):
        raise SystemExit(f"the import failed (exit {code}): {b''.join(chunks['stderr']).decode(errors='replace')}")
    jobs = len(json.loads(b"".join(chunks["stdout"]))["jobs"]) if json_output else None
    return Run(
        mode=" ".join(flag for flag, on in (("--dry-run", dry_run), ("--json", json_output)) if on) or "import",
        wall_seconds=wall,
        first_stderr_seconds=first["stderr"],
        first_stdout_seconds=first["stdout"],
        peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        jobs=jobs,
        exit_code=code,
    )


def full_import(root: Path, files: int) -> Run:
    """Import ``files`` valid DICOM files for real: moto (S3, STS) and the HealthImaging stand-in on loopback."""
    import boto3

    from sandbox.services import LoopbackAws, client_environment

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
    folder = root / "dicom"
    make_dicom_folder(folder, files)
    aws = LoopbackAws().start()  # what `ahictl sandbox up` starts
    moto, fake = aws.moto, aws.healthimaging
    try:
        fake.polls_until_done = 0
        datastore_id, datastore_arn = fake.create_datastore("benchmark")
        env = {
            **{name: value for name, value in os.environ.items() if not name.startswith("AWS_")},
            **client_environment(aws.endpoints(), aws.region),
            "AWS_CONFIG_FILE": str(root / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(root / "no-credentials"),
        }
        s3 = boto3.client(
            "s3",
            endpoint_url=moto.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's dummy value
        )
        for bucket in (OUTPUTS["inputBucketName"], OUTPUTS["outputBucketName"]):
            s3.create_bucket(Bucket=bucket)
        outputs = root / "full-outputs.json"
        outputs.write_text(json.dumps({**OUTPUTS, "datastoreId": datastore_id, "datastoreArn": datastore_arn}))
        return run_import(folder, outputs, json_output=True, dry_run=False, env=env)
    finally:
        aws.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000, help="files in the folder (default 20,000)")
    parser.add_argument("--size", type=int, default=2048, help="bytes per file (default 2048)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each mode, alternating (default 3)")
    parser.add_argument("--json", action="store_true", help="print every run as JSON")
    parser.add_argument(
        "--full", action="store_true", help="also import the folder for real into moto and the HealthImaging stand-in"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ahictl-import-benchmark-") as scratch:
        root = Path(scratch)
        folder = root / "studies"
        started = time.monotonic()
        make_folder(folder, args.files, args.size)
        outputs = root / "outputs.json"
        outputs.write_text(json.dumps(OUTPUTS))
        print(
            f"{args.files:,} files of {args.size:,} bytes written in {time.monotonic() - started:.1f} s; "
            f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, Python {platform.python_version()}",
            file=sys.stderr,
        )
        runs = [
            run_import(folder, outputs, json_output=json_output)
            for _ in range(args.rounds)
            for json_output in (True, False)
        ]
        if args.full:
            runs.append(full_import(root, args.files))
    if args.json:
        print(json.dumps([asdict(run) for run in runs], indent=2))
        return 0
    print(
        f"{'mode':<18} {'wall':>8} {'1st byte stderr':>16} {'1st byte stdout':>16} {'stderr/stdout':>14} {'peak RSS':>9} {'CPU':>7}"
    )
    for mode in dict.fromkeys(run.mode for run in runs):
        of_mode = [run for run in runs if run.mode == mode]

        def median(values: list[float]) -> float:
            return statistics.median(values)

        stderr_first = median([run.first_stderr_seconds or run.wall_seconds for run in of_mode])
        stdout_first = median([run.first_stdout_seconds or run.wall_seconds for run in of_mode])
        ratio = median(
            [
                (run.first_stderr_seconds or run.wall_seconds) / (run.first_stdout_seconds or run.wall_seconds)
                for run in of_mode
            ]
        )
        print(
            f"{mode:<18} {median([run.wall_seconds for run in of_mode]):>7.2f}s {stderr_first:>15.3f}s "
            f"{stdout_first:>15.3f}s {ratio:>13.4f}x {max(run.peak_rss_mb for run in of_mode):>7.0f}MB "
            f"{median([run.cpu_seconds for run in of_mode]):>6.2f}s"
        )
    jobs = {run.jobs for run in runs if run.jobs is not None}
    print(f"jobs planned: {', '.join(str(count) for count in sorted(jobs))}; medians of {args.rounds} round(s)")
    for run in runs:
        if run.mode == "--json":
            print(f"the real import exited {run.exit_code} (0: every file imported)")
    print(
        f"this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB peak (it writes the folder; "
        "with --full it also runs moto's server, which keeps every byte, and the HealthImaging stand-in)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

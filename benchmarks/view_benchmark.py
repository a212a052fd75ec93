"""How much of the DICOMweb throughput `ahictl view`'s signing proxy keeps, against direct signed requests, with
the sandbox's HealthImaging emulator as the service.

Usage: ``venv/bin/python benchmarks/view_benchmark.py [--rounds 3] [--frames 2000] [--size 512] [--json]``

The HealthImaging emulator (sandbox/healthimaging.py: verifies every SigV4 signature) runs in a process of its own,
with one data store holding ``--instances`` slices of pydicom's ``CT_small.dcm`` enlarged to ``--size`` x ``--size``
(16-bit: 512 KiB frames by default), and ``python -m ahictl view --no-browser`` in another, pointed at the data
store's DICOMweb root through a stack outputs file. In each round, alternately:

- ``direct``: this process signs each frame request itself (botocore's SigV4Auth, as the proxy does) and sends it to
  the emulator, on 32 threads with one kept-alive connection each: the baseline;
- ``proxy``: the same requests, unsigned, with the viewer's cookie, to the proxy, which signs and forwards them.

Each mode fetches ``--frames`` frames (the slices in turn) at 32 concurrent requests and records frames/s and MB/s;
and, before that, the time to the first frame: one request on a new connection with nothing else running. Every
answer must be 200 with the whole frame; every DICOMweb request the emulator saw must be SigV4-signed and answered
200. It prints the medians, the ratio proxy/direct (per round, then the median; goal >= 0.8) and the command's peak
RSS (VmHWM of its process, which includes the Python interpreter; goal <= 150 MB). Not a timed test: the figures
depend on the machine and its load (the client, the proxy and the emulator share its cores).

``--own-core`` models a user's machine, where the data store is a distant service and the proxy competes with
nothing but the browser: the emulator and this process (the client) are pinned to the first core, ``ahictl view``
to the second (every thread of each, with ``sched_setaffinity``). Both modes then have the same core for the
emulator and the client, and the ratio says whether the proxy keeps up with what they produce. Without it, all
three share every core, and the proxy's CPU is taken from the emulator and the client of its own measurement.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Run as a file (python benchmarks/view_benchmark.py): the project's packages are one level up.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pydicom
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pydicom.uid import generate_uid

from ahictl.repository import REPOSITORY_ROOT
from sandbox import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, TEST_REGION
from testkit.dicom_samples import sample
from testkit.view_process import ViewProcess, dummy_aws_environment, write_outputs

CONCURRENCY = 32
ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"
RSS_GOAL_MB = 150
RATIO_GOAL = 0.8


@dataclass(frozen=True)
class Target:
    """Where one mode sends its requests, and how it makes their headers."""

    host: str
    port: int
    sign: bool
    cookie: str | None


@dataclass(frozen=True)
class Figures:
    mode: str
    first_frame_seconds: float
    frames_per_second: float
    megabytes_per_second: float
    #: CPU-seconds (user + system) of the ahictl view process per 1,000 frames (0 for direct requests).
    proxy_cpu_per_1000: float


def enlarged_ct(size: int, number: int) -> bytes:
    """pydicom's ``CT_small.dcm`` enlarged to ``size`` x ``size`` (its pixels tiled), as instance ``number`` of one
    series: a Part 10 file to import."""
    dataset = pydicom.dcmread(sample("CT_small.dcm"))
    repeat = size // int(dataset.Columns)
    row_bytes = int(dataset.Columns) * 2
    rows = [dataset.PixelData[r * row_bytes : (r + 1) * row_bytes] * repeat for r in range(int(dataset.Rows))]
    dataset.PixelData = b"".join(rows) * repeat
    dataset.Rows = dataset.Columns = size
    dataset.SeriesInstanceUID = generate_uid(entropy_srcs=["view-benchmark-series", str(size)])
    dataset.SOPInstanceUID = generate_uid(entropy_srcs=["view-benchmark-instance", str(size), str(number)])
    dataset.InstanceNumber = number
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def serve_emulator(instances: int, size: int, latency_ms: float) -> None:
    """The HealthImaging emulator in this process until standard input closes, with one data store holding
    ``instances`` enlarged CT slices; prints its DICOMweb root, data store and frame paths as JSON, and at the end
    how many DICOMweb requests it answered and how many of them were not SigV4-signed or not 200."""
    from sandbox.dicom_store import parse_part10
    from sandbox.healthimaging import HealthImagingEmulator
    from sandbox.rest_json import HttpRequest, HttpResponse

    emulator = HealthImagingEmulator()
    emulator.start()
    try:
        datastore_id, _ = emulator.create_datastore("view-benchmark")
        parsed = [parse_part10(enlarged_ct(size, number)) for number in range(1, instances + 1)]
        emulator.store.add(datastore_id, parsed)
        if latency_ms:
            answer = emulator.dicomweb.handle

            def distant(request: HttpRequest) -> HttpResponse:
                time.sleep(latency_ms / 1000)
                return answer(request)

            emulator.dicomweb.handle = distant  # type: ignore[method-assign]
        paths = [
            f"/studies/{i.study_instance_uid}/series/{i.series_instance_uid}/instances/{i.sop_instance_uid}/frames/1"
            for i in parsed
        ]
        root = emulator.dicomweb_url(datastore_id)
        frame_bytes = len(parsed[0].frames[0])
        print(
            json.dumps({"root": root, "datastore": datastore_id, "paths": paths, "frameBytes": frame_bytes}), flush=True
        )
        sys.stdin.read()
        seen = list(emulator.dicomweb.requests)
        refused = [record for record in seen if not record.signed or record.status != 200]
        print(json.dumps({"requests": len(seen), "refused": len(refused)}), flush=True)
    finally:
        emulator.stop()


def headers_for(target: Target, path: str) -> dict[str, str]:
    headers = {"Accept": ACCEPT}
    if target.sign:
        request = AWSRequest(method="GET", url=f"http://{target.host}:{target.port}{path}", headers=headers)
        credentials = Credentials(DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY)
        SigV4Auth(credentials, "medical-imaging", TEST_REGION).add_auth(request)
        return dict(request.headers.items())
    if target.cookie:
        headers["Cookie"] = target.cookie
    return headers


def fetch(connection: http.client.HTTPConnection, target: Target, path: str, frame_bytes: int) -> int:
    connection.request("GET", path, headers=headers_for(target, path))
    response = connection.getresponse()
    body = response.read()
    if response.status != 200 or len(body) < frame_bytes:
        raise RuntimeError(f"{path}: HTTP {response.status}, {len(body)} bytes: {body[:200]!r}")
    return len(body)


def first_frame(target: Target, path: str, frame_bytes: int) -> float:
    started = time.perf_counter()
    connection = http.client.HTTPConnection(target.host, target.port, timeout=60)
    try:
        fetch(connection, target, path, frame_bytes)
    finally:
        connection.close()
    return time.perf_counter() - started


def throughput(target: Target, paths: list[str], frames: int, frame_bytes: int) -> tuple[float, float]:
    """Frames/s and MB/s of ``frames`` requests at :data:`CONCURRENCY`, one kept-alive connection per thread."""
    local = threading.local()
    connections: list[http.client.HTTPConnection] = []

    def one(index: int) -> int:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(target.host, target.port, timeout=60)
            connections.append(connection)
        return fetch(connection, target, paths[index % len(paths)], frame_bytes)

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        total = sum(pool.map(one, range(frames)))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return frames / elapsed, total / elapsed / 1e6


def cpu_seconds(pid: int) -> float:
    """User + system CPU-seconds of a running process (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc")


def pin(pid: int, cores: set[int]) -> None:
    """Pin every thread of process ``pid`` to ``cores`` (threads it starts later inherit the mask)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cores)


def run(
    rounds: int, frames: int, size: int, instances: int, latency_ms: float, *, own_core: bool = False
) -> dict[str, Any]:
    origin = subprocess.Popen(  # noqa: S603 - this interpreter and this file, fixed arguments
        [
            sys.executable,
            __file__,
            "--serve-emulator",
            "--instances",
            str(instances),
            "--size",
            str(size),
            "--latency-ms",
            str(latency_ms),
        ],
        cwd=REPOSITORY_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert origin.stdin is not None
    assert origin.stdout is not None
    served = json.loads(origin.stdout.readline())
    frame_bytes = served["frameBytes"]
    with tempfile.TemporaryDirectory(prefix="view-benchmark-") as temp:
        work = Path(temp)
        (work / "app").mkdir()
        (work / "app" / "index.html").write_text("<!doctype html>")
        outputs = write_outputs(work / "outputs.json", served["datastore"], served["root"])
        view = ViewProcess(outputs, "--viewer-dir", str(work / "app"), environment=dummy_aws_environment(work))
        if own_core:
            pin(origin.pid, {0})
            pin(os.getpid(), {0})
            pin(view.pid, {1})
        try:
            figures: list[Figures] = []
            parts = urlsplit(view.url)
            assert parts.hostname is not None
            assert parts.port is not None
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            connection.request("GET", f"{parts.path}?{parts.query}")
            cookie = (connection.getresponse().getheader("Set-Cookie") or "").split(";", 1)[0]
            connection.close()
            origin_parts = urlsplit(served["root"])
            assert origin_parts.hostname is not None
            assert origin_parts.port is not None
            targets = {
                "direct": (Target(origin_parts.hostname, origin_parts.port, True, None), origin_parts.path),
                "proxy": (Target(parts.hostname, parts.port, False, cookie), origin_parts.path),
            }
            for round_number in range(rounds):
                order = ["direct", "proxy"] if round_number % 2 == 0 else ["proxy", "direct"]
                for mode in order:
                    target, root_path = targets[mode]
                    paths = [root_path + path for path in served["paths"]]
                    first = first_frame(target, paths[0], frame_bytes)
                    cpu_before = cpu_seconds(view.pid)
                    rate, megabytes = throughput(target, paths, frames, frame_bytes)
                    cpu = (cpu_seconds(view.pid) - cpu_before) * 1000 / frames
                    figures.append(Figures(mode, first, rate, megabytes, cpu))
                    print(
                        f"round {round_number + 1} {mode:6} {rate:8.1f} frames/s {megabytes:7.1f} MB/s "
                        f"first frame {first * 1000:6.1f} ms; ahictl view CPU {cpu:.2f} s per 1,000 frames",
                        file=sys.stderr,
                    )
            rss = peak_rss_mb(view.pid)
        finally:
            code, _, stderr = view.stop()
    origin.stdin.close()
    counts = json.loads(origin.stdout.readline())
    origin.wait(timeout=30)
    if code != 0 or counts["refused"]:
        raise RuntimeError(
            f"view exited {code} ({stderr}); the emulator saw {counts['refused']} requests not signed or not answered"
        )
    summary = summarize(figures, rss, counts["requests"])
    summary["frameBytes"] = frame_bytes
    summary["instances"] = instances
    summary["originLatencyMs"] = latency_ms
    summary["proxyOnOwnCore"] = own_core
    return summary


def summarize(figures: list[Figures], rss_mb: float, requests: int) -> dict[str, Any]:
    def median(mode: str, field: str) -> float:
        return statistics.median(getattr(figure, field) for figure in figures if figure.mode == mode)

    direct = [figure for figure in figures if figure.mode == "direct"]
    proxy = [figure for figure in figures if figure.mode == "proxy"]
    ratios = [p.frames_per_second / d.frames_per_second for d, p in zip(direct, proxy, strict=True)]
    return {
        "concurrency": CONCURRENCY,
        "rounds": len(direct),
        "direct": {
            "framesPerSecond": median("direct", "frames_per_second"),
            "megabytesPerSecond": median("direct", "megabytes_per_second"),
            "firstFrameSeconds": median("direct", "first_frame_seconds"),
        },
        "proxy": {
            "framesPerSecond": median("proxy", "frames_per_second"),
            "megabytesPerSecond": median("proxy", "megabytes_per_second"),
            "firstFrameSeconds": median("proxy", "first_frame_seconds"),
        },
        "proxyCpuSecondsPer1000Frames": median("proxy", "proxy_cpu_per_1000"),
        "ratio": statistics.median(ratios),
        "ratioGoalMet": statistics.median(ratios) >= RATIO_GOAL,
        "peakRssMb": rss_mb,
        "rssGoalMet": rss_mb <= RSS_GOAL_MB,
        "originRequests": requests,
        "machine": {"cores": os.cpu_count(), "loadAverage": os.getloadavg()[0]},
    }


def render(summary: dict[str, Any]) -> str:
    machine = summary["machine"]
    lines = [
        f"{summary['rounds']} rounds at {summary['concurrency']} concurrent requests of {summary['frameBytes'] // 1024} "
        f"KiB frames ({summary['instances']} slices), emulator latency {summary['originLatencyMs']:g} ms; load average {machine['loadAverage']:.2f} "
        f"on {machine['cores']} cores"
        + (
            "; ahictl view on a core of its own, the emulator and the client on the other"
            if summary.get("proxyOnOwnCore")
            else ""
        )
    ]
    for mode in ("direct", "proxy"):
        figures = summary[mode]
        lines.append(
            f"{mode:6}  {figures['framesPerSecond']:8.1f} frames/s  {figures['megabytesPerSecond']:7.1f} MB/s  "
            f"first frame {figures['firstFrameSeconds'] * 1000:6.1f} ms"
        )
    ratio_met = "met" if summary["ratioGoalMet"] else "NOT met"
    rss_met = "met" if summary["rssGoalMet"] else "NOT met"
    lines.append(f"ratio proxy/direct (median of rounds): {summary['ratio']:.2f} (goal >= {RATIO_GOAL}: {ratio_met})")
    lines.append(f"CPU of ahictl view: {summary['proxyCpuSecondsPer1000Frames']:.2f} s per 1,000 frames")
    lines.append(f"peak RSS of ahictl view: {summary['peakRssMb']:.0f} MB (goal <= {RSS_GOAL_MB} MB: {rss_met})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both modes (default 3)")
    parser.add_argument("--frames", type=int, default=2000, help="frames fetched per mode and round (default 2000)")
    parser.add_argument(
        "--size",
        type=int,
        default=512,
        help="rows and columns of each slice, a multiple of 128 (default 512: a 512 KiB frame, a typical CT slice)",
    )
    parser.add_argument("--instances", type=int, default=64, help="slices imported into the data store (default 64)")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="the emulator waits this long before each DICOMweb answer, as a distant service does (default 0: loopback)",
    )
    parser.add_argument(
        "--own-core",
        action="store_true",
        help="pin ahictl view to the second core and the emulator and the client to the first (see above)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    parser.add_argument("--serve-emulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.size <= 0 or args.size % 128:
        parser.error(f"--size {args.size}: give a positive multiple of 128 (the sample's 128 x 128 pixels are tiled)")
    if args.serve_emulator:
        serve_emulator(args.instances, args.size, args.latency_ms)
        return 0
    if args.own_core and (os.cpu_count() or 1) < 2:
        parser.error("--own-core needs at least 2 cores")
    summary = run(args.rounds, args.frames, args.size, args.instances, args.latency_ms, own_core=args.own_core)
    sys.stdout.write(json.dumps(summary, indent=2) + "\n" if args.json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

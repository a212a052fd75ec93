"""Frames per second that the sandbox's HealthImaging emulator serves over DICOMweb, to 32 concurrent clients.

    venv/bin/python benchmarks/dicomweb_benchmark.py [--seconds 3] [--rounds 3] [--clients 32]

The emulator runs in its own process (as ``ahictl sandbox up`` runs it), holding two instances: pydicom's
``CT_small.dcm`` (128 x 128, 16-bit: a 32 KiB frame) and the same image enlarged to 512 x 512 (a 512 KiB frame, a
typical CT slice). Clients are threads of this process, each with one keep-alive connection, sending OHIF's frame
request (``Accept: multipart/related; type=application/octet-stream; transfer-syntax=*``) signed with SigV4 (one
signature per client, reused: the emulator verifies every request). Each round measures one client, then the
concurrent clients, for ``--seconds`` each; the figure is the median over rounds, with the ratio
concurrent / one client measured in the same run. Every answer is checked (status 200 and the frame's bytes); any
error is counted and printed.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pydicom

from testkit.dicom_samples import sample
from testkit.dicomweb_client import OHIF_FRAMES_ACCEPT, sign

STARTUP_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 10
LARGE_SIZE = 512


@dataclass
class Measure:
    clients: int
    frames: int
    errors: int
    seconds: float

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds


def instances() -> list[bytes]:
    """CT_small as it is, and enlarged to 512 x 512 (pixels repeated) under another series."""
    small = sample("CT_small.dcm").read_bytes()
    dataset = pydicom.dcmread(io.BytesIO(small))
    rows = [dataset.PixelData[r * 256 : (r + 1) * 256] * 4 for r in range(128)]
    dataset.PixelData = b"".join(rows) * 4
    dataset.Rows = dataset.Columns = LARGE_SIZE
    dataset.SeriesInstanceUID = pydicom.uid.generate_uid()
    dataset.SOPInstanceUID = pydicom.uid.generate_uid()
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return [small, buffer.getvalue()]


def serve() -> int:
    """The emulator's process: print the frame URLs as one JSON line, serve until standard input closes."""
    from sandbox.dicom_store import parse_part10
    from sandbox.healthimaging import HealthImagingEmulator

    emulator = HealthImagingEmulator()
    emulator.start()
    try:
        datastore_id, _ = emulator.create_datastore("benchmark")
        parsed = [parse_part10(data) for data in instances()]
        emulator.store.add(datastore_id, parsed)
        root = emulator.dicomweb_url(datastore_id)
        urls = {
            f"{i.dataset.Rows}x{i.dataset.Columns}": (
                f"{root}/studies/{i.study_instance_uid}/series/{i.series_instance_uid}"
                f"/instances/{i.sop_instance_uid}/frames/1",
                len(i.frames[0]),
            )
            for i in parsed
        }
        print(json.dumps(urls), flush=True)
        sys.stdin.read()
    finally:
        emulator.stop()
    return 0


def measure(url: str, frame_size: int, clients: int, seconds: float) -> Measure:
    parsed = urllib.parse.urlsplit(url)
    target = parsed.path
    headers = sign("GET", url, {"Accept": OHIF_FRAMES_ACCEPT}, b"")
    counts = [0] * clients
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(str(parsed.hostname), parsed.port, timeout=30)
        start.wait()
        try:
            while time.perf_counter() < deadline[0]:
                connection.request("GET", target, headers=headers)
                response = connection.getresponse()
                body = response.read()
                if response.status == 200 and len(body) > frame_size:
                    counts[index] += 1
                else:
                    errors[index] += 1
        except OSError:
            errors[index] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    elapsed = time.perf_counter() - began
    return Measure(clients, sum(counts), sum(errors), elapsed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of 1 client then N clients (default 3)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    server = subprocess.Popen(  # noqa: S603 - this script, a fixed argument list
        [sys.executable, str(Path(__file__).resolve()), "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line:
            print("the emulator did not start", file=sys.stderr)
            return 1
        urls: dict[str, tuple[str, int]] = json.loads(line)
        failed = False
        for label, (url, frame_size) in urls.items():
            single: list[Measure] = []
            many: list[Measure] = []
            for _ in range(args.rounds):
                single.append(measure(url, frame_size, 1, args.seconds))
                many.append(measure(url, frame_size, args.clients, args.seconds))
            one = statistics.median(m.frames_per_second for m in single)
            concurrent = statistics.median(m.frames_per_second for m in many)
            errors = sum(m.errors for m in single + many)
            failed |= errors > 0
            print(
                f"{label} frame ({frame_size // 1024} KiB): 1 client {one:.0f} frames/s; {args.clients} clients "
                f"{concurrent:.0f} frames/s ({concurrent / one:.2f}x one client, "
                f"{concurrent * frame_size / 2**20:.0f} MiB/s); errors {errors}"
            )
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
        return 1 if failed else 0
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    raise SystemExit(main())

"""How long ``python -m ahictl sandbox up --detach`` takes to be ready, against starting the bare servers.

Usage: ``venv/bin/python benchmarks/sandbox_ready_benchmark.py [--repeat 5]``

Each repetition, in fresh Python subprocesses and alternating:

- baseline: start moto's server, the HealthImaging emulator and IAM's simulator (``sandbox.services.LoopbackAws``)
  in a new Python process and wait until each endpoint answers, then stop it: the floor of any sandbox;
- up: ``python -m ahictl sandbox up --detach`` in a fresh directory, from the command's start to its return (which
  is after every endpoint answers, the stack's plan deployed and the outputs and env written), then ``sandbox down``
  (not timed).

It prints the median and minimum of each and the ratio up / baseline. The goal is up <= 10 s on the project's
machine (2 cores). Not a timed test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a file (python benchmarks/sandbox_ready_benchmark.py): the project's packages are one level up.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ahictl.repository import REPOSITORY_ROOT
from sandbox.state import answers

GOAL_SECONDS = 10.0
#: Started in a subprocess: the bare servers, their URLs printed once they listen; ended by closing its stdin.
BARE_SERVERS = (
    "import json, sys\n"
    "from sandbox.services import LoopbackAws\n"
    "aws = LoopbackAws().start()\n"
    "print(json.dumps(aws.service_urls()), flush=True)\n"
    "sys.stdin.read()\n"
    "aws.stop()\n"
)


def environment() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env["PYTHONPATH"] = str(REPOSITORY_ROOT)
    return env


def time_baseline() -> float:
    """Seconds from starting the bare servers' process until every endpoint answers."""
    start = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", BARE_SERVERS],
        cwd=REPOSITORY_ROOT,
        env=environment(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        urls = json.loads(process.stdout.readline())
        while not all(answers(url) for url in urls.values()):
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


def time_up(directory: Path) -> float:
    """Seconds ``sandbox up --detach`` takes to return ready; the sandbox is stopped afterwards."""
    command = [sys.executable, "-m", "ahictl", "sandbox"]
    start = time.perf_counter()
    subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [*command, "up", "--detach", "--dir", str(directory)],
        cwd=REPOSITORY_ROOT,
        env=environment(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - start
    subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [*command, "down", "--dir", str(directory)],
        cwd=REPOSITORY_ROOT,
        env=environment(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each measurement (default: 5)")
    args = parser.parse_args()
    baseline: list[float] = []
    up: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(args.repeat):
            baseline.append(time_baseline())
            up.append(time_up(Path(scratch) / f"run{index}"))
    load = os.getloadavg()[0]
    print(f"{args.repeat} runs each, load average {load:.1f} at the end, {os.cpu_count()} cores")
    print(f"baseline: bare servers answering  median {statistics.median(baseline):.2f} s  min {min(baseline):.2f} s")
    print(f"sandbox up --detach, ready         median {statistics.median(up):.2f} s  min {min(up):.2f} s")
    ratio = statistics.median(up) / statistics.median(baseline)
    verdict = "within" if statistics.median(up) <= GOAL_SECONDS else "OVER"
    print(f"ratio up / baseline (medians): {ratio:.2f}; goal <= {GOAL_SECONDS:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

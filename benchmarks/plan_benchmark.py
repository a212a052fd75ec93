"""How long the offline plan of the dev stack takes, against the floor of importing the SDKs.

Usage: ``venv/bin/python benchmarks/plan_benchmark.py [--repeat 5] [--skip-tests]``

Each repetition starts fresh Python subprocesses (so nothing is cached in the interpreter):

- floor: start Python and import pulumi, pulumi_aws and pulumi_aws_native, then exit;
- plan: ``python -m ahictl plan --stack dev --format json`` (the same imports plus the program under mocks).

It prints the median and minimum of each, their ratio (plan / floor), and then the wall time of the
whole test suite (``python -m pytest -q``), run once. Not a timed test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Run as a file (python benchmarks/plan_benchmark.py): the project's packages are one level up.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ahictl.repository import REPOSITORY_ROOT

PROJECT_DIR = REPOSITORY_ROOT
FLOOR = [sys.executable, "-c", "import pulumi, pulumi_aws, pulumi_aws_native"]
PLAN = [sys.executable, "-m", "ahictl", "plan", "--stack", "dev", "--format", "json"]
TESTS = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


def timed(command: list[str]) -> float:
    """Wall time of one run of ``command`` in the project directory, in seconds; fails if it fails."""
    start = time.perf_counter()
    subprocess.run(command, cwd=PROJECT_DIR, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603 - fixed argument lists
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of floor and plan (default: 5)")
    parser.add_argument("--skip-tests", action="store_true", help="do not time the test suite")
    args = parser.parse_args(argv)

    timed(FLOOR)  # warm the file system cache once, for both measurements alike
    floors: list[float] = []
    plans: list[float] = []
    for _ in range(args.repeat):
        floors.append(timed(FLOOR))
        plans.append(timed(PLAN))
    floor, plan = statistics.median(floors), statistics.median(plans)
    print(f"python {sys.version.split()[0]}, {args.repeat} repetitions, fresh subprocesses")
    print(
        f"floor (start Python, import pulumi, pulumi_aws, pulumi_aws_native): median {floor:.2f} s, min {min(floors):.2f} s"
    )
    print(
        f"offline plan of the dev stack (python -m ahictl plan --stack dev --format json): median {plan:.2f} s, min {min(plans):.2f} s"
    )
    print(f"ratio plan / floor: {plan / floor:.2f} (the program itself under mocks adds {plan - floor:.2f} s)")
    if not args.skip_tests:
        suite = timed(TESTS)
        print(f"whole test suite (python -m pytest -q): {suite:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How long the fast lane takes, and how much of the suite it holds.

Usage: ``venv/bin/python benchmarks/lane_benchmark.py [--skip-serial]``

Counts the tests of each lane (``pytest --collect-only``: all, and ``-m "not server and not browser"``), then times,
in fresh subprocesses, what ``bash scripts/test --fast`` runs: ruff (check and format), mypy, and the fast lane's
pytest on two workers; and, as the baseline measured in the same run, the same selection on one worker. The target
is the whole fast lane within 60 seconds on a 2-core machine, holding at least half of the suite. Not a timed test:
the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

# Run as a file (python benchmarks/lane_benchmark.py): the project's packages are one level up.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ahictl.repository import REPOSITORY_ROOT

FAST_LANE = "not server and not browser"
VENV_BIN = REPOSITORY_ROOT / "venv" / "bin"


def _run(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - fixed argument lists
        command, cwd=REPOSITORY_ROOT, capture_output=True, text=True, check=False, timeout=1800
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed, done.stdout


def collected(*marker: str) -> int:
    _, out = _run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *marker])
    found = re.search(r"(\d+)(?:/\d+)? tests? (?:collected|selected)", out)
    if found is None:
        raise SystemExit(f"pytest printed no count:\n{out[-500:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-serial", action="store_true", help="leave out the one-worker baseline")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {load:.2f} at the start")
    total, fast = collected(), collected("-m", FAST_LANE)
    print(f"tests: {total} in all, {fast} in the fast lane ({fast / total:.0%})")
    ruff = _run([str(VENV_BIN / "ruff"), "check", "."])[0] + _run([str(VENV_BIN / "ruff"), "format", "--check", "."])[0]
    mypy = _run([str(VENV_BIN / "mypy")])[0]
    lane = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", FAST_LANE]
    two = _run([*lane, "-n", "2", "--dist", "loadfile"])[0]
    print(f"ruff {ruff:.1f} s, mypy {mypy:.1f} s, fast lane's pytest on two workers {two:.1f} s")
    print(f"whole fast lane: {ruff + mypy + two:.1f} s (target: at most 60 s)")
    if not args.skip_serial:
        one = _run(lane)[0]
        print(f"the same tests on one worker: {one:.1f} s; two workers take {two / one:.2f}x that")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How long the offline plan of the dev stack takes, against the floor of importing the SDKs, and how much of it is
the program's own work.

Usage: ``venv/bin/python benchmarks/plan_benchmark.py [--repeat 5] [--skip-tests]``

Each repetition starts fresh Python subprocesses (so nothing is cached in the interpreter):

- floor: start Python and import pulumi, pulumi_aws and pulumi_aws_native, then exit;
- plan: ``python -m ahictl plan --stack dev --format json`` (the same imports plus the program under mocks);
- program evaluation: the dev stack's program under mocks, timed inside the process after the SDK imports
  (``benchmarks/program_evaluation.py evaluate``);
- replay: the same registrations, recorded from one evaluation, registered again without the program: the SDK
  modules of the same resource types and the same inputs and options (``... replay``).

It prints the median and minimum of each, the ratios plan / floor and program evaluation / replay (wall and CPU
time), and then the wall time of the whole test suite (``python -m pytest -q``), run once. The subprocesses keep
compiled bytecode in a temporary directory, as an installed project has it. Not a timed test: the figures depend on
the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
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
EVALUATION = [sys.executable, "-m", "benchmarks.program_evaluation"]


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    """Wall time of one run of ``command`` in the project directory, in seconds; fails if it fails."""
    start = time.perf_counter()
    subprocess.run(  # noqa: S603 - fixed argument lists
        command, cwd=PROJECT_DIR, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    return time.perf_counter() - start


def measured(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds that ``command`` (a ``program_evaluation`` mode) measured inside its process."""
    ran = subprocess.run(command, cwd=PROJECT_DIR, check=True, capture_output=True, text=True, env=env)  # noqa: S603 - fixed argument lists
    wall, cpu, _count = ran.stdout.split()
    return float(wall), float(cpu)


def with_bytecode_cache(cache_dir: str) -> dict[str, str]:
    """The environment with compiled bytecode written to and read from ``cache_dir`` (not the source tree)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache_dir
    return env


def evaluation_against_replay(repeat: int, env: dict[str, str], temp: Path) -> None:
    """Print the program's evaluation against a replay of its registrations, measured alternately."""
    recording = str(temp / "registrations.pickle")
    record, evaluate, replay = (
        [*EVALUATION, "record", recording],
        [*EVALUATION, "evaluate"],
        [*EVALUATION, "replay", recording],
    )
    measured(record, env)
    measured(replay, env)
    evaluations: list[tuple[float, float]] = []
    replays: list[tuple[float, float]] = []
    for _ in range(repeat):
        evaluations.append(measured(evaluate, env))
        replays.append(measured(replay, env))
    for title, runs in (("program evaluation (dev stack, under mocks)", evaluations), ("replay", replays)):
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(
            f"{title}: median {statistics.median(walls):.2f} s (CPU {statistics.median(cpus):.2f} s), "
            f"min {min(walls):.2f} s"
        )
    wall_ratio = statistics.median(w for w, _ in evaluations) / statistics.median(w for w, _ in replays)
    cpu_ratio = statistics.median(c for _, c in evaluations) / statistics.median(c for _, c in replays)
    print(f"ratio program evaluation / replay of the same registrations: {wall_ratio:.2f} (CPU time {cpu_ratio:.2f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of floor and plan (default: 5)")
    parser.add_argument("--skip-tests", action="store_true", help="do not time the test suite")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="plan-benchmark-") as temp:
        env = with_bytecode_cache(str(Path(temp) / "bytecode"))
        timed(PLAN, env)  # fills the bytecode cache and warms the file system cache, for every measurement alike
        floors: list[float] = []
        plans: list[float] = []
        for _ in range(args.repeat):
            floors.append(timed(FLOOR, env))
            plans.append(timed(PLAN, env))
        floor, plan = statistics.median(floors), statistics.median(plans)
        print(f"python {sys.version.split()[0]}, {args.repeat} repetitions, fresh subprocesses")
        print(
            f"floor (start Python, import pulumi, pulumi_aws, pulumi_aws_native): median {floor:.2f} s, min {min(floors):.2f} s"
        )
        print(
            f"offline plan of the dev stack (python -m ahictl plan --stack dev --format json): median {plan:.2f} s, min {min(plans):.2f} s"
        )
        print(f"ratio plan / floor: {plan / floor:.2f} (the program itself under mocks adds {plan - floor:.2f} s)")
        evaluation_against_replay(args.repeat, env, Path(temp))
    if not args.skip_tests:
        suite = timed(TESTS)
        print(f"whole test suite (python -m pytest -q): {suite:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

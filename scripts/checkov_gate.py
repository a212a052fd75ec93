"""Judge checkov's JSON reports against the checked-in skip list (.checkov-skip.yaml).

Usage: ``python scripts/checkov_gate.py --skip-list .checkov-skip.yaml REPORT.json [REPORT.json ...]``

Exits 1 when a check failed that no skip entry matches, when an entry matches no failure in any
report (a stale entry), when an entry lacks a reason, or when a report holds no results (checkov did
not parse the plan). Needs only the standard library and PyYAML (checkov's virtualenv has both).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path
from typing import Any

import yaml


def load_skips(path: Path) -> list[dict[str, str]]:
    """The skip entries; each must have a check ID, a resource pattern and a reason."""
    document = yaml.safe_load(path.read_text()) or {}
    skips = document.get("skips") or []
    for entry in skips:
        missing = [key for key in ("check", "resource", "reason") if not str(entry.get(key, "")).strip()]
        if missing:
            raise SystemExit(f"{path}: entry {entry} lacks {', '.join(missing)}")
    return list(skips)


def failed_checks(report: Any) -> tuple[list[tuple[str, str, str]], int]:
    """(check ID, resource address, check name) of every failed check, and the number of passed checks."""
    reports = report if isinstance(report, list) else [report]
    failed: list[tuple[str, str, str]] = []
    passed = 0
    for item in reports:
        results = item.get("results", {})
        passed += int(item.get("summary", {}).get("passed", len(results.get("passed_checks", []))))
        for check in results.get("failed_checks", []):
            failed.append((check["check_id"], check["resource"], check.get("check_name", "")))
    return failed, passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-list", type=Path, required=True)
    parser.add_argument("reports", type=Path, nargs="+")
    args = parser.parse_args(argv)
    skips = load_skips(args.skip_list)
    used = [False] * len(skips)
    problems: list[str] = []
    for path in args.reports:
        try:
            report = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            problems.append(f"{path}: not a checkov JSON report ({error})")
            continue
        failed, passed = failed_checks(report)
        if passed == 0 and not failed:
            problems.append(f"{path}: checkov ran no check; was the plan parsed?")
            continue
        print(f"{path}: {passed} checks passed; {len(failed)} checks failed")
        for check_id, resource, name in sorted(set(failed)):
            matches = [
                i
                for i, entry in enumerate(skips)
                if entry["check"] == check_id and fnmatch.fnmatchcase(resource, entry["resource"])
            ]
            for i in matches:
                used[i] = True
            status = "skipped (listed)" if matches else "FAILED"
            print(f"  {status}: {check_id} {resource}: {name}")
            if not matches:
                problems.append(f"{path}: {check_id} failed for {resource} ({name}) and is not in {args.skip_list}")
    for entry, was_used in zip(skips, used, strict=True):
        if not was_used:
            problems.append(
                f"{args.skip_list}: entry {entry['check']} {entry['resource']} matches no failed check; remove it"
            )
    if problems:
        print("checkov gate: FAILED", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("checkov gate: passed (every failed check is in the skip list, with a reason)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

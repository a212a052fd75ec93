"""The scan gates (scripts/checkov_gate.py, and the skip and allow lists it and the IAM lint read): a finding is
accepted only when a listed skip with its reason covers it, and a stale skip fails the gate too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts import checkov_gate
from testkit.mock_runs import PROJECT_DIR


def _report(tmp_path: Path, failed: list[tuple[str, str]]) -> Path:
    path = tmp_path / "report.json"
    path.write_text(
        json.dumps(
            {
                "summary": {"passed": 5, "failed": len(failed)},
                "results": {
                    "passed_checks": [],
                    "failed_checks": [{"check_id": c, "resource": r, "check_name": "n"} for c, r in failed],
                },
            }
        )
    )
    return path


def test_checkov_gate(tmp_path: Path) -> None:
    gate = checkov_gate
    skip_list = tmp_path / "skip.yaml"
    skip_list.write_text("skips:\n  - {check: CKV_AWS_144, resource: aws_s3_bucket.b-*, reason: opt-in}\n")
    listed = _report(tmp_path, [("CKV_AWS_144", "aws_s3_bucket.b-input")])
    assert gate.main(["--skip-list", str(skip_list), str(listed)]) == 0
    unlisted = _report(tmp_path, [("CKV_AWS_144", "aws_s3_bucket.b-input"), ("CKV_AWS_21", "aws_s3_bucket.b")])
    assert gate.main(["--skip-list", str(skip_list), str(unlisted)]) == 1
    stale = _report(tmp_path, [])
    assert gate.main(["--skip-list", str(skip_list), str(stale)]) == 1
    skip_list.write_text("skips:\n  - {check: CKV_AWS_144, resource: aws_s3_bucket.b-*}\n")
    with pytest.raises(SystemExit, match="lacks reason"):
        gate.main(["--skip-list", str(skip_list), str(listed)])


def test_checked_in_skip_and_allow_lists_give_reasons() -> None:
    gate = checkov_gate
    skips = gate.load_skips(PROJECT_DIR / ".checkov-skip.yaml")
    assert {s["check"] for s in skips} == {
        "CKV_AWS_145",
        "CKV_AWS_144",
        "CKV2_AWS_62",
        # The audit trail (single-region by design, CloudWatch Logs optional, no per-file SNS notifications).
        "CKV_AWS_67",
        "CKV2_AWS_10",
        "CKV_AWS_252",
        # The import alerts and auto-import functions (no VPC, no code signing, no X-Ray).
        "CKV_AWS_117",
        "CKV_AWS_272",
        "CKV_AWS_50",
        # The auto-import function is invoked by its SQS queue only, whose own dead-letter queue keeps failures.
        "CKV_AWS_116",
        # The viewer's distribution, app bucket and log delivery (scanned in the prod-viewer variation).
        "CKV_AWS_18",
        "CKV_AWS_86",
        "CKV_AWS_174",
        "CKV2_AWS_42",
        "CKV_AWS_68",
        "CKV2_AWS_47",
        "CKV_AWS_374",
        "CKV_AWS_310",
    }
    assert all(len(s["reason"]) > 80 for s in skips)
    import yaml

    allow = yaml.safe_load((PROJECT_DIR / ".parliament-allow.yaml").read_text())["allow"]
    assert all(entry["issue"] and entry["type"] and len(entry["reason"]) > 80 for entry in allow)

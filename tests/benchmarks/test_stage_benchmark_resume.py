"""The staging benchmark's resume figure: which runs it plans, how it pairs them, and what it refuses to count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ahiops.upload import DEFAULT_CONCURRENCY, crt_available
from benchmarks.stage_benchmark import (
    LISTING,
    DataSet,
    ResumeVariant,
    Run,
    check_resume,
    main,
    resume_plan,
    summarize_resume,
)

SMALL = DataSet("small", Path("unused"), files=100, file_size=1000)


def test_resume_plan_runs_the_listing_each_engine_default_and_the_other_pool_sizes_once() -> None:
    default_engine = "crt" if crt_available() else "classic"
    variants = resume_plan(["ahictl", "aws-cli"], [8, DEFAULT_CONCURRENCY[default_engine], 8])
    labels = [variant.label for variant in variants]
    assert labels[:2] == [LISTING, "ahictl"]
    assert "ahictl pool 8" in labels
    assert f"ahictl pool {DEFAULT_CONCURRENCY[default_engine]}" not in labels  # that is the default run
    assert labels.count("ahictl pool 8") == 1
    assert labels[-1] == "aws-cli"
    assert [variant for variant in variants if variant.list_only] == [ResumeVariant(LISTING, "ahictl", list_only=True)]
    assert resume_plan(["s5cmd"], [8]) == [ResumeVariant("s5cmd", "s5cmd")]


def run(client: str, data_set: str, number: int, wall: float, cpu: float, phases: dict[str, Any]) -> Run:
    return Run(client, data_set, number, wall, cpu, 50.0, 0.0, phases)


def test_resume_ratios_are_paired_with_the_listing_and_the_first_upload_of_the_same_round() -> None:
    runs = [
        run("ahictl", "small", 1, 1.0, 1.0, {"upload_seconds": 0.8}),
        run("ahictl", "small", 2, 2.0, 2.0, {"upload_seconds": 1.6}),
        run(LISTING, "small:resume", 1, 0.5, 0.4, {"list_seconds": 0.1}),
        run(LISTING, "small:resume", 2, 1.0, 0.8, {"list_seconds": 0.2}),
        run("ahictl", "small:resume", 1, 3.0, 0.6, {"upload_seconds": 0.5, "engine": "crt", "concurrency": 64}),
        run("ahictl", "small:resume", 2, 4.0, 1.0, {"upload_seconds": 1.0, "engine": "crt", "concurrency": 64}),
        run("aws-cli", "small", 1, 5.0, 5.0, {}),
        run("aws-cli", "small:resume", 1, 4.0, 4.0, {}),
    ]
    resume = summarize_resume(runs, SMALL, [LISTING, "ahictl", "aws-cli", "s5cmd"])
    assert resume["rounds"] == 2
    mine = resume["variants"]["ahictl"]
    assert mine["step_vs_listing_per_round"] == pytest.approx([5.0, 5.0])
    assert mine["wall_vs_first_upload"] == pytest.approx((3.0 + 2.0) / 2)  # 3.0/1.0 and 4.0/2.0
    assert mine["cpu_ms_per_head_object"] == pytest.approx((0.2 + 0.2) / 2 / 100 * 1000)
    assert (mine["engine"], mine["concurrency"]) == ("crt", 64)
    assert resume["variants"][LISTING]["wall_vs_first_upload"] == pytest.approx(0.5)
    assert "step_vs_listing" not in resume["variants"][LISTING]
    cli = resume["variants"]["aws-cli"]
    assert cli["wall_vs_first_upload"] == pytest.approx(0.8)
    assert "cpu_ms_per_head_object" not in cli
    assert "s5cmd" not in resume["variants"]


def stats(**operations: int) -> dict[str, Any]:
    return {"operations": operations}


def test_a_resume_run_that_uploaded_or_skipped_heads_is_refused() -> None:
    variant = ResumeVariant("ahictl", "ahictl")
    good = {"uploaded": 0, "already_present": 100}
    check_resume(stats(PutObject=100), stats(PutObject=100, HeadObject=100, ListObjectsV2=1), good, SMALL, variant)
    with pytest.raises(RuntimeError, match="uploaded 3"):
        check_resume(stats(), stats(HeadObject=100, ListObjectsV2=1), {**good, "uploaded": 3}, SMALL, variant)
    with pytest.raises(RuntimeError, match="other requests"):
        check_resume(stats(), stats(HeadObject=100, ListObjectsV2=1, PutObject=3), good, SMALL, variant)
    with pytest.raises(RuntimeError, match="99 HeadObject"):
        check_resume(stats(), stats(HeadObject=99, ListObjectsV2=1), good, SMALL, variant)
    listing = ResumeVariant(LISTING, "ahictl", list_only=True)
    check_resume(stats(), stats(ListObjectsV2=1), {"listed": 100}, SMALL, listing)
    with pytest.raises(RuntimeError, match="HeadObject"):
        check_resume(stats(), stats(ListObjectsV2=1, HeadObject=1), {"listed": 100}, SMALL, listing)


def test_resume_pools_must_be_whole_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--resume-pools", "8,x", "--clients", "ahictl"])
    assert "--resume-pools '8,x'" in capsys.readouterr().err

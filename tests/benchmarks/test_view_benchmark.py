"""The viewer benchmark's summary: paired ratios per round, the goals, the figures it prints."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from benchmarks.view_benchmark import Figures, enlarged_ct, pin, render, summarize


def figures() -> list[Figures]:
    return [
        Figures("direct", 0.002, 800.0, 400.0, 0.0),
        Figures("proxy", 0.003, 400.0, 200.0, 0.8),
        Figures("proxy", 0.004, 900.0, 450.0, 0.7),
        Figures("direct", 0.003, 1000.0, 500.0, 0.0),
    ]


def test_the_ratio_is_the_median_of_each_rounds_proxy_over_direct() -> None:
    summary = summarize(figures(), rss_mb=60.0, requests=4000)
    assert summary["ratio"] == (0.5 + 0.9) / 2
    assert summary["ratioGoalMet"] is False
    assert summary["proxy"]["framesPerSecond"] == 650.0
    assert summary["proxyCpuSecondsPer1000Frames"] == 0.75


def test_the_rss_goal_is_150_mb() -> None:
    assert summarize(figures(), rss_mb=150.0, requests=1)["rssGoalMet"] is True
    assert summarize(figures(), rss_mb=151.0, requests=1)["rssGoalMet"] is False


def test_the_text_names_the_goals_met_or_not() -> None:
    summary = summarize(figures(), rss_mb=60.0, requests=4000) | {
        "frameBytes": 524288,
        "instances": 64,
        "originLatencyMs": 0.0,
    }
    text = render(summary)
    assert "ratio proxy/direct (median of rounds): 0.70 (goal >= 0.8: NOT met)" in text
    assert "peak RSS of ahictl view: 60 MB (goal <= 150 MB: met)" in text
    assert "512 KiB frames (64 slices)" in text


def test_the_text_says_when_the_proxy_had_a_core_of_its_own() -> None:
    summary = summarize(figures(), rss_mb=60.0, requests=4000) | {
        "frameBytes": 524288,
        "instances": 64,
        "originLatencyMs": 0.0,
    }
    assert "core of its own" not in render(summary)
    assert "ahictl view on a core of its own, the emulator and the client on the other" in render(
        summary | {"proxyOnOwnCore": True}
    )


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores")
def test_pinning_a_process_pins_every_one_of_its_threads() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import threading, time; threading.Thread(target=time.sleep, args=(30,)).start(); "
            "print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        pin(child.pid, {1})
        tasks = list(Path(f"/proc/{child.pid}/task").iterdir())
        assert len(tasks) == 2
        assert [os.sched_getaffinity(int(task.name)) for task in tasks] == [{1}, {1}]
    finally:
        child.kill()
        child.wait(timeout=10)


def test_a_slice_is_the_sample_tiled_to_the_size_with_its_own_instance_uid() -> None:
    first, third = (pydicom.dcmread(io.BytesIO(enlarged_ct(256, number))) for number in (1, 3))
    assert (third.Rows, third.Columns, third.InstanceNumber) == (256, 256, 3)
    assert len(third.PixelData) == 256 * 256 * 2
    assert third.PixelData[:256] == third.PixelData[256:512]  # a row of the sample, twice
    assert first.SOPInstanceUID != third.SOPInstanceUID
    assert first.SeriesInstanceUID == third.SeriesInstanceUID

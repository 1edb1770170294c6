"""The kernel benchmark runs end to end on the CPU (reference only, tiny sizes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from filmline.benchmarks import kernels_bench

pytestmark = pytest.mark.slow  # a benchmark harness run: `python -m pytest -m slow`


def test_small_cpu_run_writes_reports(tmp_path: Path) -> None:
    argv = ["--device", "cpu", "--small", "--warmup", "0", "--repeats", "1", "--out", str(tmp_path)]
    assert kernels_bench.main(argv) == 0
    report = json.loads((tmp_path / "kernels_bench.json").read_text())
    operations = {r["operation"] for r in report["results"]}
    assert operations == {
        "adjacent_similarity", "shot_centroids", "match_runs", "frame_stats_rgb", "frame_stats_nv12"
    }
    assert all(r["agrees_with_naive"] for r in report["results"])
    assert "| match_runs |" in (tmp_path / "kernels_bench.md").read_text()

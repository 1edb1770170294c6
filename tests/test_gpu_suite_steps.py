"""The `gpu` suite's decode and end-to-end steps, run on the CPU so the device script cannot rot
between the GPU sessions that run it: every decoder it can run is measured with one and several
sessions, NVDEC that cannot run is listed with the reason, and each end-to-end run is scored
and set against decode-only speed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from filmline.benchmarks.encoders import bench_weights
from filmline.benchmarks.gpu_suite import PYAV_SESSIONS, measure_decode_sessions, measure_end_to_end
from filmline.benchmarks.measure import Recorder
from filmline.benchmarks.synthetic import Dissolve, Shot, write_film

pytestmark = pytest.mark.slow  # a benchmark harness run: `python -m pytest -m slow`


@pytest.mark.skipif(torch.cuda.is_available(), reason="the device script measures this on a GPU")
def test_decode_and_end_to_end_steps_on_the_cpu(tmp_path: Path) -> None:
    truth = write_film(tmp_path / "film.mp4", [Shot(60), Shot(50, Dissolve(10)), Shot(70)], size=(320, 180), fps=25)
    rec = Recorder("test", "cpu", {})

    rates = measure_decode_sessions(rec, truth, warmup=0, repeats=1)

    decode = [f for f in rec.figures if f["stage"] == "decode"]
    assert sorted(f["setup"]["sessions"] for f in decode) == sorted({1, PYAV_SESSIONS})
    assert {f["setup"]["decoder"] for f in decode} == {"pyav"} and set(rates) == {"pyav"}
    assert [s["stage"] for s in rec.skipped] == ["decode/nvdec"] and "CUDA" in rec.skipped[0]["reason"]

    rows = measure_end_to_end(rec, truth, rates, bench_weights("tiny", tmp_path / "models"), 1.0, 0, 1)

    runs = [f for f in rec.figures if f["stage"] == "end_to_end"]
    assert [f["setup"]["backend"] for f in runs] == ["none", "auto"]
    assert all(f["value"] > 0 and 0 < f["vs_decode_only"] for f in runs)
    assert rows[0]["tool"] == "filmline (cheap pass only, pyav)" and rows[0]["f1"]["2f"] == 1.0
    assert rows[1]["tool"].startswith("filmline (encoder: ")

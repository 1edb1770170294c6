"""engine-eval intro: the intro paper's per-second metrics, segment IoU and start/end errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from filmline.engine.cli_support import run_subcommands
from filmline.engine.errors import BadInputError
from filmline.engine.evaluation.intro import Case, iou, read_results, score, seconds_inside


def _eval_cli(*args: str) -> int:
    return run_subcommands("engine-eval", "test", {"intro": "filmline.engine.evaluation.intro"}, ["intro", *args])


def test_seconds_inside_follows_the_sampling():
    assert np.flatnonzero(seconds_inside((2.5, 5.5), 8.2)).tolist() == [3, 4, 5]
    assert len(seconds_inside(None, 8.2)) == 9 and not seconds_inside(None, 8.2).any()


def test_scores():
    cases = [
        Case("a", (10.0, 30.0), (12.0, 30.0), 100.0),  # 2 s late
        Case("b", (0.0, 20.0), None, 50.0),  # missed
        Case("c", None, (40.0, 45.0), 60.0),  # false alarm
        Case("d", None, None, 40.0),
    ]
    s = score("intro", cases)
    tp, fp, fn = 18, 5, 2 + 20
    assert s.precision == pytest.approx(tp / (tp + fp)) and s.recall == pytest.approx(tp / (tp + fn))
    assert s.f1 == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert s.accuracy == pytest.approx((250 - fp - fn) / 250)
    assert s.mean_iou == pytest.approx((18 / 20 + 0 + 0) / 3)
    assert (s.start_error, s.end_error) == (2.0, 0.0)
    assert (s.detected, s.missed, s.false_alarms, s.episodes) == (1, 1, 1, 4)
    assert iou((0, 10), (5, 15)) == pytest.approx(1 / 3)


def test_results_in_either_format(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "ep1.json").write_text(json.dumps({
        "video": {"path": "/videos/ep1.mkv", "duration": 90.0},
        "intro": [{"kind": "intro", "start": 5.0, "end": 25.0, "confidence": 0.6}, {"start": 1.0, "end": 9.0, "confidence": 0.9}],
        "credits": {"kind": "credits", "start": 75.0, "end": 90.0, "confidence": 1.0},
    }))
    (tmp_path / "seed.json").write_text(json.dumps({"ep2.mkv": {"start": "00:00:03", "end": "00:00:23"}}))
    results = read_results([tmp_path / "run", tmp_path / "seed.json"])
    assert results["ep1.mkv"] == {"duration": 90.0, "intro": (1.0, 9.0), "credits": (75.0, 90.0)}  # most confident
    assert results["ep2.mkv"] == {"duration": None, "intro": (3.0, 23.0), "credits": None}
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(BadInputError, match="neither an engine-run result nor intro predictions"):
        read_results([tmp_path / "list.json"])


def test_engine_eval_end_to_end(tmp_path, capsys):
    (tmp_path / "truth.json").write_text(json.dumps({
        "ep1.mkv": {"start": "00:01:05", "end": "00:00:25", "credits": {"start": "00:01:15", "end": "00:01:30"}},
        "ep2.mkv": {"start": "00:00:00", "end": "00:00:20"},
        "ep3.mkv": {"start": "00:00:00", "end": "00:00:20"},
    }))
    for name, intro in (("ep1", [5.5, 25.5]), ("ep2", None)):
        entries = {"intro": intro and {"start": intro[0], "end": intro[1], "confidence": 0.9}}
        if name == "ep1":
            entries["credits"] = {"start": 75.5, "end": 90.0, "confidence": 0.9}
        (tmp_path / f"{name}.json").write_text(json.dumps({"video": {"path": f"{name}.mkv", "duration": 90.0}, **entries}))
    out = tmp_path / "scores.json"
    code = _eval_cli("--annotations", str(tmp_path / "truth.json"), "--results", str(tmp_path / "ep1.json"),
                     str(tmp_path / "ep2.json"), "--json", str(out))
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "repaired truth.json: ep1.mkv" in printed.err and "1 annotated episodes have no result" in printed.err
    assert printed.out.splitlines()[0].split()[:3] == ["kind", "episodes", "precision"]
    intro, credits = json.loads(out.read_text())
    assert intro["kind"] == "intro" and intro["episodes"] == 2 and intro["missed"] == 1
    assert intro["start_error"] == pytest.approx(0.5) and credits["detected"] == 1


def test_seed_predictions_need_durations(tmp_path, capsys):
    (tmp_path / "truth.json").write_text(json.dumps({"ep.mkv": {"start": "00:00:01", "end": "00:00:20"}}))
    (tmp_path / "pred.json").write_text(json.dumps({"ep.mkv": {"start": "00:00:02", "end": "00:00:20"}}))
    code = _eval_cli("--annotations", str(tmp_path / "truth.json"), "--results", str(tmp_path / "pred.json"))
    err = capsys.readouterr().err
    assert code == BadInputError.exit_code and "no video duration: pass --videos DIR" in err

"""`engine-eval shots`: a table on stdout, every figure in JSON, one line per error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from filmline.benchmarks.synthetic import GroundTruth, truth_csv_path, truth_path
from filmline.engine.evaluation.cli import main


def test_scores_several_files_against_one_truth(tmp_path: Path, films: dict[str, GroundTruth], capsys) -> None:
    truth = films["h264-cfr.mkv"]
    perfect = tmp_path / "perfect.csv"
    perfect.write_text(truth_csv_path(truth.path).read_text())
    shifted = tmp_path / "shifted.csv"  # every shot starts a frame late
    rows = truth_csv_path(truth.path).read_text().splitlines()
    late = [",".join(f"{float(v) + 0.04:.3f}" for v in row.split(",")) for row in rows[1:]]
    shifted.write_text("\n".join([rows[0], *late]))
    out = tmp_path / "scores.json"
    code = main(["shots", "--truth", str(truth_path(truth.path)), str(perfect), str(shifted), "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    table = printed.splitlines()
    assert table[0].split()[:2] == ["predicted", "shots"]
    assert table[2].startswith("perfect.csv") and "1.000 (1.00/1.00)" in table[2]
    written = json.loads(out.read_text())
    perfect_scores, shifted_scores = written["results"]
    assert perfect_scores["boundaries"]["0f"]["f1"] == 1.0
    assert shifted_scores["boundaries"]["0f"]["recall_by_kind"]["cut"] == 0.0  # one frame late: no cut at 0f ...
    assert shifted_scores["boundaries"]["2f"]["recall_by_kind"]["cut"] == 1.0  # ... every cut at 2 frames
    assert shifted_scores["seed_mae_seconds"]["start"] == pytest.approx(0.04, abs=1e-3)


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("what,ever\n1,2\n")
    assert main(["shots", "--truth", str(bad), str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("engine-eval: ") and "no known CSV header" in err[0]


def test_frames_need_a_rate(tmp_path: Path, capsys) -> None:
    frames = tmp_path / "frames.csv"
    frames.write_text("Start,End\n0,24\n25,49\n")
    times = tmp_path / "times.csv"
    times.write_text("start_time,end_time\n0,1\n1,2\n")
    assert main(["shots", "--truth", str(frames), str(times)]) == 2
    assert "--fps" in capsys.readouterr().err
    assert main(["shots", "--truth", str(frames), str(times), "--fps", "25"]) == 0
    assert "1.000 (1.00/1.00)" in capsys.readouterr().out


def test_predictions_of_another_length_get_a_warning(tmp_path: Path, films: dict[str, GroundTruth], capsys) -> None:
    truth = films["h264-cfr.mkv"]
    rows = truth_csv_path(truth.path).read_text().splitlines()
    whole = tmp_path / "whole.csv"
    whole.write_text("\n".join(rows))
    cut_short = tmp_path / "cut_short.csv"  # the last shot missing: a shorter copy, or another video
    cut_short.write_text("\n".join(rows[:-1]))
    assert main(["shots", "--truth", str(truth_path(truth.path)), str(whole), str(cut_short)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and str(cut_short) in warnings[0] and "same video" in warnings[0]


def test_predictions_with_one_name_are_told_apart_by_their_folder(
    tmp_path: Path, films: dict[str, GroundTruth], capsys
) -> None:
    truth = films["h264-cfr.mkv"]
    predicted = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        predicted.append(tmp_path / folder / "film.csv")
        predicted[-1].write_text(truth_csv_path(truth.path).read_text())
    assert main(["shots", "--truth", str(truth_path(truth.path)), *map(str, predicted)]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [row.split()[0] for row in rows] == ["a/film.csv", "b/film.csv"]

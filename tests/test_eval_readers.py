"""Every shot-list format `engine-eval shots` reads, into one shape."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from filmline.benchmarks.synthetic import GroundTruth, truth_csv_path, truth_path
from filmline.engine.errors import BadInputError
from filmline.engine.evaluation.shot_annotations import read_shots
from filmline.engine.timecode import parse_time



def flat(spans) -> list[float]:
    """(start, end) pairs as one list: pytest.approx compares flat sequences only (pytest >= 9.2)."""
    return [t for span in spans for t in span]

def _changes(annotation) -> list[tuple]:
    return [(c.kind, c.first_frame, c.last_frame, c.at_frame, c.gradual) for c in annotation.changes]


def test_synthetic_truth_json(films: dict[str, GroundTruth]) -> None:
    truth = films["h264-cfr.mkv"]
    # 30 | fade 4 out, 3 black, 5 in | 25 | dissolve 6 | 25 | cut to 3 black, cut | 20 | cut | 20
    annotation = read_shots(truth_path(truth.path))
    assert annotation.format == "synthetic-truth"
    assert _changes(annotation) == [
        ("fade", 30, 42, 42, True),
        ("dissolve", 67, 73, 73, True),
        ("black", 98, 101, 101, False),
        ("cut", 121, 121, 121, False),
    ]
    assert annotation.shots[0] == (0.0, 30 / 25) and annotation.shots[-1] == (121 / 25, 141 / 25)
    assert annotation.fps == pytest.approx(25.0)


def test_synthetic_truth_csv_has_the_same_shots(films: dict[str, GroundTruth]) -> None:
    truth = films["h264-vfr-start1s.mp4"]
    from_csv = read_shots(truth_csv_path(truth.path))
    from_json = read_shots(truth_path(truth.path))
    assert from_csv.format == "times-csv"
    assert flat(from_csv.shots) == pytest.approx(flat(from_json.shots), abs=1e-6)
    assert [c.gradual for c in from_csv.changes] == [True, True, True, False]  # the black gap is a gap


def test_result_json_and_its_csv(tmp_path: Path, films: dict[str, GroundTruth]) -> None:
    from filmline.engine.cli import main

    truth = films["h264-cfr.mkv"]
    assert main([truth.path, "--backend", "none", "--out", str(tmp_path), "--no-progress"]) == 0
    result = read_shots(tmp_path / "h264-cfr.json")
    scenes = read_shots(tmp_path / "h264-cfr.shots.csv")
    assert result.format == "filmline-result" and scenes.format == "pyscenedetect-csv"
    assert [c.at_frame for c in result.changes] == [c.at_frame for c in scenes.changes]
    assert flat(scenes.shots) == pytest.approx(flat(result.shots), abs=1e-3)
    gradual = [c for c in result.changes if c.gradual]
    assert gradual and all(c.first_frame <= c.at_frame <= c.last_frame for c in gradual)
    assert result.fps == pytest.approx(25.0)


@pytest.mark.skipif(importlib.util.find_spec("scenedetect") is None, reason="scenedetect not installed")
def test_pyscenedetect_writes_what_we_read(tmp_path: Path, films: dict[str, GroundTruth]) -> None:
    from scenedetect import ContentDetector, SceneManager, open_video
    from scenedetect.scene_manager import write_scene_list

    truth = films["h264-cfr.mkv"]
    manager = SceneManager()
    manager.add_detector(ContentDetector())
    manager.detect_scenes(open_video(truth.path))
    scenes = manager.get_scene_list()
    target = tmp_path / "scenes.csv"
    with open(target, "w", newline="") as handle:
        write_scene_list(handle, scenes)
    annotation = read_shots(target)
    assert annotation.format == "pyscenedetect-csv"
    assert [c.at_frame for c in annotation.changes] == [start.frame_num for start, _ in scenes[1:]]
    assert annotation.fps == 25.0


def test_pyscenedetect_csv_with_a_timecode_list_row(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text(
        "Timecode List:,00:00:01.200\n"
        "Scene Number,Start Frame,Start Timecode,Start Time (seconds),End Frame,End Timecode,End Time (seconds),"
        "Length (frames),Length (timecode),Length (seconds)\n"
        "1,1,00:00:00.000,0.000,30,00:00:01.200,1.200,30,00:00:01.200,1.200\n"
        "2,31,00:00:01.200,1.200,70,00:00:02.800,2.800,40,00:00:01.600,1.600\n"
    )
    annotation = read_shots(path)
    assert annotation.shots == [(0.0, 1.2), (1.2, 2.8)]
    assert _changes(annotation) == [("cut", 30, 30, 30, False)]


def test_seed_csv_in_frames_takes_the_rate_from_its_times(tmp_path: Path) -> None:
    path = tmp_path / "wild_bunch.csv"
    path.write_text(  # the first rows of asgaard-action-movies-2's "The Wild Bunch (1969)-2-0_75.csv" (59.94 fps)
        "Start,End,Start Time,End Time,Action\n"
        "0,60,00:00:00.000,00:00:01.001,None\n"
        "61,877,00:00:01.018,00:00:14.631,None\n"
        "878,952,00:00:14.648,00:00:15.883,Fight\n"
    )
    annotation = read_shots(path)
    assert annotation.format == "start-end-csv-frames"
    assert annotation.fps == pytest.approx(60000 / 1001)
    assert _changes(annotation) == [("cut", 61, 61, 61, False), ("cut", 878, 878, 878, False)]
    assert annotation.shots[1] == pytest.approx((61 * 1001 / 60000, 878 * 1001 / 60000))


def test_seed_csv_in_frames_needs_a_rate(tmp_path: Path) -> None:
    path = tmp_path / "frames.csv"
    path.write_text("Start,End\n0,24\n25,49\n")
    with pytest.raises(BadInputError, match="--fps"):
        read_shots(path)
    assert read_shots(path, fps=25).shots == [(0.0, 1.0), (1.0, 2.0)]


def test_seed_csv_in_timecodes(tmp_path: Path) -> None:
    path = tmp_path / "shots.csv"
    path.write_text("Start,End,Action\n00:00:00,00:00:14,\n00:00:14,00:00:26,Fight\n00:00:26.500,00:00:35,\n")
    annotation = read_shots(path)
    assert annotation.format == "start-end-csv-times"
    assert annotation.shots == [(0, 14), (14, 26), (26.5, 35)]
    assert [(c.first_time, c.last_time, c.gradual) for c in annotation.changes] == [(14, 14, False), (26, 26.5, True)]


def test_times_csv_accepts_timecodes_too(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("start_time,end_time\n0,1.5\n1.5,00:00:03.250\n")
    assert read_shots(path).shots == [(0.0, 1.5), (1.5, 3.25)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n1,2\n", "no known CSV header"),
        ("start_time,end_time\n", "no shots"),
        ("start_time,end_time\n0,abc\n", "row 2"),
        ("Start,End\n0\n", "fewer cells"),
        ('{"shots": []}', "neither an engine-run result"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(BadInputError, match=message):
        read_shots(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        read_shots(tmp_path / "nope.csv")


def test_parse_time() -> None:
    assert parse_time("01:02:03.5") == 3723.5
    assert parse_time("02:03") == 123
    assert parse_time(" 4.25 ") == 4.25
    with pytest.raises(ValueError):
        parse_time("1:2:3:4")


def test_truth_json_written_by_hand(tmp_path: Path) -> None:
    """A truth file needs only its fields, not a film (old truths have no negatives)."""
    path = tmp_path / "x.truth.json"
    path.write_text(json.dumps({"cuts": [2], "gradual": [], "shots": [[0, 1], [2, 3]], "seconds": [0, 0.5, 1.0, 1.5]}))
    annotation = read_shots(path)
    assert annotation.shots == [(0, 1.0), (1.0, 2.0)] and annotation.negatives == []

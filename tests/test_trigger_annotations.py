"""The original's annotation formats read into one shape; the scores training reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from filmline.engine.errors import BadInputError
from filmline.engine.training.trigger_annotations import AnnotatedVideo, read_annotations
from filmline.engine.training.trigger_data import frame_labels
from filmline.engine.training.trigger_metrics import event_scores, frame_scores


@pytest.fixture()
def videos(tmp_path: Path) -> Path:
    folder = tmp_path / "videos"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.mp4", "sub/b.mkv", "v_xyz.mp4", "quiet.mp4"):
        (folder / name).write_bytes(b"")  # reading annotations only checks that the files exist
    return folder


def test_seed_json(tmp_path: Path, videos: Path) -> None:
    data = {"videos": [
        {"video_path": "a.mp4", "description": "x",
         "triggers": [{"timestamp": 5.2, "label": 1, "description": "enters"}, {"timestamp": "00:00:12.5"}]},
        {"video_path": "sub/b.mkv", "triggers": [{"timestamp": 3, "label": 0}]},
        {"video_path": "gone.mp4", "triggers": [{"timestamp": 1}]},
    ]}
    (tmp_path / "a.json").write_text(json.dumps(data))
    found, missing = read_annotations(tmp_path / "a.json", videos)
    assert found == [AnnotatedVideo(videos / "a.mp4", (5.2, 12.5)), AnnotatedVideo(videos / "sub/b.mkv", ())]
    assert missing == ["gone.mp4"]


def test_csv_rows_group_by_video(tmp_path: Path, videos: Path) -> None:
    (tmp_path / "a.csv").write_text(
        "video_path,timestamp,label,description\n"
        "a.mp4,12.5,1,Person exits\n"
        "a.mp4,5.2,1,Person enters\n"
        "quiet.mp4,2.0,0,nothing happens\n"
    )
    found, missing = read_annotations(tmp_path / "a.csv", videos)
    assert found == [AnnotatedVideo(videos / "a.mp4", (5.2, 12.5)), AnnotatedVideo(videos / "quiet.mp4", ())]
    assert missing == []


@pytest.mark.parametrize(
    "data",
    [
        {"database": {"xyz": {"annotations": [{"segment": [4.0, 9.0], "label": "Surfing"}, {"segment": [1.5, 2.0], "label": "x"}]}}},
        {"v_xyz": {"duration": 20.0, "timestamps": [[4.0, 9.0], [1.5, 2.0]], "sentences": ["a", "b"]}},
        [
            {"video": "video/v_xyz.mp4", "start_time": 4.0, "end_time": 9.0, "caption": "a"},
            {"video": "video/v_xyz.mp4", "start_time": 1.5, "end_time": 2.0, "caption": "b"},
        ],
    ],
    ids=["activitynet", "captions", "seed-caption-list"],
)
def test_activitynet_segments_trigger_at_their_start(tmp_path: Path, videos: Path, data) -> None:
    (tmp_path / "anet.json").write_text(json.dumps(data))
    found, _ = read_annotations(tmp_path / "anet.json", videos)
    assert found == [AnnotatedVideo(videos / "v_xyz.mp4", (1.5, 4.0))]


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("a.json", "{not json", "is not valid JSON"),
        ("a.json", json.dumps({"clips": []}), "is not a trigger annotation file: expected trigger JSON"),
        ("a.json", json.dumps({"videos": [{"video_path": "a.mp4", "triggers": [{"timestamp": "soon"}]}]}),
         r"videos\[0\]\.triggers\[0\]\.timestamp: 'soon' is not a time"),
        ("a.csv", "path,time\nx,1\n", "lacks the column"),
        ("a.json", json.dumps({"videos": [{"video_path": "a.mp4", "triggers": [{"timestamp": -2}]}]}), "must be >= 0"),
    ],
    ids=["broken-json", "unknown-shape", "bad-time", "csv-header", "negative-time"],
)
def test_bad_annotations_name_the_place(tmp_path: Path, videos: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(BadInputError, match=message):
        read_annotations(tmp_path / name, videos)


def test_labels_cover_the_window_after_each_event() -> None:
    seconds = np.arange(10) / 3
    labels = frame_labels(seconds, [1.0], (0.0, 1.0))
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0, 0]


def test_frame_scores() -> None:
    scores = frame_scores(np.array([1, 1, 0, 0, 1], bool), np.array([1, 0, 1, 0, 1]))
    assert (scores.true_positives, scores.false_positives, scores.false_negatives) == (2, 1, 1)
    assert scores.precision == pytest.approx(2 / 3) and scores.recall == pytest.approx(2 / 3)


def test_event_scores_match_each_event_once_within_the_tolerance() -> None:
    scores = event_scores([1.2, 1.4, 5.0, 9.9], [1.0, 4.2, 8.0], tolerance=1.0)
    assert (scores.true_positives, scores.false_positives, scores.false_negatives) == (2, 2, 1)
    # a greedy nearest match would pair 2.1 with 2.0 and lose 1.0; the maximal matching keeps both
    assert event_scores([2.1, 3.0], [1.5, 2.0], tolerance=1.0).true_positives == 2
    assert event_scores([], [], tolerance=1.0).f1 == 1.0

"""The synthetic films: the truth says what the pictures show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from filmline.benchmarks.synthetic import (
    Dissolve,
    Fade,
    Gradual,
    GroundTruth,
    Shot,
    Span,
    truth_path,
    write_film,
)
from filmline.engine.decode import open_decoder


def test_truth_of_the_timeline(films: dict[str, GroundTruth]) -> None:
    truth = films["h264-cfr.mkv"]
    # 30 | fade 4 out, 3 black, 5 in | 25 | dissolve 6 | 25 | cut to 3 black, cut | 20 | cut | 20
    assert truth.shots == [Span(0, 29), Span(42, 66), Span(73, 97), Span(101, 120), Span(121, 140)]
    assert truth.gradual == [
        Gradual("fade_out", 30, 33),
        Gradual("fade_in", 37, 41),
        Gradual("dissolve", 67, 72),
    ]
    assert truth.cuts == [98, 101, 121]
    assert truth.frame_count == 141


def test_frame_times(tmp_path: Path) -> None:
    cfr = write_film(tmp_path / "cfr.mkv", [6], size=(32, 32), fps=25)
    assert cfr.seconds == [k / 25 for k in range(6)]
    vfr = write_film(tmp_path / "vfr.mp4", [6], size=(32, 32), vfr=True, start_seconds=1.0)
    assert vfr.seconds == [0.0, 0.04, 0.12, 0.16, 0.24, 0.28]  # 1/fps and 2/fps in turn
    assert vfr.start_seconds == 1.0


def test_truth_round_trips_through_json(films: dict[str, GroundTruth]) -> None:
    truth = films["hevc-vfr-start1s.mkv"]
    assert truth_path(truth.path).exists()
    assert GroundTruth.load(truth.path) == truth
    assert GroundTruth.load(truth_path(truth.path)) == truth


def _decoded(truth: GroundTruth) -> np.ndarray:
    with open_decoder(truth.path) as decoder:
        return np.stack([f.to_rgb() for f in decoder.frames()]).astype(np.float32)


def test_pictures_match_the_truth(films: dict[str, GroundTruth]) -> None:
    truth = films["h264-cfr.mkv"]
    frames = _decoded(truth)
    step = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))  # step[i]: frame i → i + 1
    within = np.concatenate([step[s.first : s.last] for s in truth.shots])
    assert within.min() > 0.5  # every shot moves ...
    assert within.max() < 8  # ... slowly
    for cut in truth.cuts:
        assert step[cut - 1] > 3 * within.max()
    # Shots differ in texture, not in mean colour.
    means = np.array([frames[s.first : s.last + 1].mean(axis=(0, 1, 2)) for s in truth.shots])
    assert np.ptp(means, axis=0).max() < 12
    # A fade out darkens step by step; black is black; a fade in brightens.
    brightness = frames.mean(axis=(1, 2, 3))
    fade_out, fade_in = truth.gradual[0], truth.gradual[1]
    assert np.all(np.diff(brightness[fade_out.first - 1 : fade_out.last + 2]) < 0)
    assert brightness[fade_out.last + 1 : fade_in.first].max() < 20
    assert np.all(np.diff(brightness[fade_in.first - 1 : fade_in.last + 2]) > 0)


def test_dissolve_blends_both_shots(films: dict[str, GroundTruth]) -> None:
    truth = films["h264-cfr.mkv"]
    frames = _decoded(truth)
    dissolve = truth.gradual[2]
    before, after = frames[dissolve.first - 1], frames[dissolve.last + 1]
    blended = frames[dissolve.first : dissolve.last + 1]
    distance_to_after = np.abs(blended - after).mean(axis=(1, 2, 3))
    distance_to_before = np.abs(blended - before).mean(axis=(1, 2, 3))
    assert np.all(np.diff(distance_to_after) < 0)
    assert np.all(np.diff(distance_to_before) > 0)


def test_same_seed_same_film(tmp_path: Path) -> None:
    a = write_film(tmp_path / "a.mkv", [3, Shot(3, Dissolve(2))], size=(32, 32), seed=5)
    b = write_film(tmp_path / "b.mkv", [3, Shot(3, Dissolve(2))], size=(32, 32), seed=5)
    np.testing.assert_array_equal(_decoded(a), _decoded(b))


def test_fade_straight_from_shot_to_shot_is_a_cut(tmp_path: Path) -> None:
    truth = write_film(tmp_path / "f.mkv", [4, Shot(4, Fade(0, 0, 3))], size=(32, 32))
    assert truth.cuts == [4]  # shot 0 → fade-in frames of shot 1: nothing in common
    assert truth.gradual == [Gradual("fade_in", 4, 6)]


@pytest.mark.parametrize(
    "kwargs",
    [{"size": (33, 32)}, {"codec": "vp9"}, {"rotation": 45}],
)
def test_invalid_arguments(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        write_film(tmp_path / "x.mkv", [3], **{"size": (32, 32), **kwargs})


def test_shots_need_frames(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        write_film(tmp_path / "x.mkv", [3, 0], size=(32, 32))

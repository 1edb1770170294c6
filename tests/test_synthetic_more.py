"""Wipes, hard negatives, named sizes, the CSV truth and long films: the truth says what the
pictures show."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from filmline.benchmarks.synthetic import (
    SIZES,
    Dissolve,
    Flash,
    Gradual,
    GroundTruth,
    Negative,
    Pan,
    Shot,
    Span,
    Wipe,
    Zoom,
    truth_csv_path,
    write_film,
)
from filmline.engine.decode import open_decoder

EVERYTHING = [
    Shot(12),
    Shot(10, Wipe(6, "down"), effects=(Flash(4, 2),)),
    Shot(20, effects=(Pan(4, 5), Zoom(11, 8))),
    Shot(10, static=True),
    Shot(10, Dissolve(5)),
    Shot(10, Wipe(5, "left")),
]


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> tuple[GroundTruth, np.ndarray]:
    truth = write_film(tmp_path_factory.mktemp("more") / "everything.mkv", EVERYTHING, size=(128, 72), seed=2)
    with open_decoder(truth.path) as decoder:
        frames = np.stack([f.to_rgb() for f in decoder.frames()]).astype(np.float32)
    return truth, frames


def _same_content(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two grey pictures at their best circular shift: near 1 when
    one is the other moved (a pan), zoomed a little, lit or partly covered; low for a new shot."""
    a, b = a.mean(axis=2), b.mean(axis=2)
    a, b = a - a.mean(), b - b.mean()
    correlation = np.fft.irfft2(np.fft.rfft2(a) * np.conj(np.fft.rfft2(b)), s=a.shape)
    return float(correlation.max() / np.sqrt((a**2).sum() * (b**2).sum()))


def test_truth_of_the_timeline(everything: tuple[GroundTruth, np.ndarray]) -> None:
    truth, _ = everything
    # 12 | wipe 6 | 10 (flash at 4-5) | 20 (pan 4-8, zoom 11-18) | 10 static | dissolve 5 | 10 | wipe 5 | 10
    assert truth.shots == [Span(0, 11), Span(18, 27), Span(28, 47), Span(48, 57), Span(63, 72), Span(78, 87)]
    assert truth.gradual == [Gradual("wipe", 12, 17), Gradual("dissolve", 58, 62), Gradual("wipe", 73, 77)]
    assert truth.cuts == [28, 48]
    assert truth.negatives == [
        Negative("flash", 22, 23), Negative("pan", 32, 36), Negative("zoom", 39, 46), Negative("static", 48, 57)
    ]


def test_cuts_are_where_the_content_changes(everything: tuple[GroundTruth, np.ndarray]) -> None:
    truth, frames = everything
    for i in range(1, len(frames)):
        assert (_same_content(frames[i - 1], frames[i]) < 0.6) == (i in truth.cuts), f"frame {i}"


def test_hard_negatives_change_the_picture_a_lot(everything: tuple[GroundTruth, np.ndarray]) -> None:
    truth, frames = everything
    step = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))  # step[i]: frame i → i + 1
    calm = np.median(step[:11])
    flash, pan, zoom, static = truth.negatives
    assert step[flash.first - 1] > 10 * calm  # into the flash
    assert step[pan.first - 1 : pan.last].min() > 4 * calm  # a whip pan jumps like a cut
    assert step[zoom.first - 1 : zoom.last].min() > 1.2 * calm
    assert step[static.first : static.last].max() < 0.5  # a still picture stays still
    brightness = frames.mean(axis=(1, 2, 3))
    assert brightness[flash.first : flash.last + 1].min() > brightness[flash.first - 1] + 60


def test_a_wipe_moves_its_edge(everything: tuple[GroundTruth, np.ndarray]) -> None:
    truth, frames = everything
    wipe = truth.gradual[0]  # downwards: the new shot fills the picture from the top
    old, new = frames[wipe.first - 1], frames[wipe.last + 1]
    covered = []
    for i in range(wipe.first, wipe.last + 1):
        to_new = np.abs(frames[i] - new).mean(axis=(1, 2))
        to_old = np.abs(frames[i] - old).mean(axis=(1, 2))
        rows_new = to_new < to_old
        covered.append(int(rows_new.sum()))
        assert rows_new[: covered[-1] - 2].all() and not rows_new[covered[-1] + 2 :].any()  # one edge
    assert covered == sorted(covered)
    assert covered[0] == pytest.approx(72 / 7, abs=3) and covered[-1] == pytest.approx(72 * 6 / 7, abs=3)


def test_truth_csv_holds_the_shot_times(everything: tuple[GroundTruth, np.ndarray]) -> None:
    truth, _ = everything
    rows = truth_csv_path(truth.path).read_text().splitlines()
    assert rows[0] == "start_time,end_time"
    times = [tuple(float(v) for v in row.split(",")) for row in rows[1:]]
    assert [t for span in times for t in span] == pytest.approx([t for span in truth.shot_times() for t in span])
    assert times[0] == (0.0, 12 / 25) and times[-1][1] == pytest.approx(truth.frame_count / 25)
    assert GroundTruth.load(truth.path) == truth


@pytest.mark.parametrize("name", ["480p", "1080p"])
def test_sizes_by_name(tmp_path: Path, name: str) -> None:
    truth = write_film(tmp_path / f"{name}.mp4", [2], size=name)
    assert truth.size == SIZES[name]
    with open_decoder(truth.path) as decoder:
        assert (decoder.info.width, decoder.info.height) == SIZES[name]


def test_long_films_do_not_hold_frames(tmp_path: Path) -> None:
    """Memory does not grow with the film: frames are rendered and encoded one at a time."""

    def peak(frames: int) -> int:
        tracemalloc.start()
        write_film(tmp_path / f"{frames}.mkv", [frames // 3] * 3, size=(96, 64), preset="ultrafast")
        _, high = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return high

    short, long = peak(30), peak(900)
    assert long - short < 1_000_000  # 900 float frames of 96×64 would be 66 MB


@pytest.mark.parametrize(
    "shot",
    [Shot(5, effects=(Flash(4, 2),)), Shot(5, effects=(Pan(-1, 2),)), Shot(5, Wipe(3, "sideways"))],
)
def test_effects_must_fit(tmp_path: Path, shot: Shot) -> None:
    with pytest.raises(ValueError, match="shot 1"):
        write_film(tmp_path / "x.mkv", [3, shot], size=(32, 32))

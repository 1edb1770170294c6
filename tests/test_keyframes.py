"""Every shot gets a key frame and a thumbnail, also one too short to hold a sampled frame."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from filmline.benchmarks.synthetic import Fade, GroundTruth, Shot, write_film
from filmline.engine.cli import main as engine_run
from filmline.engine.stages.keyframes import pick_key_frames
from filmline.engine.stages.shots import Shot as FoundShot
from tests.videos import FADES_CLIP

# 25 fps sampled at 1 fps: frames 0, 25, 50, ... are sampled. Each fade holds black for 22
# frames (0.88 s: longer than black_gap_seconds, so the black is a shot of its own) between two
# fades of 8, placed so that no sampled frame falls in the black.
TIMELINE = [Shot(44), Shot(50, Fade(8, 22, 8)), Shot(40, Fade(8, 22, 8))]


@pytest.fixture(scope="module")
def fades_film(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    return write_film(tmp_path_factory.mktemp("fades") / "fades.mkv", TIMELINE, size=(160, 96), seed=2)


@pytest.fixture(autouse=True)
def no_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "engine-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _shots(video: str | Path, out: Path, capsys: pytest.CaptureFixture) -> list[dict]:
    code = engine_run([str(video), "--out", str(out), "--backend", "none", "--fps", "1", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    return json.loads((out / f"{Path(video).stem}.json").read_text())["shots"]


def _assert_every_shot_has_its_key_frame(shots: list[dict], out: Path) -> list[np.ndarray]:
    thumbnails = []
    for shot in shots:
        assert shot["key_frame"] is not None, shot
        assert shot["start_frame"] <= shot["key_frame"] <= shot["end_frame"]
        assert shot["start_time"] <= shot["key_frame_time"] < shot["end_time"]
        with Image.open(out / shot["thumbnail"]) as image:
            thumbnails.append(np.asarray(image.convert("RGB")))
    return thumbnails


def test_shot_between_fades_gets_its_own_middle_frame(fades_film: GroundTruth, tmp_path: Path, capsys) -> None:
    shots = _shots(fades_film.path, tmp_path, capsys)
    thumbnails = _assert_every_shot_has_its_key_frame(shots, tmp_path)
    unsampled = [k for k, s in enumerate(shots) if not any(f % 25 == 0 for f in range(s["start_frame"], s["end_frame"] + 1))]
    assert unsampled, "the film no longer has a shot without a sampled frame: the test would prove nothing"
    for k in unsampled:
        shot = shots[k]
        assert shot["key_frame"] == (shot["start_frame"] + shot["end_frame"]) // 2
        assert thumbnails[k].max() < 40  # the black between the fades, decoded at that very frame
        assert thumbnails[k].shape == thumbnails[0].shape


def test_real_clip_black_shot_has_a_key_frame(tmp_path: Path, capsys) -> None:
    if not FADES_CLIP.exists():
        pytest.skip(f"{FADES_CLIP} not present")
    shots = _shots(FADES_CLIP, tmp_path, capsys)
    thumbnails = _assert_every_shot_has_its_key_frame(shots, tmp_path)
    assert len(thumbnails) == len(shots) >= 3


def test_shot_without_captured_frame_takes_its_middle() -> None:
    shots = [FoundShot(index=k, start_frame=first, end_frame=last, transition_in=None, transition_out=None)
             for k, (first, last) in enumerate([(0, 40), (41, 55), (56, 99)])]
    assert pick_key_frames(shots, None, [0, 25, 40, 75]) == [25, 48, 75]

"""Frames kept for the vision-language model: display aspect at the configured width, which frames a
shot or a trigger gets, and the cleanup."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from filmline.engine.decode import FpsSampler, open_decoder, sample_indices
from filmline.engine.errors import OutputError
from filmline.engine.vlm.frames import VlmFrames, shot_images, trigger_image


def keep(path: str, out: Path, fps: float, width: int = 64) -> VlmFrames:
    frames = VlmFrames(out, "film", width, 90)
    tap, sampler = frames.tap(fps), FpsSampler(fps)
    thumbnail = np.zeros((36, 64, 3), np.uint8)
    with open_decoder(Path(path)) as decoder:
        recent = {}  # the sampler decides this frame or the one before
        for frame in decoder.frames():
            recent = {i: f for i, f in recent.items() if i == frame.index - 1} | {frame.index: frame}
            for chosen in sampler.push(frame.index, frame.seconds):
                tap.take(recent[chosen], thumbnail)
        for chosen in sampler.finish():
            tap.take(recent[chosen], thumbnail)
    return frames


def test_frames_keep_the_display_aspect_at_the_configured_width(films, tmp_path: Path) -> None:
    rotated = keep(films["h264-rot90.mp4"].path, tmp_path, 5.0)  # stored 160x96, displayed 96x160
    first = rotated.nearest(0)
    assert rotated.load(first).shape == (107, 64, 3)
    stretched = keep(films["h264-sar2.mkv"].path, tmp_path, 5.0, width=400)  # 160x96 at 2:1 pixels: 320x96
    assert stretched.load(stretched.nearest(0)).shape == (96, 320, 3)  # never upscaled past the display size


def test_a_shot_gets_the_kept_frames_nearest_its_key_frame_in_time_order(films, tmp_path: Path) -> None:
    frames = keep(films["h264-cfr.mkv"].path, tmp_path, 5.0)  # 25 fps: frames 0, 5, 10, ...
    shot = {"start_frame": 12, "end_frame": 41, "key_frame": 27, "thumbnail": None}
    chosen, load = shot_images(frames, shot, neighbours=2)
    assert chosen == [20, 25, 30]  # 25 nearest, then 30 (3 away); 20 and 35 tie at 7 and 8 away
    assert [image.shape for image in load()] == [(38, 64, 3)] * 3
    assert shot_images(frames, {**shot, "key_frame": None}, 0)[0] == [25]  # the middle, without a key frame


def test_a_shot_without_a_kept_frame_uses_its_thumbnail_and_triggers_their_nearest(films, tmp_path: Path) -> None:
    frames = keep(films["h264-cfr.mkv"].path, tmp_path, 1.0)  # frames 0, 25, 50, 75, 100
    Image.fromarray(np.full((18, 32, 3), 7, np.uint8)).save(tmp_path / "thumb.jpg")
    shot = {"start_frame": 30, "end_frame": 44, "key_frame": 37, "thumbnail": "thumb.jpg"}
    chosen, load = shot_images(frames, shot, neighbours=2)
    assert chosen == [37] and load()[0].shape == (18, 32, 3)
    assert shot_images(frames, {**shot, "thumbnail": None, "key_frame": None}, 2)[0] == []
    assert trigger_image(frames, 62)[0] == 50 and trigger_image(frames, 63)[0] == 75
    assert trigger_image(frames, 25)[0] == 25


def test_discard_removes_every_kept_frame(films, tmp_path: Path) -> None:
    truth = films["h264-cfr.mkv"]
    frames = keep(truth.path, tmp_path, 2.0)
    assert frames.folder.parent == tmp_path and frames.folder.name.startswith(".film.vlm-frames.")
    frames.load(frames.nearest(0))  # reading waits for the writer thread
    assert len(list(frames.folder.iterdir())) == len(sample_indices(truth.seconds, 2.0))
    frames.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_frame_that_cannot_be_written_is_an_output_error_naming_the_fix(films, tmp_path: Path) -> None:
    frames = VlmFrames(tmp_path, "film", 64, 90)
    shutil.rmtree(frames.folder)  # as if the output folder were taken away mid-run
    with open_decoder(Path(films["h264-cfr.mkv"].path)) as decoder:
        frames.save(next(iter(decoder.frames())))
    with pytest.raises(OutputError, match="choose another folder with --out"):
        frames.load(0)
    frames.discard()

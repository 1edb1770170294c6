"""Device-side encoder preprocessing against swscale, on frames decoded from real H.264 files.

"Within 1/255" is measured in 8-bit levels of the R'G'B' image before normalisation:
|a - b| · 255 · std per channel, so one level is 1/255 of the pixel range whatever mean/std are.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
from av.video.reformatter import Interpolation, VideoReformatter

from filmline.benchmarks.synthetic import Dissolve, Shot, write_film
from filmline.engine.decode.pyav import SCALING, PyAVDecoder
from filmline.engine.gpu_preprocess import DevicePreprocessor, YuvFormat
from filmline.engine.preprocess import to_pixels

MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's: unequal per channel, so a swapped channel shows
STD = (0.26862954, 0.26130258, 0.27577711)

DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device")])]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A shrinking and a growing case: 512x288 (to 64 and 224 px) and 96x64 (to 224 px)."""
    folder = tmp_path_factory.mktemp("preprocess")
    timeline = [Shot(3), Shot(3, Dissolve(2))]
    return {
        "512x288": Path(write_film(folder / "wide.mkv", timeline, size=(512, 288), seed=5).path),
        "96x64": Path(write_film(folder / "small.mkv", timeline, size=(96, 64), seed=6).path),
        "rot90": Path(write_film(folder / "rot.mp4", [3], size=(128, 96), rotation=90, marker=True, seed=7).path),
    }


def _frames(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return [frame for frame in container.decode(video=0)]


def _nv12(frame: av.VideoFrame, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoded picture as NVDEC hands it over: a Y plane and an interleaved UV plane."""
    packed = frame.reformat(format="nv12").to_ndarray()
    height, width = frame.height, frame.width
    y = torch.from_numpy(packed[:height].copy())[None].to(device)
    uv = torch.from_numpy(packed[height:].reshape(height // 2, width // 2, 2).copy())[None].to(device)
    return y, uv


def _levels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| of two normalised pixel arrays [B, 3, S, S] in 8-bit levels."""
    return np.abs(a - b) * 255.0 * np.asarray(STD, dtype=np.float32).reshape(1, 3, 1, 1)


def _swscale_pixels(frame: av.VideoFrame, size: int) -> np.ndarray:
    image = VideoReformatter().reformat(frame, size, size, "rgb24", interpolation=SCALING).to_ndarray()
    return to_pixels(image[None], MEAN, STD)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("clip, size", [("512x288", 64), ("512x288", 224), ("96x64", 224)])
def test_nv12_within_one_level_of_swscale(clips, device, clip, size):
    """Area shrink / bilinear growth, chroma siting, BT.601 limited range: swscale's own numbers
    (with full chroma) to within one level, on every pixel of every frame."""
    prepare = DevicePreprocessor(size, MEAN, STD, device)
    for frame in _frames(clips[clip]):
        got = prepare.from_nv12(*_nv12(frame, device), YuvFormat.from_ffmpeg(frame.colorspace, frame.color_range))
        assert got.shape == (1, 3, size, size) and got.device.type == device
        assert _levels(got.cpu().numpy(), _swscale_pixels(frame, size)).max() <= 1.0 + 1e-3


@pytest.mark.parametrize("colorspace, color_range, matrix", [(1, 1, "bt709"), (6, 2, "bt601"), (9, 1, "bt2020")])
def test_colour_tags_follow_swscale(clips, colorspace, color_range, matrix):
    """A stream tagged BT.709, full range or BT.2020 converts with that matrix and range."""
    yuv = YuvFormat.from_ffmpeg(colorspace, color_range)
    assert (yuv.matrix, yuv.full_range) == (matrix, color_range == 2)
    prepare = DevicePreprocessor(64, MEAN, STD, "cpu")
    frame = _frames(clips["512x288"])[4]
    frame.colorspace, frame.color_range = colorspace, color_range
    got = prepare.from_nv12(*_nv12(frame, "cpu"), yuv).numpy()
    assert _levels(got, _swscale_pixels(frame, 64)).max() <= 1.0 + 1e-3


def test_engine_cpu_path_matches_within_one_level(clips):
    """The encoder input the CPU path makes (`PyAVFrame.to_rgb` then `to_pixels`) and the GPU
    path's, from the same decoded frames: within 1/255 per pixel."""
    prepare = DevicePreprocessor(224, MEAN, STD, "cpu")
    with PyAVDecoder(clips["512x288"]) as decoder:
        for frame in decoder.frames():
            got = prepare.from_nv12(*_nv12(frame._frame, "cpu")).numpy()
            cpu = to_pixels(frame.to_rgb(224, 224)[None], MEAN, STD)
            assert _levels(got, cpu).max() <= 1.0 + 1e-3


def test_rgb_input_close_to_nv12(clips):
    """A decoder that converts to RGB itself (accurately: full chroma, exact rounding) gives the
    same pixels to within about a level; resizing in RGB rather than YUV differs only by the
    rounding of the full-size image and by clipping."""
    prepare = DevicePreprocessor(224, MEAN, STD, "cpu")
    frame = _frames(clips["512x288"])[2]
    accurate = Interpolation.BILINEAR | Interpolation.FULL_CHR_H_INT | Interpolation.ACCURATE_RND
    full_size = VideoReformatter().reformat(frame, format="rgb24", interpolation=accurate).to_ndarray()
    from_rgb = prepare.from_rgb(torch.from_numpy(full_size)[None]).numpy()
    from_nv12 = prepare.from_nv12(*_nv12(frame, "cpu")).numpy()
    levels = _levels(from_rgb, from_nv12)
    assert levels.max() <= 2.0 + 1e-3 and levels.mean() <= 0.25


def test_rotation_turns_clockwise(clips):
    """The stored picture's top-left marker lands top-right after a 90° clockwise turn, where the
    CPU path shows it too."""
    prepare = DevicePreprocessor(32, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "cpu")
    with PyAVDecoder(clips["rot90"]) as decoder:
        frame = next(iter(decoder.frames()))
        rotation = decoder.info.rotation
        cpu = frame.to_rgb(32, 32)
    got = prepare.from_nv12(*_nv12(frame._frame, "cpu"), rotation=rotation)[0].permute(1, 2, 0).numpy() * 255
    assert rotation == 90
    for image in (got, cpu):
        assert image[:4, -4:].min() > 200 and image[-4:, :4].max() < 200  # top-right, not bottom-left


def test_bad_planes_are_refused():
    prepare = DevicePreprocessor(32, MEAN, STD, "cpu")
    y = torch.zeros(1, 64, 96, dtype=torch.uint8)
    with pytest.raises(ValueError, match="uv must have shape"):
        prepare.from_nv12(y, torch.zeros(1, 64, 96, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match="y must be a uint8 tensor"):
        prepare.from_nv12(y.float(), torch.zeros(1, 32, 48, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match="Invalid colour matrix"):
        YuvFormat("rec709")

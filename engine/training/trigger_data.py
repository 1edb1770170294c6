"""Training material: each annotated video decoded once at the trigger rate, labelled, cut into
padded sequences.

Frames are sampled by timestamp (`FpsSampler`, as engine-run samples them) and kept as uint8 at
the model's input size, so a video costs N × S² × 3 bytes (at 3 fps and 224 px, ~1.6 GB per hour
of video): fine for the small data sets this trainer is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from filmline.engine.decode import FpsSampler, open_decoder
from filmline.engine.preprocess import to_pixels
from filmline.engine.training.trigger_annotations import AnnotatedVideo


@dataclass
class SampledVideo:
    path: Path
    images: np.ndarray  # uint8 [N, S, S, 3]
    seconds: np.ndarray  # float64 [N], from the first frame
    events: tuple[float, ...]
    labels: np.ndarray  # float32 [N]: 1 for frames within the positive window of an event


@dataclass(frozen=True)
class Piece:
    """Frames [start, stop) of video `video`."""

    video: int
    start: int
    stop: int


def sample_frames(path: Path, fps: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, size, size, 3] frames chosen at `fps` by timestamp, and their times."""
    images: list[np.ndarray] = []
    seconds: list[float] = []
    sampler = FpsSampler(fps)
    previous = None
    with open_decoder(path) as decoder:
        for frame in decoder.frames():
            for index in sampler.push(frame.index, frame.seconds):
                chosen = frame if index == frame.index else previous
                images.append(chosen.to_rgb(size, size))
                seconds.append(chosen.seconds)
            previous = frame
        for _ in sampler.finish():
            images.append(previous.to_rgb(size, size))
            seconds.append(previous.seconds)
    return np.stack(images), np.asarray(seconds, dtype=np.float64)


def frame_labels(seconds: np.ndarray, events: Sequence[float], window: tuple[float, float]) -> np.ndarray:
    """1.0 where `window[0] <= t - event < window[1]` for some event, else 0.0."""
    labels = np.zeros(len(seconds), dtype=np.float32)
    for event in events:
        offset = seconds - event
        labels[(offset >= window[0]) & (offset < window[1])] = 1.0
    return labels


def load_videos(
    annotated: Sequence[AnnotatedVideo],
    *,
    fps: float,
    size: int,
    window: tuple[float, float],
    progress: Callable[[str], None],
) -> list[SampledVideo]:
    videos = []
    for n, video in enumerate(annotated, start=1):
        images, seconds = sample_frames(video.path, fps, size)
        labels = frame_labels(seconds, video.events, window)
        videos.append(SampledVideo(video.path, images, seconds, video.events, labels))
        progress(f"decoded {n}/{len(annotated)}: {video.path.name} ({len(seconds)} frames, {len(video.events)} triggers)")
    return videos


def pieces(videos: Sequence[SampledVideo], length: int, rng: np.random.Generator) -> list[Piece]:
    """Every frame once, in pieces of at most `length`; the cut points shift randomly per call
    so sequences do not always start at the same frames."""
    cut: list[Piece] = []
    for v, video in enumerate(videos):
        count = len(video.seconds)
        first = int(rng.integers(1, length + 1)) if count > length else count
        bounds = [0, *range(first, count, length), count]
        cut.extend(Piece(v, a, b) for a, b in zip(bounds, bounds[1:]))
    return cut


def batch(
    videos: Sequence[SampledVideo], chosen: Sequence[Piece], mean: Sequence[float], std: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pixels [B, T, 3, S, S], labels [B, T] and the valid mask [B, T] (False on padding)."""
    length = max(p.stop - p.start for p in chosen)
    size = videos[chosen[0].video].images.shape[1]
    pixels = torch.zeros(len(chosen), length, 3, size, size)
    labels = torch.zeros(len(chosen), length)
    valid = torch.zeros(len(chosen), length, dtype=torch.bool)
    for row, piece in enumerate(chosen):
        video, count = videos[piece.video], piece.stop - piece.start
        pixels[row, :count] = torch.from_numpy(to_pixels(video.images[piece.start : piece.stop], mean, std))
        labels[row, :count] = torch.from_numpy(video.labels[piece.start : piece.stop])
        valid[row, :count] = True
    return pixels, labels, valid

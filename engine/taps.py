"""Frame taps: stages that want decoded frames at their own rate, all fed by the one decode.

The pipeline gives each tap its own timestamp sampler (`FpsSampler(tap.fps)`) and hands it the
frames that sampler picks, with the frame's 64×36 cheap-pass thumbnail. A tap keeps only what it
needs (features, embeddings), never frames.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from filmline.engine.decode import Frame
from filmline.engine.encoder_queue import EncoderQueue
from filmline.engine.luma_features import luminance, standardise


class FrameTap(Protocol):
    fps: float

    def take(self, frame: Frame, thumbnail: np.ndarray) -> None:
        """One sampled frame (in presentation order) and its uint8 RGB thumbnail `[36, 64, 3]`."""
        ...


class TriggerTap:
    """Frames at --trigger-fps for the trigger CNN."""

    def __init__(self, detector) -> None:  # engine.stages.triggers.TriggerDetector
        self.detector = detector
        self.fps = detector.settings.fps

    def take(self, frame: Frame, thumbnail: np.ndarray) -> None:
        size = self.detector.image_size
        self.detector.add(frame.index, frame.seconds, frame.to_rgb(size, size))


class EmbeddingTap:
    """One embedding per second from a given encoder (the intro model's embedder)."""

    fps = 1.0

    def __init__(self, queue: EncoderQueue) -> None:
        self.queue = queue

    def take(self, frame: Frame, thumbnail: np.ndarray) -> None:
        self.queue.add_frame(frame)

    def per_second(self) -> np.ndarray:
        """`[T, D]` embeddings, one per second of video."""
        self.queue.flush()
        return self.queue.embeddings()


class LumaTap:
    """One cheap feature per second: the standardised W×H luminance thumbnail (engine.luma_features).

    Cross-episode matching uses these when no encoder is available, and an intro model trained
    on them (embedder `luma-WxH`) reads them. At the cheap pass's own 64×36 the thumbnail is
    reused; another size is scaled from the frame.
    """

    fps = 1.0

    def __init__(self, size: tuple[int, int] = (64, 36)) -> None:
        self.size = size  # (width, height)
        self._rows: list[np.ndarray] = []

    def take(self, frame: Frame, thumbnail: np.ndarray) -> None:
        width, height = self.size
        image = thumbnail if thumbnail.shape[:2] == (height, width) else frame.to_rgb(width, height)
        self._rows.append(luminance(image).astype(np.float16))

    def per_second(self) -> np.ndarray:
        """`[T, W·H]` features, one per second of video."""
        if not self._rows:
            return np.zeros((0, self.size[0] * self.size[1]), dtype=np.float32)
        return standardise(np.stack(self._rows))

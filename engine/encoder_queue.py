"""Batches frames for the image encoder and keeps the embeddings, in the order frames arrive."""

from __future__ import annotations

import time

import numpy as np

from engine.backends import Runner
from engine.preprocess import to_pixels


class EncoderQueue:
    """Collects resized frames, runs the encoder a batch at a time, accumulates embeddings.

    Only one batch of images is held at once; what accumulates is one embedding per frame.
    """

    def __init__(self, runner: Runner, batch_size: int) -> None:
        self.runner = runner
        self.batch_size = batch_size
        self.seconds_spent = 0.0
        self._images: list[np.ndarray] = []
        self._pending_frames: list[int] = []
        self.frames: list[int] = []
        self._chunks: list[np.ndarray] = []

    def reset(self) -> None:
        """Forget the embeddings of the previous video (the runner stays loaded)."""
        self.flush()
        self.seconds_spent = 0.0
        self.frames = []
        self._chunks = []

    @property
    def image_size(self) -> int:
        return self.runner.image_size

    def add(self, frame_index: int, image: np.ndarray) -> None:
        """Queue one uint8 RGB image `[S, S, 3]` of frame `frame_index`."""
        self._images.append(image)
        self._pending_frames.append(frame_index)
        if len(self._images) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Encode whatever is queued."""
        if not self._images:
            return
        started = time.perf_counter()
        pixels = to_pixels(np.stack(self._images), self.runner.mean, self.runner.std)
        embeddings = np.asarray(self.runner.run(pixels), dtype=np.float32)
        self.seconds_spent += time.perf_counter() - started
        self._chunks.append(embeddings)
        self.frames.extend(self._pending_frames)
        self._images.clear()
        self._pending_frames.clear()

    def embeddings(self) -> np.ndarray:
        """`[len(frames), D]` embeddings of everything flushed, row k for `frames[k]`."""
        if not self._chunks:
            return np.zeros((0, self.runner.embedding_dim), dtype=np.float32)
        return np.concatenate(self._chunks)

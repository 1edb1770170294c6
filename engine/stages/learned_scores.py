"""TransNetV2's per-frame probabilities of a whole video, computed while it decodes.

The network reads 100-frame windows of 48×27 RGB frames. As the reference does, the video is
padded with 25 copies of its first frame and enough copies of its last frame, windows start every
50 frames, and each keeps its middle 50 predictions, so every frame is scored with 25 frames of
context on each side. Here the windows are cut from a short buffer as frames arrive and run
`batch` at a time. What accumulates per frame: two probabilities and a 16×9 grey signature
(144 bytes, 25 MB for a two-hour film) by which the fusion tells a flash from a cut. And, only
where the network proposes a cut (single-frame probability ≥ `measure_motion_from`), while both
frames are still in the buffer: how much of the change a camera move explains
(`motion_evidence`), by which the fusion tells a whip pan from a cut.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from filmline.engine.models.transnetv2 import HEIGHT, WIDTH, WINDOW
from filmline.engine.stages.motion_evidence import shift_residual

SIGNATURE_BLOCK = 3  # 48×27 → 16×9 grey signature
STEP = 50  # window stride; each window keeps predictions [CONTEXT, CONTEXT + STEP)
CONTEXT = 25
WindowRun = Callable[[np.ndarray], np.ndarray]  # float32 [B, 100, 27, 48, 3] → [B, 100, 2]


class LearnedScores:
    """Feed every decoded frame's 48×27 RGB copy in order; `finish` returns `[N, 2]` probabilities
    (column 0: a cut at this frame, column 1: this frame is inside a transition)."""

    def __init__(self, run: WindowRun, batch: int, measure_motion_from: float = 1.0) -> None:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self._run = run
        self._batch = batch
        self._motion_from = measure_motion_from
        self._motion: dict[int, float] = {}  # frame → shift_residual of the change into it
        self._buffer: list[np.ndarray] = []  # padded frames from self._buffer_start on
        self._buffer_start = 0  # padded index of self._buffer[0]
        self._next_window = 0  # padded index where the next window starts
        self._frames = 0
        self._pending: list[int] = []  # starts of windows ready to run
        self._outputs: list[np.ndarray] = []
        self._signatures: list[np.ndarray] = []
        self.seconds_spent = 0.0

    def push(self, frame: np.ndarray) -> None:
        """One frame, uint8 `[27, 48, 3]`."""
        if frame.shape != (HEIGHT, WIDTH, 3):
            raise ValueError(f"TransNetV2 frames are [{HEIGHT}, {WIDTH}, 3], got {frame.shape}")
        self._signatures.append(signature(frame))
        if self._frames == 0:
            self._buffer.extend([frame] * CONTEXT)
        self._buffer.append(frame)
        self._frames += 1
        self._queue_ready_windows()
        if len(self._pending) >= self._batch:
            self._run_pending()

    def finish(self) -> np.ndarray:
        """`[N, 2]` float32 probabilities of the N frames pushed."""
        if self._frames == 0:
            return np.zeros((0, 2), dtype=np.float32)
        remainder = self._frames % STEP
        self._buffer.extend([self._buffer[-1]] * (CONTEXT + STEP - (remainder or STEP)))
        self._queue_ready_windows()
        self._run_pending()
        return np.concatenate(self._outputs)[: self._frames]

    def signatures(self) -> np.ndarray:
        """`[N, 144]` uint8: each frame's 16×9 grey picture, for telling a flash from a cut."""
        if not self._signatures:
            return np.zeros((0, (HEIGHT // SIGNATURE_BLOCK) * (WIDTH // SIGNATURE_BLOCK)), dtype=np.uint8)
        return np.stack(self._signatures)

    def motion(self) -> dict[int, float]:
        """Frame f → how much of the change from frame f - 1 into f no camera move explains
        (`motion_evidence.shift_residual`), for the frames f - 1 whose cut probability reached
        `measure_motion_from`."""
        return dict(self._motion)

    def _queue_ready_windows(self) -> None:
        end = self._buffer_start + len(self._buffer)
        while self._next_window + WINDOW <= end:
            self._pending.append(self._next_window)
            self._next_window += STEP

    def _run_pending(self) -> None:
        if not self._pending:
            return
        started = time.perf_counter()
        windows = np.stack([
            np.stack(self._buffer[s - self._buffer_start : s - self._buffer_start + WINDOW]) for s in self._pending
        ]).astype(np.float32)
        probabilities = np.asarray(self._run(windows), dtype=np.float32)
        self._outputs.extend(probabilities[:, CONTEXT : CONTEXT + STEP])
        for start, window in zip(self._pending, probabilities):
            self._measure_motion(start, window[CONTEXT : CONTEXT + STEP, 0])
        drop = self._next_window - self._buffer_start  # frames no later window needs
        del self._buffer[:drop]
        self._buffer_start += drop
        self._pending.clear()
        self.seconds_spent += time.perf_counter() - started


    def _measure_motion(self, start: int, cut_probability: np.ndarray) -> None:
        """Shift residuals into the frame after each kept frame of the window at padded index
        `start` whose cut probability is high enough (its frame k is padded k + CONTEXT)."""
        for offset in np.flatnonzero(cut_probability >= self._motion_from):
            frame = start + int(offset)  # real index of the outgoing frame
            if frame + 1 < self._frames:
                before = self._buffer[frame + CONTEXT - self._buffer_start]
                self._motion[frame + 1] = shift_residual(before, self._buffer[frame + 1 + CONTEXT - self._buffer_start])


def signature(frame: np.ndarray) -> np.ndarray:
    """The 16×9 block means of a 48×27 RGB frame's grey level, uint8, flattened."""
    grey = frame.astype(np.float32).mean(axis=2)
    blocks = grey.reshape(HEIGHT // SIGNATURE_BLOCK, SIGNATURE_BLOCK, WIDTH // SIGNATURE_BLOCK, SIGNATURE_BLOCK)
    return blocks.mean(axis=(1, 3)).round().astype(np.uint8).ravel()

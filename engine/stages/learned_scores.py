"""TransNetV2's per-frame probabilities of a whole video, computed while it decodes.

The network reads 100-frame windows of 48×27 RGB frames. As the reference does, the video is
padded with 25 copies of its first frame and enough copies of its last frame, windows start every
50 frames, and each keeps its middle 50 predictions, so every frame is scored with 25 frames of
context on each side. Here the windows are cut from a short buffer as frames arrive and run
`batch` at a time, in a thread of their own (`engine.background.Consumer`, at most `DEPTH`
batches waiting), so the network and the decode overlap; batches run in order, each as it would
inline, so the probabilities are the same. What accumulates per frame: two probabilities and a
16×9 grey signature (144 bytes, 25 MB for a two-hour film) by which the fusion tells a flash from
a cut. And, only where the network proposes a cut (single-frame probability ≥
`measure_motion_from`), measured in the worker on the window that holds both frames: how much of
the change a camera move explains (`motion_evidence`), by which the fusion tells a whip pan from a
cut.

Frames may be torch tensors on a GPU (NVDEC's, scaled there from NV12): the windows are then cut
and run there, and only the probabilities and signatures come to the host, once per batch of
windows. NumPy frames take the host path; both give the same numbers.

Timing: `seconds_spent` is the time the caller spends on the model (handing a batch over, waiting
for room, waiting for the last batches in `finish`), the wall time it adds to the decode loop;
`busy_seconds` is the worker's own time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from filmline.engine.background import Consumer
from filmline.engine.models.transnetv2 import HEIGHT, WIDTH, WINDOW
from filmline.engine.stages.motion_evidence import shift_residual

SIGNATURE_BLOCK = 3  # 48×27 → 16×9 grey signature
STEP = 50  # window stride; each window keeps predictions [CONTEXT, CONTEXT + STEP)
CONTEXT = 25
DEPTH = 2  # batches of windows waiting for the worker
# float32 [B, 100, 27, 48, 3] → [B, 100, 2]; a torch tensor in gives one back, on its device
WindowRun = Callable[[np.ndarray | torch.Tensor], np.ndarray | torch.Tensor]
Image = np.ndarray | torch.Tensor  # uint8 [27, 48, 3]


class LearnedScores:
    """Feed every decoded frame's 48×27 RGB copy in order; `finish` returns `[N, 2]` probabilities
    (column 0: a cut at this frame, column 1: this frame is inside a transition). On an error
    path, `close` stops the worker."""

    def __init__(self, run: WindowRun, batch: int, measure_motion_from: float = 1.0) -> None:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self._run = run
        self._batch = batch
        self._motion_from = measure_motion_from
        self._motion: dict[int, float] = {}  # frame → shift_residual of the change into it (worker-written)
        self._buffer: list[Image] = []  # padded frames from self._buffer_start on
        self._buffer_start = 0  # padded index of self._buffer[0]
        self._next_window = 0  # padded index where the next window starts
        self._frames = 0
        self._pending: list[int] = []  # starts of windows ready to run
        self._outputs: list[np.ndarray] = []  # appended by the worker, in batch order
        self._signatures: list[np.ndarray] = []
        self._worker: Consumer[tuple[list[int], list[list[Image]]]] = Consumer(self._run_windows, DEPTH, "transnetv2")
        self._device_signatures: list[torch.Tensor] = []  # of GPU frames, not yet on the host
        self.seconds_spent = 0.0
        self.busy_seconds = 0.0

    def push(self, frame: Image) -> None:
        """One frame, uint8 `[27, 48, 3]`, on the host (NumPy) or a device (torch)."""
        if tuple(frame.shape) != (HEIGHT, WIDTH, 3):
            raise ValueError(f"TransNetV2 frames are [{HEIGHT}, {WIDTH}, 3], got {tuple(frame.shape)}")
        if isinstance(frame, np.ndarray):
            self._signatures.append(signature(frame))
        else:
            self._device_signatures.append(device_signature(frame))
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
        started = time.perf_counter()
        self._worker.finish()
        self.seconds_spent += time.perf_counter() - started
        return np.concatenate(self._outputs)[: self._frames]

    def close(self) -> None:
        """Stop the worker, dropping the batches not yet run (a video that failed)."""
        self._worker.close()

    def signatures(self) -> np.ndarray:
        """`[N, 144]` uint8: each frame's 16×9 grey picture, for telling a flash from a cut."""
        self._signatures_to_host()
        if not self._signatures:
            return np.zeros((0, (HEIGHT // SIGNATURE_BLOCK) * (WIDTH // SIGNATURE_BLOCK)), dtype=np.uint8)
        return np.stack(self._signatures)

    def motion(self) -> dict[int, float]:
        """Frame f → how much of the change from frame f - 1 into f no camera move explains
        (`motion_evidence.shift_residual`), for the frames f - 1 whose cut probability reached
        `measure_motion_from`."""
        return {frame: value for frame, value in self._motion.items() if frame < self._frames}

    def _queue_ready_windows(self) -> None:
        end = self._buffer_start + len(self._buffer)
        while self._next_window + WINDOW <= end:
            self._pending.append(self._next_window)
            self._next_window += STEP

    def _run_pending(self) -> None:
        if not self._pending:
            return
        started = time.perf_counter()
        windows = [self._buffer[s - self._buffer_start : s - self._buffer_start + WINDOW] for s in self._pending]
        self._signatures_to_host()
        self._worker.put((list(self._pending), windows))  # waits while DEPTH batches wait
        drop = self._next_window - self._buffer_start  # frames no later window needs
        del self._buffer[:drop]
        self._buffer_start += drop
        self._pending.clear()
        self.seconds_spent += time.perf_counter() - started

    def _run_windows(self, batch_of: tuple[list[int], list[list[Image]]]) -> None:
        """The worker: one batch through the network, keeping each window's middle predictions,
        and the motion evidence where they propose a cut."""
        starts, windows = batch_of
        started = time.perf_counter()
        if isinstance(windows[0][0], np.ndarray):
            batch = np.stack([np.stack(frames) for frames in windows]).astype(np.float32)
        else:
            batch = torch.stack([torch.stack(frames) for frames in windows]).float()
        probabilities = self._run(batch)
        if isinstance(probabilities, torch.Tensor):
            probabilities = probabilities.float().cpu().numpy()
        probabilities = np.asarray(probabilities, dtype=np.float32)
        self._outputs.extend(probabilities[:, CONTEXT : CONTEXT + STEP])
        for start, frames, window in zip(starts, windows, probabilities):
            self._measure_motion(start, frames, window[CONTEXT : CONTEXT + STEP, 0])
        self.busy_seconds += time.perf_counter() - started

    def _signatures_to_host(self) -> None:
        """The GPU frames' signatures so far to the host, in one copy."""
        if self._device_signatures:
            self._signatures.extend(torch.stack(self._device_signatures).cpu().numpy())
            self._device_signatures.clear()


    def _measure_motion(self, start: int, frames: list[Image], cut_probability: np.ndarray) -> None:
        """Shift residuals into the frame after each kept frame of the window at padded index
        `start` (its frame k is padded k + CONTEXT, at `frames[k - start + CONTEXT]`) whose cut
        probability is high enough; `motion` drops those past the last real frame."""
        for offset in np.flatnonzero(cut_probability >= self._motion_from):
            before, after = frames[int(offset) + CONTEXT], frames[int(offset) + CONTEXT + 1]
            self._motion[start + int(offset) + 1] = shift_residual(_host(before), _host(after))


def _host(frame: Image) -> np.ndarray:
    return frame if isinstance(frame, np.ndarray) else frame.cpu().numpy()


def signature(frame: np.ndarray) -> np.ndarray:
    """The 16×9 block means of a 48×27 RGB frame's grey level, uint8, flattened."""
    grey = frame.astype(np.float32).mean(axis=2)
    blocks = grey.reshape(HEIGHT // SIGNATURE_BLOCK, SIGNATURE_BLOCK, WIDTH // SIGNATURE_BLOCK, SIGNATURE_BLOCK)
    return blocks.mean(axis=(1, 3)).round().astype(np.uint8).ravel()


def device_signature(frame: torch.Tensor) -> torch.Tensor:
    """`signature` of a uint8 `[27, 48, 3]` tensor, computed on its device (the same steps in
    float32, so within one level of the host's where rounding meets a half)."""
    grey = frame.float().mean(dim=2)
    blocks = grey.reshape(HEIGHT // SIGNATURE_BLOCK, SIGNATURE_BLOCK, WIDTH // SIGNATURE_BLOCK, SIGNATURE_BLOCK)
    return blocks.mean(dim=(1, 3)).round().to(torch.uint8).flatten()

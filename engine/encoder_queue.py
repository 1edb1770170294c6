"""Batches frames for the image encoder and keeps the embeddings, in the order frames arrive.

With `overlap` (the default) a worker thread encodes while the caller goes on decoding: each full
batch is handed over through a queue at most `depth` batches deep, so the slower side sets the
pace and memory stays bounded (`depth` batches waiting, one encoding, one filling). One worker
(`engine.background.Consumer`) takes batches first in, first out, so embeddings stay in arrival
order and equal the synchronous path's. On CUDA the worker encodes on a stream of its own. An
error in the worker is raised in the caller when it hands over the next batch or at `flush`;
`discard` stops the worker of a video that failed. Runners are not all thread-safe, so queues
sharing one runner (the shot encoder's and the series tap's) take turns on it.

`add_frame` takes a decoded frame. One that carries NV12 planes on the runner's CUDA device
(`NvdecFrame.nv12()`, `.yuv`, `.rotation`) is prepared there by
`engine.gpu_preprocess.DevicePreprocessor` and never visits the host; any other goes through
`Frame.to_rgb(S, S)` and `engine.preprocess.to_pixels`, as `add` does.

Embeddings stay on a CUDA runner's GPU: `embedding_tensor()` is what the shot stage's kernels
read there; `embeddings()` is the same rows on the host.

Timing: `seconds_spent` is the time the *caller* spends on the encoder, inside `add` (waiting for
room in the queue, preparing a frame on the device) and `flush` (waiting for the last batches):
the wall time the encoder adds to the decode loop, which the pipeline's timings report and take
off the decode's. Without overlap that is the whole encode, as before. `busy_seconds` is the
worker's own encoding time.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from filmline.engine.backends import Runner
from filmline.engine.background import Consumer
from filmline.engine.preprocess import to_pixels

if TYPE_CHECKING:
    from filmline.engine.decode import Frame
    from filmline.engine.gpu_preprocess import DevicePreprocessor

DEFAULT_DEPTH = 2  # full batches waiting for the worker
_runner_locks: weakref.WeakKeyDictionary[Runner, threading.Lock] = weakref.WeakKeyDictionary()
_runner_locks_guard = threading.Lock()


class EncoderQueue:
    """Collects encoder inputs, runs the encoder a batch at a time, accumulates embeddings."""

    def __init__(self, runner: Runner, batch_size: int, *, overlap: bool = True, depth: int = DEFAULT_DEPTH) -> None:
        if batch_size < 1 or depth < 1:
            raise ValueError(f"batch_size and depth must be >= 1, got {batch_size} and {depth}")
        self.runner = runner
        self.batch_size = batch_size
        self.overlap = overlap
        self.depth = depth
        self.preprocessor = _device_preprocessor(runner)
        self.seconds_spent = 0.0
        self.busy_seconds = 0.0
        self._items: list[Any] = []  # uint8 [S, S, 3] host images or device pixels [3, S, S]
        self._pending_frames: list[int] = []
        self._frames: list[int] = []
        self._chunks: list[Any] = []  # fp32 torch tensors [b, D], on the device the runner made them on
        self._lock = _runner_lock(runner)
        self._stream = _cuda_stream() if runner.device == "cuda" else None
        self._worker: Consumer[tuple[list[int], list[Any], Any]] = Consumer(self._encode, depth, "encoder")

    @property
    def image_size(self) -> int:
        return self.runner.image_size

    @property
    def frames(self) -> list[int]:
        """Frame index of every embedding encoded so far, in arrival order (complete after `flush`)."""
        return self._frames

    def reset(self) -> None:
        """Forget the embeddings of the previous video (the runner stays loaded)."""
        self.flush()
        self.seconds_spent = 0.0
        self.busy_seconds = 0.0
        self._frames = []
        self._chunks = []

    def add(self, frame_index: int, image: np.ndarray) -> None:
        """Queue one uint8 RGB image `[S, S, 3]` of frame `frame_index`."""
        started = time.perf_counter()
        self._append(frame_index, image)
        self.seconds_spent += time.perf_counter() - started

    def add_frame(self, frame: Frame) -> None:
        """Queue one decoded frame: prepared on the device when it has NV12 planes there and this
        queue has a preprocessor, else scaled on the host by `frame.to_rgb`."""
        started = time.perf_counter()
        planes = self._device_planes(frame)
        if planes is None:
            size = self.image_size
            self._append(frame.index, frame.to_rgb(size, size))
        else:
            y, uv = planes
            pixels = self.preprocessor.from_nv12(y[None], uv[None], frame.yuv, frame.rotation)[0]
            self._append(frame.index, pixels)
        self.seconds_spent += time.perf_counter() - started

    def flush(self) -> None:
        """Encode whatever is queued and wait until every embedding is in."""
        started = time.perf_counter()
        try:
            self._submit()
            self._worker.finish()
        finally:
            self.seconds_spent += time.perf_counter() - started

    def discard(self) -> None:
        """Drop what is queued and not yet encoded and stop the worker (a video that failed)."""
        self._items, self._pending_frames = [], []
        self._worker.close()

    def embeddings(self) -> np.ndarray:
        """`[len(frames), D]` embeddings of everything flushed, row k for `frames[k]`."""
        return self.embedding_tensor().cpu().numpy()

    def embedding_tensor(self) -> Any:
        """`embeddings()` as an fp32 torch tensor on the runner's device: a CUDA runner's rows
        stay on (or, from host-prepared frames, go back to) its GPU, for the shot stage's kernels."""
        import torch

        device = self.preprocessor.device if self.preprocessor is not None else torch.device("cpu")
        if not self._chunks:
            return torch.zeros((0, self.runner.embedding_dim), dtype=torch.float32, device=device)
        for chunk in self._chunks:
            if chunk.is_cuda:  # made on the worker's stream, read on the caller's
                chunk.record_stream(torch.cuda.current_stream(chunk.device))
        return torch.cat([chunk.to(device) for chunk in self._chunks])

    def _append(self, frame_index: int, item: Any) -> None:
        self._items.append(item)
        self._pending_frames.append(frame_index)
        if len(self._items) >= self.batch_size:
            self._submit()

    def _device_planes(self, frame: Frame) -> tuple[Any, Any] | None:
        if self.preprocessor is None or not hasattr(frame, "nv12"):
            return None
        y, uv = frame.nv12()
        return (y, uv) if y.device == self.preprocessor.device else None

    def _submit(self) -> None:
        """Hand the batch being filled to the worker (or encode it here, without overlap)."""
        if not self._items:
            return
        batch = (self._pending_frames, self._items, _record_event(self._stream))
        self._items, self._pending_frames = [], []
        if not self.overlap:
            self._encode(batch)
            return
        self._worker.put(batch)  # blocks while `depth` batches wait: the bound

    def _encode(self, batch: tuple[list[int], list[Any], Any]) -> None:
        frames, items, ready = batch
        started = time.perf_counter()
        with self._lock, _on_stream(self._stream, ready):
            embeddings = self.runner.run(self._pixels(items))
            if isinstance(embeddings, np.ndarray):
                import torch

                embeddings = torch.from_numpy(np.asarray(embeddings, dtype=np.float32))
            else:
                embeddings = embeddings.float()
                if self._stream is not None:
                    self._stream.synchronize()  # the rows are read on other streams from here
        self._chunks.append(embeddings)
        self._frames.extend(frames)
        self.busy_seconds += time.perf_counter() - started

    def _pixels(self, items: list[Any]) -> Any:
        """Normalised pixels [B, 3, S, S]: NumPy from host images, a device tensor from device ones."""
        if all(isinstance(item, np.ndarray) for item in items):
            return to_pixels(np.stack(items), self.runner.mean, self.runner.std)
        import torch

        device = self.preprocessor.device
        rows = [torch.from_numpy(to_pixels(item[None], self.runner.mean, self.runner.std)[0]).to(device)
                if isinstance(item, np.ndarray) else item for item in items]
        if self._stream is not None:
            for row in rows:
                row.record_stream(self._stream)  # made on the caller's stream, read on this one
        return torch.stack(rows)


def _device_preprocessor(runner: Runner) -> DevicePreprocessor | None:
    """Preparation on the runner's GPU, for frames decoded there; None for a CPU runner."""
    if runner.device != "cuda":
        return None
    from filmline.engine.gpu_preprocess import DevicePreprocessor

    return DevicePreprocessor(runner.image_size, runner.mean, runner.std, "cuda")


def _runner_lock(runner: Runner) -> threading.Lock:
    with _runner_locks_guard:
        return _runner_locks.setdefault(runner, threading.Lock())


def _cuda_stream() -> Any:
    import torch

    return torch.cuda.Stream()


def _record_event(stream: Any) -> Any:
    """An event on the caller's current CUDA stream, after the work that made the batch; None off CUDA."""
    if stream is None:
        return None
    import torch

    event = torch.cuda.Event()
    event.record()
    return event


class _on_stream:
    """Run on the worker's CUDA stream once the caller's batch is ready (nothing off CUDA)."""

    def __init__(self, stream: Any, ready: Any) -> None:
        self._stream, self._ready = stream, ready
        self._context: Any = None

    def __enter__(self) -> None:
        if self._stream is None:
            return
        import torch

        self._stream.wait_event(self._ready)
        self._context = torch.cuda.stream(self._stream)
        self._context.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)

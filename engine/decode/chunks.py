"""Whole-film parallel decoding: the stream cut at keyframes into chunks, decoded in concurrent
sessions, stitched back into one sequence in presentation order.

One decode session keeps one decoder busy (an NVDEC engine, or FFmpeg's threads on a few cores);
several sessions on chunks of the same file keep several busy. Chunk k covers the frames whose
pts lie in [start_k, start_k+1), start_k a keyframe's pts: its session seeks to that keyframe,
drops the frames an open GOP shows before it (they belong to chunk k-1, whose session decodes
on past its end until a frame at or past it comes out), and stops there. So the stitched
sequence is the sequential decode's, frame for frame, and everything downstream (the cheap pass,
the samplers) sees exactly what it would see without chunking.

Memory stays bounded: each chunk's frames wait in a bounded queue, and sessions start a chunk
only while it is among the `sessions` chunks from the one being consumed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from filmline.engine.background import Background, Handoff
from filmline.engine.decode.base import Frame, VideoInfo
from filmline.engine.decode.demux import keyframe_pts, no_frames_error
from filmline.engine.decode.losses import LostFrames

DEFAULT_BUFFER_BYTES = 256 << 20  # per session: decoded frames waiting for the consumer
MIN_BUFFER_FRAMES = 8


@dataclass(frozen=True)
class Chunk:
    """The frames with `start_pts` <= pts < `end_pts`; None: from the file's start / to its end."""

    start_pts: int | None
    end_pts: int | None


def plan_chunks(keyframes: Sequence[int], first_pts: int, target_ticks: int) -> list[Chunk]:
    """Chunks starting at keyframes, each spanning at least `target_ticks` where the keyframes
    allow (the last one takes the rest). The first starts at the file's start, whatever comes
    before the first keyframe included; `first_pts` is the stream's first timestamp."""
    edges: list[int] = []
    last = first_pts
    for pts in sorted(set(keyframes)):
        if pts - last >= max(target_ticks, 1):
            edges.append(pts)
            last = pts
    starts: list[int | None] = [None, *edges]
    ends: list[int | None] = [*edges, None]
    return [Chunk(start, end) for start, end in zip(starts, ends)]


def clip_to_chunk(
    frames: Iterator[Frame | None], start_pts: int | None, end_pts: int | None, on_corrupt: Callable[[], None]
) -> Generator[Frame, None, None]:
    """The frames of one chunk from a decode that started at its keyframe.

    Frames before `start_pts` (an open GOP's leading frames, undecodable after a seek) are
    dropped; the first frame at or past `end_pts` ends the chunk (decoders give frames in
    presentation order). A None stands for a frame the decoder could not give: it counts as
    corrupt once the chunk's first frame has come, when it can no longer be a leading one.
    """
    started = start_pts is None
    try:
        for frame in frames:
            if frame is None:
                if started:
                    on_corrupt()
                continue
            if start_pts is not None and frame.pts < start_pts:
                continue
            if end_pts is not None and frame.pts >= end_pts:
                return
            started = True
            yield frame
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()


class RangeSession(Protocol):
    """One decode session of a backend, reused for chunk after chunk."""

    corrupt_frames: int

    def frames_between(self, start_pts: int | None, end_pts: int | None) -> Generator[Frame, None, None]:
        """The chunk's frames in presentation order, `index` not yet set (see `clip_to_chunk`)."""
        ...

    def close(self) -> None: ...


class RangeDecoder(Protocol):
    """A decoder that can also open sessions for chunks (PyAV, NVDEC)."""

    BACKEND_NAME: str
    info: VideoInfo
    corrupt_frames: int
    frames_lost: int

    def frames(self) -> Iterator[Frame]: ...

    def range_session(self, concurrent: int = 1) -> RangeSession: ...


class FrameNumbering:
    """Stitches frames into one sequence: numbers them 0, 1, … and drops (counting) a frame whose
    pts does not come after the previous one's, as the sequential decoders do; `lost` counts
    the frames that never came (see `engine.decode.losses`)."""

    def __init__(self, info: VideoInfo) -> None:
        self.count = 0
        self.dropped = 0
        self.lost = LostFrames(info)
        self._last_pts: int | None = None

    def take(self, frame: Frame) -> bool:
        """Number `frame` (True), or refuse it as out of order (False)."""
        if self._last_pts is not None and frame.pts <= self._last_pts:
            self.dropped += 1
            return False
        frame.index = self.count
        self.count += 1
        self._last_pts = frame.pts
        self.lost.saw(frame.pts)
        return True


class ChunkedDecoder:
    """The `Decoder` protocol over `sessions` concurrent sessions of `base` on keyframe chunks.

    Chunks are planned when `frames()` starts, from the keyframes the demuxer lists (no
    decoding): about as many frames as one session's buffer holds, and at least `sessions` chunks
    where the keyframes allow. A stream with fewer than two chunks, or whose packets lack
    timestamps, is decoded by `base` alone.
    """

    def __init__(self, base: RangeDecoder, path: str | Path, sessions: int,
                 buffer_bytes: int = DEFAULT_BUFFER_BYTES) -> None:
        if sessions < 1:
            raise ValueError(f"sessions must be >= 1, got {sessions}")
        self.BACKEND_NAME = base.BACKEND_NAME
        self.info = base.info
        self.sessions = sessions
        self._base = base
        self._path = Path(path)
        frame_bytes = max(1, self.info.coded_width * self.info.coded_height * 3 // 2)  # 4:2:0, 8 bit
        self.buffer_frames = max(MIN_BUFFER_FRAMES, buffer_bytes // frame_bytes)
        self._corrupt = 0
        self._lost = 0

    @property
    def corrupt_frames(self) -> int:
        return self._corrupt

    @property
    def frames_lost(self) -> int:
        return self._lost

    def plan(self) -> list[Chunk]:
        """The chunks `frames()` decodes; one chunk (the whole stream) when it cannot be cut."""
        keyframes = keyframe_pts(self._path) if self.sessions > 1 else None
        if not keyframes:
            return [Chunk(None, None)]
        info = self.info
        rate = float(info.average_fps or 25)
        ticks_per_second = 1 / float(info.time_base)
        target = self.buffer_frames / rate * ticks_per_second
        if info.duration_seconds:
            target = min(target, info.duration_seconds * ticks_per_second / self.sessions)
        return plan_chunks(keyframes, info.start_pts, round(target))

    def frames(self) -> Iterator[Frame]:
        """Every frame once, numbered in presentation order, as `base.frames()` gives them."""
        self._corrupt = 0
        self._lost = 0
        chunks = self.plan()
        if len(chunks) < 2:
            try:
                yield from self._base.frames()
            finally:
                self._corrupt = self._base.corrupt_frames
                self._lost = self._base.frames_lost
            return
        numbering = FrameNumbering(self.info)
        with _ChunkWorkers(self._base, chunks, self.sessions, self.buffer_frames) as workers:
            for frame in workers.frames():
                if numbering.take(frame):
                    yield frame
            self._corrupt = workers.corrupt_frames + numbering.dropped
            self._lost = numbering.lost.count(self._corrupt)
        if numbering.count == 0:
            raise no_frames_error(self._path)

    def close(self) -> None:
        """Sessions live only while `frames()` runs."""

    def __enter__(self) -> ChunkedDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ChunkWorkers:
    """`sessions` threads, each with its own session, decoding chunks in order into per-chunk
    handoffs (`engine.background`); the consumer reads them in chunk order. A worker starts
    chunk j only while j < (chunk being consumed) + sessions, so at most that many chunks are
    buffered. A worker's error ends its chunk's handoff and is raised when the consumer gets there."""

    def __init__(self, base: RangeDecoder, chunks: list[Chunk], sessions: int, buffer_frames: int) -> None:
        self._base = base
        self._chunks = chunks
        self._sessions = sessions
        self._background = Background()
        self._handoffs: list[Handoff[Frame]] = [self._background.handoff(buffer_frames) for _ in chunks]
        self._chunk_corrupt = [0] * len(chunks)  # set by the worker before it ends the chunk
        self._next = 0  # next chunk a worker may take
        self._consumed = 0  # chunk the consumer is reading
        self._changed = threading.Condition()
        self.corrupt_frames = 0

    def __enter__(self) -> _ChunkWorkers:
        for i in range(min(self._sessions, len(self._chunks))):
            self._background.start(f"decode-session-{i}", self._work)
        return self

    def __exit__(self, *exc: object) -> None:
        self._background.stopped.set()
        with self._changed:
            self._changed.notify_all()
        self._background.__exit__(*exc)
        self._handoffs.clear()  # frames nobody will read (decoder memory)

    def frames(self) -> Iterator[Frame]:
        for j in range(len(self._chunks)):
            with self._changed:
                self._consumed = j
                self._changed.notify_all()
            yield from self._handoffs[j]
            self.corrupt_frames += self._chunk_corrupt[j]

    def _work(self) -> None:
        session: RangeSession | None = None
        try:
            while (j := self._take_chunk()) is not None:
                try:
                    if session is None:
                        session = self._base.range_session(self._sessions)
                    before = session.corrupt_frames
                    frames = session.frames_between(self._chunks[j].start_pts, self._chunks[j].end_pts)
                    try:
                        if not all(self._handoffs[j].put(frame) for frame in frames):
                            return
                    finally:
                        frames.close()
                    self._chunk_corrupt[j] = session.corrupt_frames - before
                    self._handoffs[j].end()
                except BaseException as err:  # handed to the consumer, raised there
                    self._handoffs[j].end(err)
                    return
        finally:
            if session is not None:
                session.close()

    def _take_chunk(self) -> int | None:
        stopped = self._background.stopped
        with self._changed:
            while not stopped.is_set() and self._consumed + self._sessions <= self._next < len(self._chunks):
                self._changed.wait(timeout=0.1)
            if stopped.is_set() or self._next >= len(self._chunks):
                return None
            self._next += 1
            return self._next - 1

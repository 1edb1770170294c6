"""The CPU decoder: FFmpeg through PyAV, frame-threaded, tolerant of a few corrupt packets.

The file is opened twice: once at construction to decode the first frame, because the display
rotation and the exact first timestamp are only known from a decoded frame (PyAV exposes the
display matrix on frames, not streams) and because a file with no decodable frame should fail
at open, not halfway into a pipeline; then once per `frames()` call for the stream itself.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path
from typing import Generator, Iterable, Iterator

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from filmline.engine.cpus import usable_cpus
from filmline.engine.decode.base import VideoInfo
from filmline.engine.decode.demux import check_file, no_frames_error, open_container, packets
from filmline.engine.decode.losses import LostFrames
from filmline.engine.timecode import pts_seconds

# Area averaging: a thumbnail many times smaller than the frame stays free of aliasing (a
# shimmering thumbnail would look like motion to the cheap cut pass), at swscale speed. Full
# horizontal chroma interpolation: without it swscale shares one chroma sample between two RGB
# pixels and lands 1.5 levels dark on average (up to 16 at colour edges), and the GPU path
# (`engine.gpu_preprocess`), which matches this within one level, could not match the CPU's.
SCALING = Interpolation.AREA | Interpolation.FULL_CHR_H_INT

# A swscale context costs more to set up than to run (720p → 64×36: ~1 ms against ~0.3 ms), and
# `VideoFrame.reformat` sets one up per frame; so each thread keeps one per output size. Not
# shared across threads: a swscale context is not thread-safe.
_local = threading.local()
_MAX_CACHED_SIZES = 8


def _reformatter(size: tuple[int, int]) -> VideoReformatter:
    cache: dict[tuple[int, int], VideoReformatter] = _local.__dict__.setdefault("cache", {})
    if size not in cache and len(cache) >= _MAX_CACHED_SIZES:
        cache.clear()
    return cache.setdefault(size, VideoReformatter())


class PyAVFrame:
    """One decoded frame; converts to RGB only when asked, at the size asked."""

    __slots__ = ("index", "pts", "seconds", "_frame", "_rotation", "_display_size")

    def __init__(
        self,
        index: int,
        pts: int,
        seconds: float,
        frame: av.VideoFrame,
        rotation: int,
        display_size: tuple[int, int],
    ) -> None:
        self.index = index
        self.pts = pts
        self.seconds = seconds
        self._frame = frame
        self._rotation = rotation
        self._display_size = display_size

    def to_rgb(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        """uint8 RGB `[height, width, 3]` in display orientation; see `base.Frame.to_rgb`."""
        w, h, quarter_turns = stored_size(width, height, self._display_size, self._rotation)
        image = (
            _reformatter((w, h))
            .reformat(self._frame, w, h, "rgb24", interpolation=SCALING)
            .to_ndarray()
        )
        if quarter_turns:
            # np.rot90 turns counter-clockwise for positive k; the rotation is clockwise.
            image = np.ascontiguousarray(np.rot90(image, k=-quarter_turns))
        return image

    def __repr__(self) -> str:
        return (
            f"PyAVFrame(index={self.index}, pts={self.pts}, seconds={self.seconds:.3f}, "
            f"stored={self._frame.width}x{self._frame.height}, rotation={self._rotation})"
        )


def stored_size(
    width: int | None, height: int | None, display_size: tuple[int, int], rotation: int
) -> tuple[int, int, int]:
    """What `Frame.to_rgb(width, height)` scales the stored picture to, and the clockwise quarter
    turns that then bring it into display orientation: (w, h, turns)."""
    if (width is None) != (height is None):
        raise ValueError("to_rgb takes both width and height, or neither")
    w, h = (width, height) if width is not None else display_size
    quarter_turns = rotation // 90
    if quarter_turns % 2:
        w, h = h, w  # scale in stored orientation, then turn into the display size
    return w, h, quarter_turns


class PyAVDecoder:
    """Every frame of one video, in presentation order, via FFmpeg.

    `threads` is FFmpeg's thread count (0: one per usable core, `engine.cpus`). A packet the
    decoder rejects, a frame FFmpeg flags as corrupt, and a frame whose timestamp does not
    advance (what a damaged reference picture produces) are skipped and counted in
    `corrupt_frames`; a read error ends the stream early, as a truncated file does, after the
    frames already read are flushed out. Frames that never come out at all (a cut-off end, lost
    packets) are counted in `frames_lost` once the pass ends (see `engine.decode.losses`). A
    frame without a timestamp gets one derived from its predecessor: previous pts plus the
    frame's duration, or plus the previous interval, or plus one nominal frame period.
    """

    BACKEND_NAME = "pyav"

    def __init__(self, path: str | Path, *, threads: int = 0) -> None:
        self._path = Path(path)
        self._threads = threads
        self.corrupt_frames = 0
        self.frames_lost = 0
        check_file(self._path)
        self.info = self._probe()

    def frames(self) -> Iterator[PyAVFrame]:
        """Decode the whole stream from the start; each call is a fresh pass and count."""
        self.corrupt_frames = 0
        self.frames_lost = 0
        info = self.info
        lost = LostFrames(info)
        rotation = info.rotation
        display_size = (info.width, info.height)
        container = self._open()
        try:
            stream = container.streams.video[0]
            stream.codec_context.thread_type = "AUTO"
            stream.codec_context.thread_count = self._threads or usable_cpus()
            clock = _PtsClock(info)
            index = 0
            for frame in _decode(self._path, container, stream):
                pts = clock.pts_of(frame) if frame is not None else None
                if pts is None:
                    self.corrupt_frames += 1
                    continue
                seconds = pts_seconds(pts, info.start_pts, info.time_base)
                lost.saw(pts)
                yield PyAVFrame(index, pts, seconds, frame, rotation, display_size)
                index += 1
        finally:
            container.close()
        self.frames_lost = lost.count(self.corrupt_frames)
        if index == 0:
            raise no_frames_error(self._path)

    def close(self) -> None:
        """Nothing is held between passes; each `frames()` closes its own container."""

    def __enter__(self) -> PyAVDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def range_session(self, concurrent: int = 1) -> PyAVRangeSession:
        """A session of its own (container and decoder) for decoding chunks of the stream,
        one of `concurrent` running at once; FFmpeg's threads are shared out between them."""
        threads = self._threads or max(1, usable_cpus() // concurrent)
        return PyAVRangeSession(self._path, self.info, threads)

    def _open(self) -> av.container.InputContainer:
        return open_container(self._path)

    def _probe(self) -> VideoInfo:
        """Read the container's description and decode the first frame."""
        container = self._open()
        try:
            stream = container.streams.video[0]
            first = next((f for f in _decode(self._path, container, stream) if f), None)
            if first is None:
                raise no_frames_error(self._path)
            return _video_info(self._path, container, stream, first)
        finally:
            container.close()


class PyAVRangeSession:
    """Decodes chunks of one video: each `frames_between` seeks to the chunk's keyframe.

    Frames come without their place in the whole video (`index` -1): the chunked decoder that
    stitches chunks together numbers them. A frame with no timestamp counts as corrupt here (the
    chunked decoder is used only on streams whose every packet has one).
    """

    def __init__(self, path: Path, info: VideoInfo, threads: int) -> None:
        self._path = path
        self._info = info
        self._container = open_container(path)
        self._stream = self._container.streams.video[0]
        self._stream.codec_context.thread_type = "AUTO"
        self._stream.codec_context.thread_count = threads
        self.corrupt_frames = 0

    def frames_between(self, start_pts: int | None, end_pts: int | None) -> Generator[PyAVFrame, None, None]:
        """The frames with `start_pts` <= pts < `end_pts` (None: open end), in presentation order."""
        from filmline.engine.decode.chunks import clip_to_chunk  # chunks imports this module

        return clip_to_chunk(self._frames_from(start_pts), start_pts, end_pts, self._count_corrupt)

    def close(self) -> None:
        self._container.close()

    def _frames_from(self, start_pts: int | None) -> Iterator[PyAVFrame | None]:
        info = self._info
        display_size = (info.width, info.height)
        for frame in _decode(self._path, self._container, self._stream, start_pts):
            if frame is None or frame.pts is None:
                yield None
                continue
            seconds = pts_seconds(frame.pts, info.start_pts, info.time_base)
            yield PyAVFrame(-1, frame.pts, seconds, frame, info.rotation, display_size)

    def _count_corrupt(self) -> None:
        self.corrupt_frames += 1


def decode_frames_at(info: VideoInfo, pts: Iterable[int], threads: int = 0) -> Iterator[PyAVFrame]:
    """The frames with these timestamps (`index` -1), each decoded from the keyframe before it:
    for a few frames wanted again after the pass that decoded every frame. A timestamp no frame
    has gives nothing."""
    session = PyAVRangeSession(Path(info.path), info, threads)
    try:
        for wanted in sorted(set(pts)):
            yield from session.frames_between(wanted, wanted + 1)
    finally:
        session.close()


class _PtsClock:
    """Exact pts per frame: fills in missing ones, rejects ones that do not advance."""

    def __init__(self, info: VideoInfo) -> None:
        self._start_pts = info.start_pts
        fps = info.average_fps or Fraction(25)
        self._nominal = max(1, round(1 / (fps * info.time_base)))
        self._last: int | None = None
        self._interval: int | None = None

    def pts_of(self, frame: av.VideoFrame) -> int | None:
        """The frame's pts, or None when it does not come after the previous frame's."""
        pts = frame.pts
        if pts is None:
            if self._last is None:
                pts = self._start_pts
            else:
                pts = self._last + (frame.duration or self._interval or self._nominal)
        if self._last is not None:
            if pts <= self._last:
                return None
            self._interval = pts - self._last
        self._last = pts
        return pts


def _decode(
    path: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    start_pts: int | None = None,
) -> Iterator[av.VideoFrame | None]:
    """Decoded frames in output order, None in place of each one the decoder could not give.

    With `start_pts`, decoding starts at the keyframe there (see `engine.decode.demux.packets`)."""
    flushed = False
    for packet in packets(path, container, stream, start_pts):
        flushed = not packet.size  # the demuxer's empty last packet flushes the decoder
        try:
            decoded = packet.decode()
        except av.FFmpegError:
            yield None
            continue
        for frame in decoded:
            yield None if frame.is_corrupt else frame
    if not flushed:  # a read error ended the packets: flush what the decoder still holds
        try:
            decoded = stream.codec_context.decode(None)
        except av.FFmpegError:
            decoded = [None]
        for frame in decoded:
            yield None if frame is None or frame.is_corrupt else frame


def _video_info(
    path: Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    first: av.VideoFrame,
) -> VideoInfo:
    time_base = Fraction(stream.time_base)
    if first.pts is not None:
        start_pts = first.pts
    else:
        start_pts = stream.start_time or 0
    sar = Fraction(stream.sample_aspect_ratio) if stream.sample_aspect_ratio else Fraction(1)
    rotation = (-round(first.rotation / 90) * 90) % 360  # PyAV reports counter-clockwise
    width, height = round(first.width * sar), first.height
    if rotation in (90, 270):
        width, height = height, width
    if stream.duration:
        duration = float(stream.duration * time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    else:
        duration = None
    return VideoInfo(
        path=str(path),
        codec=stream.codec_context.name,
        width=width,
        height=height,
        coded_width=first.width,
        coded_height=first.height,
        rotation=rotation,
        sample_aspect_ratio=sar,
        time_base=time_base,
        start_pts=start_pts,
        average_fps=Fraction(stream.average_rate) if stream.average_rate else None,
        duration_seconds=duration,
        frame_count=stream.frames or None,
    )

"""Demuxing with PyAV, shared by both decoders: open a video file, read its packets (from the
start or from a keyframe), list its keyframes and stream format without decoding.

The NVDEC decoder takes its packets from here too, so timestamps, seeking and keyframes are the
same on the CPU and the GPU path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av

from filmline.engine.errors import BadInputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamFormat:
    """How the video stream is coded, from the container's header: what decides whether a
    hardware decoder can take it, and how its Y'CbCr maps to RGB (FFmpeg's codes)."""

    codec: str  # FFmpeg's codec name: h264, hevc, mpeg4, ...
    profile: str | None  # e.g. "High", "Main 10"
    pixel_format: str | None  # e.g. yuv420p, yuv420p10le
    colorspace: int  # FFmpeg's AVColorSpace (2: unspecified)
    color_range: int  # FFmpeg's AVColorRange (0: unspecified, 2: full)


def stream_format(path: str | Path) -> StreamFormat:
    """The video stream's `StreamFormat`, read without decoding."""
    check_file(Path(path))
    container = open_container(Path(path))
    try:
        context = container.streams.video[0].codec_context
        return StreamFormat(
            codec=context.name,
            profile=context.profile,
            pixel_format=context.pix_fmt,
            colorspace=int(context.colorspace or 2),
            color_range=int(context.color_range or 0),
        )
    finally:
        container.close()


def keyframe_pts(path: str | Path) -> list[int] | None:
    """Timestamps of the video stream's keyframes, in order, from the packets alone (no decoding).

    None when some packet has no timestamp: such a stream cannot be cut into chunks by time.
    A read error ends the list where it happened, as it ends decoding.
    """
    path = Path(path)
    container = open_container(path)
    keyframes: list[int] = []
    try:
        for packet in demux_from(path, container, container.streams.video[0], None):
            if packet.pts is None:
                return None
            if packet.is_keyframe:
                keyframes.append(packet.pts)
    finally:
        container.close()
    return sorted(set(keyframes))


def open_container(path: Path) -> av.container.InputContainer:
    """`path` opened for reading, with at least one video stream; else a `BadInputError`."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as err:
        if mp4_without_index(path):
            raise BadInputError(
                f"{path}: looks incomplete or truncated (an MP4 without its index, the moov box, which "
                "is written last: the recording, copy or download stopped early); copy or download it "
                "again, or recover a recording with a repair tool such as untrunc"
            ) from err
        raise BadInputError(
            f"{path}: not a readable video file ({essence(err)}); "
            "pass a video such as .mp4 or .mkv, or re-mux it with ffmpeg"
        ) from err
    if not container.streams.video:
        kinds = ", ".join(s.type for s in container.streams) or "none"
        container.close()
        raise BadInputError(
            f"{path}: has no video stream (streams: {kinds}); "
            "pass a file that contains video"
        )
    return container


def mp4_without_index(path: Path) -> bool:
    """Whether `path` is an MP4/MOV (ISO base media file) whose top-level boxes end, or break
    off, before any `moov`: the index that most muxers write last, after the media data.

    Read from the box headers alone (size, type), since FFmpeg only says "moov atom not found".
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            position = 0
            while position + 8 <= size:
                handle.seek(position)
                header = handle.read(16)
                box_size, kind = int.from_bytes(header[:4], "big"), header[4:8]
                if position == 0 and kind != b"ftyp":
                    return False
                if kind == b"moov":
                    return False
                if box_size == 1 and len(header) == 16:  # a 64-bit size follows the type
                    box_size = int.from_bytes(header[8:16], "big")
                if box_size == 0:  # the box runs to the end of the file
                    return True
                if box_size < 8:
                    return False  # not box structure after all
                position += box_size
            return position > 0
    except OSError:
        return False


def demux_from(
    path: Path, container: av.container.InputContainer, stream: av.video.stream.VideoStream, start_pts: int | None
) -> Iterator[av.Packet]:
    """The stream's packets in decode order from the keyframe at `start_pts` (None: from the
    start), without the empty packet that marks the end; a read error ends them early."""
    return (packet for packet in packets(path, container, stream, start_pts) if packet.size)


def packets(
    path: Path, container: av.container.InputContainer, stream: av.video.stream.VideoStream, start_pts: int | None
) -> Iterator[av.Packet]:
    """Demuxed packets, the empty end-of-stream one included; a read error ends them early.

    With `start_pts` (a keyframe's pts), the container first seeks to the keyframe at or before
    it. Should the seek land past it (a damaged index), demuxing restarts from the beginning:
    slower, never a missing frame.
    """
    if start_pts is not None:
        container.seek(start_pts, stream=stream, backward=True, any_frame=False)
    demuxed = container.demux(stream)
    first = True
    while True:
        try:
            packet = next(demuxed)
        except StopIteration:
            return
        except av.FFmpegError as err:
            log.warning("%s: read error, stream ends early (%s)", path, essence(err))
            return
        if first and start_pts is not None and packet.size and (packet.pts is None or packet.pts > start_pts):
            log.warning("%s: seeking to pts %d landed at %s; decoding from the start", path, start_pts, packet.pts)
            container.seek(0, stream=stream, backward=True, any_frame=False)
            demuxed = container.demux(stream)
            start_pts = None
            continue
        first = first and not packet.size
        yield packet


def check_file(path: Path) -> None:
    if not path.exists():
        raise BadInputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise BadInputError(f"{path}: is a directory, not a video; pass the path of a video file")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path}: is empty (0 bytes); re-copy or re-download the video")


def no_frames_error(path: Path) -> BadInputError:
    return BadInputError(
        f"{path}: no decodable video frames (empty, truncated or corrupt); "
        "re-encode or re-download the file"
    )


def essence(err: BaseException) -> str:
    """FFmpeg's own words for a failure, on one line, without errno or file name."""
    words = getattr(err, "strerror", None) or str(err)
    last_log = getattr(err, "log", None)
    if last_log and last_log[-1]:
        words = f"{words}: {str(last_log[-1]).strip()}"
    return " ".join(words.split())

"""One video file per shot, from a result and its source video: `<stem>.shots/<stem>.shot_0003_
00-00-02.400_00-00-04.440.mp4` (shot number, start and end time), plus `split.json` saying what
each file holds.

- `copy` remuxes the packets as they are (PyAV): fast and lossless, but a file can only start
  on a keyframe, so each shot's start moves back to the keyframe at or before it; how far is
  reported per boundary (frames and seconds, also in `split.json`). Shots sharing a keyframe
  share a file (named with both numbers).
- `encode` decodes and re-encodes every shot with libx264 (PyAV): every file starts exactly on
  its shot's first frame.

Audio follows in both: the audio packets whose time falls in a file's span are copied into it.
Each file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import bisect
import os
import tempfile
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av  # this module is imported only for --split

from filmline.engine.cli_support import say
from filmline.engine.errors import BadInputError, OutputError, first_line
from filmline.engine.output_files import file_mode, write_atomic
from filmline.engine.result import json_bytes
from filmline.engine.timecode import timecode

_MUXERS = {".mkv": "matroska", ".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".webm": "webm", ".ts": "mpegts"}
_MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"}
ENCODE_OPTIONS = {"preset": "veryfast", "crf": "18"}


@dataclass
class Piece:
    """One output file: the shots it holds and the frames it starts and ends with."""

    shots: list[int]
    first_frame: int
    last_frame: int = -1
    moved_frames: int = 0  # copy: how many frames earlier than its shot's start the file starts
    moved_seconds: float = 0.0  # the same in seconds
    file: str = ""
    start: Fraction = field(default=Fraction(0), repr=False)  # presentation time of its first frame (seconds)


def split_video(document: dict[str, Any], source: Path, out_dir: Path, stem: str, mode: str) -> list[Path]:
    """Write the pieces of `source` (see the module); returns their paths and `split.json`'s."""
    if not source.is_file():
        raise BadInputError(f"{source}: the source video of {stem}.json is not there; pass it with --video PATH")
    folder = out_dir / f"{stem}.shots"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create {folder}: {err.strerror}; choose a writable folder with --out") from err
    try:
        with av.open(str(source)) as container:
            frames = _frame_times(container, container.streams.video[0])  # presentation order: (pts, keyframe)
    except (av.error.FFmpegError, IndexError) as err:
        raise BadInputError(f"{source}: cannot read its video ({first_line(err)}); pass the source with --video PATH") from None
    expected = document["video"]["frame_count"] + (document["video"].get("corrupt_frames_skipped") or 0)
    if len(frames) not in (document["video"]["frame_count"], expected):
        raise BadInputError(f"{source} has {len(frames)} video frames and {stem}.json {document['video']['frame_count']}: "
                            "not the video this result was made from; pass the right one with --video PATH")
    starts = [shot["start_frame"] for shot in document["shots"]]
    pieces = _copy_pieces(starts, frames) if mode == "copy" else [Piece([i], s) for i, s in enumerate(starts)]
    for piece, following in zip(pieces, [*pieces[1:], None]):
        piece.last_frame = (following.first_frame if following else len(frames)) - 1
    suffix = _suffix(source, mode)
    first_pts = frames[0][0]
    with av.open(str(source)) as container:
        video = container.streams.video[0]
        tb = video.time_base
        for piece in pieces:
            piece.start = (frames[piece.first_frame][0] - first_pts) * tb
            after = piece.last_frame + 1
            end = float((frames[after][0] - first_pts) * tb) if after < len(frames) else document["video"]["duration"]
            numbers = f"{piece.shots[0] + 1:04d}" + (f"-{piece.shots[-1] + 1:04d}" if len(piece.shots) > 1 else "")
            piece.file = f"{stem}.shot_{numbers}_{_name_time(float(piece.start))}_{_name_time(end)}{suffix}"
            piece.moved_seconds = round(document["shots"][piece.shots[0]]["start_time"] - float(piece.start), 6)
        writer = _Writer(container, video, pieces, folder, suffix, first_pts, mode)
        writer.run()
    if mode == "copy":
        _say_moves(document["shots"], pieces)
    manifest = folder / "split.json"
    write_atomic(manifest, json_bytes({"mode": mode, "source": str(source), "pieces": [
        {k: v for k, v in asdict(p).items() if k != "start"} | {"start_time": float(p.start)} for p in pieces]}))
    return [folder / p.file for p in pieces] + [manifest]


def _say_moves(shots: list[dict[str, Any]], pieces: list[Piece]) -> None:
    """One note on how far `copy` moved the shots' starts (a shared file moves the later shot's
    start to the file's)."""
    moves = [(shots[s]["start_frame"] - p.first_frame, shots[s]["start_time"] - float(p.start))
             for p in pieces for s in p.shots]
    moved = [m for m in moves if m[0]]
    if moved:
        say(f"note: --split copy starts files on keyframes: {len(moved)} of {len(shots)} shot starts moved back, by "
            f"up to {max(f for f, _ in moved)} frames ({max(s for _, s in moved):.3f} s); "
            f"{len(shots) - len(pieces)} shot(s) share a file with the shot before; --split encode cuts exactly")


def _name_time(seconds: float) -> str:
    return timecode(seconds).replace(":", "-")  # no colons in file names (Windows, some tools)


def _suffix(source: Path, mode: str) -> str:
    if mode == "copy":
        return source.suffix.lower() if source.suffix.lower() in _MUXERS else ".mkv"
    with av.open(str(source)) as container:
        audio = {stream.codec_context.name for stream in container.streams.audio}
    return ".mp4" if audio <= _MP4_AUDIO else ".mkv"


def _frame_times(container, video) -> list[tuple[int, bool]]:
    """(pts, is keyframe) of every video packet, in presentation order."""
    found = [(packet.pts, packet.is_keyframe) for packet in container.demux(video) if packet.size and packet.pts is not None]
    return sorted(found)


def _copy_pieces(starts: list[int], frames: list[tuple[int, bool]]) -> list[Piece]:
    """Each shot's start moved back to the keyframe at or before it; shots that land on the same
    keyframe share a piece."""
    keyframes = [i for i, (_, key) in enumerate(frames) if key] or [0]
    pieces: list[Piece] = []
    for index, start in enumerate(starts):
        snapped = keyframes[max(0, bisect.bisect_right(keyframes, start) - 1)]
        if pieces and pieces[-1].first_frame == snapped:
            pieces[-1].shots.append(index)
            continue
        pieces.append(Piece([index], snapped, moved_frames=start - snapped))
    return pieces


class _Writer:
    """Routes the source's packets (copy) or decoded frames (encode) to the pieces' files; a file
    is finished once the video is two pieces past it (audio interleaving lags a little)."""

    def __init__(self, container, video, pieces: list[Piece], folder: Path, suffix: str, first_pts: int, mode: str):
        self.container, self.video, self.pieces, self.folder = container, video, pieces, folder
        self.suffix, self.first_pts, self.mode = suffix, first_pts, mode
        self.audio = list(container.streams.audio)
        self.open: dict[int, tuple[Any, dict[int, Any], str]] = {}
        self.piece_starts = [p.start for p in pieces]

    def run(self) -> None:
        try:
            current = 0
            frame_number = 0
            piece_firsts = [p.first_frame for p in self.pieces]
            for packet in self.container.demux(self.video, *self.audio):
                if packet.dts is None and packet.pts is None:
                    continue
                if packet.stream.type == "audio":
                    self._audio(packet)
                    continue
                if self.mode == "copy":
                    if packet.is_keyframe and current + 1 < len(self.pieces) and \
                            packet.pts == self._pts_of(current + 1):
                        current += 1
                        self._finish_before(current - 1)
                    self._mux_video_packet(current, packet)
                    continue
                for frame in packet.decode():
                    current = bisect.bisect_right(piece_firsts, frame_number) - 1
                    self._finish_before(current - 1)
                    self._encode(current, frame)
                    frame_number += 1
            if self.mode == "encode":
                for frame in self.video.codec_context.decode(None):
                    current = bisect.bisect_right(piece_firsts, frame_number) - 1
                    self._encode(current, frame)
                    frame_number += 1
            self._finish_before(len(self.pieces))
        finally:
            for _, (output, _, temporary) in list(self.open.items()):
                output.close()
                Path(temporary).unlink(missing_ok=True)

    def _pts_of(self, index: int) -> int:
        start = self.pieces[index].start
        return self.first_pts + int(start / self.video.time_base)

    def _output(self, index: int):
        if index not in self.open:
            handle, temporary = tempfile.mkstemp(prefix=f".{self.pieces[index].file}.", suffix=".tmp", dir=self.folder)
            os.close(handle)
            output = av.open(temporary, "w", format=_MUXERS.get(self.suffix, "matroska"))
            streams: dict[int, Any] = {}
            if self.mode == "copy":
                streams[self.video.index] = output.add_stream_from_template(self.video)
            else:
                encoder = output.add_stream("libx264", rate=self.video.average_rate or 25, options=ENCODE_OPTIONS)
                encoder.width, encoder.height = self.video.codec_context.width, self.video.codec_context.height
                encoder.pix_fmt = "yuv420p"
                encoder.codec_context.time_base = self.video.time_base
                streams[self.video.index] = encoder
            for stream in self.audio:
                streams[stream.index] = output.add_stream_from_template(stream)
            self.open[index] = (output, streams, temporary)
        return self.open[index]

    def _mux_video_packet(self, index: int, packet) -> None:
        output, streams, _ = self._output(index)
        offset = self._pts_of(index)
        packet.pts = packet.pts - offset if packet.pts is not None else None
        packet.dts = packet.dts - offset if packet.dts is not None else None
        packet.stream = streams[self.video.index]
        output.mux(packet)

    def _encode(self, index: int, frame) -> None:
        output, streams, _ = self._output(index)
        frame.pts = frame.pts - self._pts_of(index)
        frame.pict_type = av.video.frame.PictureType.NONE
        output.mux(streams[self.video.index].encode(frame))

    def _audio(self, packet) -> None:
        seconds = (packet.pts if packet.pts is not None else packet.dts) * packet.time_base - self.first_pts * self.video.time_base
        index = max(0, bisect.bisect_right(self.piece_starts, seconds) - 1)
        if index not in self.open and any(i > index for i in self.open):
            return  # its file is finished already (interleaving further off than two pieces)
        output, streams, _ = self._output(index)
        offset = int((self.pieces[index].start + self.first_pts * self.video.time_base) / packet.time_base)
        packet.pts = packet.pts - offset if packet.pts is not None else None
        packet.dts = packet.dts - offset if packet.dts is not None else None
        packet.stream = streams[packet.stream.index]
        output.mux(packet)

    def _finish_before(self, index: int) -> None:
        """Close (flushing the encoder) and rename into place every file of a piece before `index`."""
        for done in sorted(i for i in self.open if i < index):
            output, streams, temporary = self.open.pop(done)
            if self.mode == "encode":
                output.mux(streams[self.video.index].encode(None))
            output.close()
            os.chmod(temporary, file_mode())
            os.replace(temporary, self.folder / self.pieces[done].file)


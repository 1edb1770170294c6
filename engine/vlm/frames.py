"""The frames the vision-language model sees, kept from the one decode at the model's width.

Shots and triggers are known only at the end of the video, so frames are kept while decoding:
one tap at the run's --fps (the frames of key shots), and, when the trigger stage runs, one at
its rate (its sampler picks exactly the frames the trigger model scored, so a trigger's own frame
is there). Each frame is saved once as a JPEG, `width` pixels wide with the display aspect, in a
hidden folder under the output folder, deleted when the video is done. The JPEG encoding runs in
a writer thread (`engine.background.Consumer`; Pillow releases the GIL while it encodes), at most
`MAX_PENDING_WRITES` frames behind the decode, so it does not slow the decode loop; reading a
frame back waits for the writes still pending.

Per shot the model sees the sampled frame nearest to the key frame (the key frame itself when it
was sampled) and up to `neighbours` more sampled frames nearest to it inside the shot, in time
order. A shot with no sampled frame uses its key frame's thumbnail.
"""

from __future__ import annotations

import bisect
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from filmline.engine.background import Consumer
from filmline.engine.decode import Frame
from filmline.engine.errors import OutputError
from filmline.engine.output_files import write_jpeg

MAX_PENDING_WRITES = 16  # frames waiting for the writer: at 672x378, about 12 MB


class VlmFrames:
    """Frames of one video saved for the model, by frame index."""

    def __init__(self, out_dir: Path, stem: str, width: int, quality: int, *, folder: Path | None = None) -> None:
        """A new hidden folder, or `folder`: the frames another process kept (a library's caption actor)."""
        try:
            self.folder = folder or Path(tempfile.mkdtemp(prefix=f".{stem}.vlm-frames.", dir=out_dir))
        except OSError as err:
            raise OutputError(f"cannot write to {out_dir}: {err.strerror}; choose a writable folder with --out") from err
        self.out_dir = out_dir
        self.width = width
        self.quality = quality
        self._size: tuple[int, int] | None = None
        # sorted: taps at two rates interleave, each in time order
        self._indices: list[int] = sorted(int(p.stem.removeprefix("frame_")) for p in self.folder.glob("frame_*.jpg"))
        self._writer: Consumer[tuple[np.ndarray, Path]] = Consumer(self._write, MAX_PENDING_WRITES, "vlm-frames")

    def tap(self, fps: float) -> "VlmFrameTap":
        return VlmFrameTap(self, fps)

    def save(self, frame: Frame) -> None:
        position = bisect.bisect_left(self._indices, frame.index)
        if position < len(self._indices) and self._indices[position] == frame.index:
            return
        if self._size is None:  # the display aspect, from the first frame at full size
            image = frame.to_rgb()
            height, width = image.shape[:2]
            scale = min(1.0, self.width / width)
            self._size = (max(2, round(width * scale)), max(2, round(height * scale)))
            if self._size != (width, height):
                image = np.asarray(Image.fromarray(image).resize(self._size, Image.BILINEAR))
        else:
            image = frame.to_rgb(*self._size)
        self._writer.put((image, self._path(frame.index)))  # waits while the writer is behind
        self._indices.insert(position, frame.index)

    def _write(self, job: tuple[np.ndarray, Path]) -> None:
        image, path = job
        try:
            write_jpeg(path, image, self.quality)
        except OSError as err:
            raise OutputError(f"cannot save frames for the vision-language model in {self.folder}: "
                              f"{err.strerror or err}; free space or choose another folder with --out") from err

    def _wait_for_writes(self) -> None:
        self._writer.finish()

    def nearest(self, index: int) -> int | None:
        """The kept frame nearest to frame `index` (the earlier on a tie); None when none was kept."""
        position = bisect.bisect_left(self._indices, index)
        options = self._indices[max(position - 1, 0) : position + 1]
        return min(options, key=lambda i: (abs(i - index), i)) if options else None

    def nearest_in(self, key: int, first: int, last: int, count: int) -> list[int]:
        """Up to `count` saved frames in [first, last] nearest to `key` (earlier on a tie), in time order."""
        lo, hi = bisect.bisect_left(self._indices, first), bisect.bisect_right(self._indices, last)
        inside = self._indices[lo:hi]
        return sorted(sorted(inside, key=lambda i: (abs(i - key), i))[:count])

    def load(self, index: int) -> np.ndarray:
        self._wait_for_writes()
        with Image.open(self._path(index)) as image:
            return np.asarray(image.convert("RGB"))

    def load_file(self, relative: str) -> np.ndarray:
        """An image under the output folder (a key-frame thumbnail)."""
        with Image.open(self.out_dir / relative) as image:
            return np.asarray(image.convert("RGB"))

    def close(self) -> None:
        """Every frame written; the folder stays for another process to read."""
        self._wait_for_writes()

    def discard(self) -> None:
        self._writer.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _path(self, index: int) -> Path:
        return self.folder / f"frame_{index:07d}.jpg"


class VlmFrameTap:
    """A frame tap (engine.taps) that saves its sampled frames into a `VlmFrames`."""

    def __init__(self, frames: VlmFrames, fps: float) -> None:
        self.frames = frames
        self.fps = fps

    def take(self, frame: Frame, thumbnail: np.ndarray) -> None:
        self.frames.save(frame)


def shot_images(frames: VlmFrames, shot: dict, neighbours: int) -> tuple[list[int], Callable[[], tuple[np.ndarray, ...]]]:
    """The frame indices the model sees for one result-document shot, and how to load them
    (loaded late, so only the shots of one request group are in memory). No frames when the
    shot has neither a sampled frame nor a key frame."""
    key = shot["key_frame"]
    centre = key if key is not None else (shot["start_frame"] + shot["end_frame"]) // 2
    chosen = frames.nearest_in(centre, shot["start_frame"], shot["end_frame"], neighbours + 1)
    if chosen:
        return chosen, lambda: tuple(frames.load(i) for i in chosen)
    if key is not None and shot.get("thumbnail"):
        return [key], lambda: (frames.load_file(shot["thumbnail"]),)
    return [], tuple


def trigger_image(frames: VlmFrames, frame_index: int) -> tuple[int | None, Callable[[], tuple[np.ndarray, ...]]]:
    """The kept frame nearest to a trigger's frame (the frame itself when its rate was tapped)."""
    nearest = frames.nearest(frame_index)
    if nearest is None:
        return None, tuple
    return nearest, lambda: (frames.load(nearest),)

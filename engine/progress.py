"""Progress of a long decode on stderr: frames, frames/s and ETA."""

from __future__ import annotations

import sys

from tqdm import tqdm

from engine.decode import VideoInfo


class FrameProgress:
    """A tqdm bar that learns its total when the video opens; silent when disabled.

    `enabled=None` shows it only when stderr is a terminal, so logs and CI stay clean.
    """

    def __init__(self, label: str, *, enabled: bool | None) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: tqdm | None = None

    def start(self, info: VideoInfo) -> None:
        if not self.enabled:
            return
        total = info.frame_count
        if total is None and info.duration_seconds and info.average_fps:
            total = int(info.duration_seconds * float(info.average_fps))
        self._bar = tqdm(total=total, desc=self.label, unit="frame", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)

    def advance(self, frames: int) -> None:
        if self._bar is not None:
            self._bar.update(frames)

    def __enter__(self) -> "FrameProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

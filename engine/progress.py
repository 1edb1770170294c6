"""Progress bars on stderr: a long decode (frames, frames/s, ETA), and counted items such as the
shots the vision-language model describes (shots/s)."""

from __future__ import annotations

import os
import sys

from tqdm import tqdm

from filmline.engine.decode import VideoInfo


def shows_progress(enabled: bool | None) -> bool:
    """--progress / --no-progress, and by default: whether stderr is a terminal."""
    return sys.stderr.isatty() if enabled is None else enabled


def silence_library_bars() -> None:
    """Model loaders' own bars (transformers' "Loading weights", Hugging Face downloads) follow
    --no-progress too: the environment switch for libraries not imported yet, the call for
    transformers if it already is."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if "transformers" in sys.modules:
        from transformers.utils import logging

        logging.disable_progress_bar()


class FrameProgress:
    """A tqdm bar that learns its total when the video opens; silent when disabled.

    `enabled=None` shows it only when stderr is a terminal, so logs and CI stay clean.
    """

    def __init__(self, label: str, *, enabled: bool | None) -> None:
        self.label = label
        self.enabled = shows_progress(enabled)
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


class CountProgress(FrameProgress):
    """A bar over a known number of items (shots, triggers) and their rate; silent when disabled or empty."""

    def __init__(self, label: str, total: int, unit: str, *, enabled: bool | None) -> None:
        super().__init__(label, enabled=enabled)
        if self.enabled and total:
            self._bar = tqdm(total=total, desc=label, unit=unit, file=sys.stderr, dynamic_ncols=True, mininterval=0.5)

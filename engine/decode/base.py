"""The decoder contract every backend (PyAV, NVDEC) keeps.

Time is exact: a frame carries its presentation timestamp as an integer `pts` in the stream's
`time_base` (a `Fraction`); seconds are derived, and always measured from the first frame, so a
stream that starts at pts = 1 s still has its first frame at 0.0 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator, Protocol

import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the video stream, before decoding."""

    path: str
    codec: str
    width: int  # display width: coded width × sample aspect ratio, after rotation
    height: int  # display height, after rotation
    coded_width: int
    coded_height: int
    rotation: int  # clockwise degrees to apply for display: 0, 90, 180 or 270
    sample_aspect_ratio: Fraction
    time_base: Fraction
    start_pts: int  # pts of the first frame (container start), the zero of all times
    average_fps: Fraction | None
    duration_seconds: float | None  # from the container; None when it does not say
    frame_count: int | None  # from the container; None when it does not say


class Frame(Protocol):
    """One decoded frame. Holds decoder memory: do not keep frames beyond a small window."""

    index: int  # 0-based position in presentation order among the decoded frames
    pts: int
    seconds: float  # (pts - start_pts) * time_base

    def to_rgb(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        """The frame as uint8 RGB `[height, width, 3]`, display orientation (rotation applied).

        Without a size: the display size (non-square pixels stretched). With a size: scaled
        straight to it (no letterbox), as encoders and thumbnails want.
        """
        ...


class Decoder(Protocol):
    """Streams every frame of one video in presentation order."""

    BACKEND_NAME: str
    info: VideoInfo
    corrupt_frames: int  # frames the decoder could not decode and skipped, so far
    frames_lost: int  # frames that never came out (cut-off end, lost packets), once a pass ends

    def frames(self) -> Iterator[Frame]:
        """Every decodable frame once, in presentation order; ends at end of stream."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> "Decoder": ...

    def __exit__(self, *exc: object) -> None: ...

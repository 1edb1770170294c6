"""Time, read and written in one place.

For people: `parse_time` reads seconds (`12.5`) or `[HH:]MM:SS[.fff]`, `timecode` writes
`HH:MM:SS[.mmm]` (milliseconds always, as PySceneDetect prints them; only when not whole; or
never). For frames: a decoded frame's time is exact, an integer pts in its stream's time base;
`pts_seconds` turns pts into the seconds a frame and the result document show, one rounding
from the exact value; analyses keep pts until the document is written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from fractions import Fraction
from typing import Literal

import numpy as np

_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")
ACCEPTED = "seconds (12.5) or [HH:]MM:SS[.fff]"


def parse_time(value: str | float) -> float:
    """Seconds >= 0 from a number, `12.5`, `MM:SS`, `HH:MM:SS` or either with a fraction
    (`01:02:03.5`). Otherwise a ValueError whose text follows the value in a message:
    `f"{value!r} {err}"`."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"is not a time: give {ACCEPTED}")
    text = str(value).strip()
    match = _CLOCK.match(text)
    if match is None:
        try:
            seconds = float(text)
        except ValueError:
            raise ValueError(f"is not a time: give {ACCEPTED}") from None
        if not math.isfinite(seconds):
            raise ValueError(f"is not a time: give {ACCEPTED}")
        if seconds < 0:
            raise ValueError("is negative: times must be >= 0 seconds")
        return seconds
    hours, minutes, seconds = match.groups()
    if (hours is not None and int(minutes) >= 60) or float(seconds) >= 60:
        raise ValueError("has minutes or seconds of 60 or more")
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)


def timecode(seconds: float, millis: Literal["always", "when_needed", "never"] = "always") -> str:
    """`HH:MM:SS.mmm`; with "when_needed" the `.mmm` only when the time is not a whole second;
    with "never" rounded to the second."""
    if millis == "never":
        whole, fraction = int(round(seconds)), 0
    else:
        whole, fraction = divmod(int(round(seconds * 1000)), 1000)
    text = f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"
    return f"{text}.{fraction:03d}" if millis == "always" or (millis == "when_needed" and fraction) else text


def pts_seconds(pts: int, start_pts: int, time_base: Fraction) -> float:
    """Seconds from the stream's first frame: `(pts - start_pts) * time_base`, rounded once
    (Python's integer division is correctly rounded, so this is `float` of the exact fraction)."""
    return (pts - start_pts) * time_base.numerator / time_base.denominator


def frame_seconds(pts: Iterable[int], start_pts: int, time_base: Fraction) -> np.ndarray:
    """float64 `pts_seconds` of many frames (a decode's pts, kept exact until now)."""
    return np.array([pts_seconds(int(p), start_pts, time_base) for p in pts], dtype=np.float64)

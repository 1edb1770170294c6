"""Frames a damaged file lost: ones that never came out of the decoder at all.

`corrupt_frames` counts what the decoder gave up on (a rejected packet, a frame flagged
corrupt); a file cut short or missing packets simply yields fewer frames, and nothing says so.
`LostFrames` counts those from the container's own description of the stream:

- where the container indexes every frame (MP4, MOV: `VideoInfo.frame_count`), the lost frames
  are the ones indexed but neither decoded nor counted as corrupt: exact;
- elsewhere (MKV, WebM, TS), from time: the frames that would fill the gap between the last
  decoded frame and the container's stated duration (the end of a truncated file), plus, in a
  stream that shows such damage (a cut-off end or corrupt frames), the holes between decoded
  frames, each measured in the stream's usual frame interval. A healthy variable-frame-rate
  stream has gaps by design and no damage, so it counts none. These are estimates where the
  frame rate varies, and a lower bound: a duration that counts from the first frame rather than
  from zero only makes the gap smaller.
"""

from __future__ import annotations

from collections import Counter

from filmline.engine.decode.base import VideoInfo

# An interval this many times the usual one holds missing frames (1.5: halfway to two frames).
HOLE_FACTOR = 1.5


class LostFrames:
    """Fed each decoded frame's pts in presentation order; `count()` gives the lost frames."""

    def __init__(self, info: VideoInfo) -> None:
        self._info = info
        self._decoded = 0
        self._last: int | None = None
        self._intervals: Counter[int] = Counter()

    def saw(self, pts: int) -> None:
        if self._last is not None:
            self._intervals[pts - self._last] += 1
        self._last = pts
        self._decoded += 1

    def count(self, corrupt: int) -> int:
        """Frames the stream should have had but the decode never produced, beyond `corrupt`."""
        info = self._info
        if info.frame_count:
            return max(0, info.frame_count - self._decoded - corrupt)
        if self._last is None or not self._intervals:
            return 0
        usual = _median(self._intervals)
        tail = 0
        if info.duration_seconds:
            end = info.duration_seconds / info.time_base  # in ticks, counted from zero
            tail = max(0, int((end - (self._last + usual)) / usual + 0.5))
        if not tail and not corrupt:
            return 0
        holes = sum(
            (round(interval / usual) - 1) * times
            for interval, times in self._intervals.items()
            if interval > HOLE_FACTOR * usual
        )
        return tail + holes


def _median(counts: Counter[int]) -> int:
    """The median of values given with their multiplicities."""
    half = (sum(counts.values()) + 1) // 2
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= half:
            return value
    raise ValueError("no values")

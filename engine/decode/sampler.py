"""Which frames to look at for a target rate, chosen by timestamp, not by frame count.

Counting frames ("every 25th") drifts on variable-frame-rate video and on streams with dropped
frames; choosing by time does not. The targets are t_k = k / fps seconds (k = 0, 1, …), measured
from the first frame as everywhere in `engine.decode`. Each target selects the frame whose time
is nearest to it (a tie goes to the earlier frame). A frame nearest to several targets is chosen
once, so asking for more than the source rate yields every frame once. The video ends one frame
duration after its last frame (the duration taken as the last frame interval): targets from
there on select nothing. A video of a single frame yields that frame.

Selection streams: the nearest frame to a target is certain as soon as one frame at or past the
target has arrived, so each `push` can only decide this frame or the previous one.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

from filmline.engine.errors import BadInputError


class FpsSampler:
    """Streams frame times in; hands back the chosen frame indices, once each, in order.

    Frame times must strictly increase (the decoders guarantee it). One sampler serves one
    stream: `push` every frame, then `finish` once.
    """

    def __init__(self, fps: float) -> None:
        if not (isinstance(fps, numbers.Real) and math.isfinite(fps) and fps > 0):
            raise BadInputError(
                f"sampling rate fps={fps!r} is invalid; give a positive number of frames "
                "per second, e.g. 1 or 0.5"
            )
        self.fps = float(fps)
        self._next_target = 0  # k of the first target not yet decided
        self._previous: tuple[int, float] | None = None  # (index, seconds) of the last frame
        self._interval: float | None = None  # seconds between the last two frames
        self._last_chosen: int | None = None

    def push(self, index: int, seconds: float) -> list[int]:
        """Record one frame; return the indices (previous and/or this frame) now chosen."""
        chosen: list[int] = []
        if self._previous is None:
            if self._time(self._next_target) < seconds:  # targets before the first frame
                self._choose(index, chosen)
        else:
            before, before_seconds = self._previous
            if seconds <= before_seconds:
                raise ValueError(
                    f"frame times must increase: frame {index} at {seconds} s follows "
                    f"frame {before} at {before_seconds} s"
                )
            end = self._first_target_at(seconds)
            if self._next_target < end:  # targets in [before_seconds, seconds)
                first, last = self._time(self._next_target), self._time(end - 1)
                if first - before_seconds <= seconds - first:
                    self._choose(before, chosen)
                if last - before_seconds > seconds - last:
                    self._choose(index, chosen)
            self._interval = seconds - before_seconds
        self._next_target = self._first_target_at(seconds)
        self._previous = (index, seconds)
        return chosen

    def finish(self) -> list[int]:
        """End of stream: the last frame, if a target falls within its duration."""
        chosen: list[int] = []
        if self._previous is not None:
            last, last_seconds = self._previous
            end = last_seconds + self._interval if self._interval is not None else math.inf
            if self._time(self._next_target) < end:
                self._choose(last, chosen)
        return chosen

    def _time(self, k: int) -> float:
        return k / self.fps

    def _first_target_at(self, seconds: float) -> int:
        """Smallest k ≥ the next undecided target with t_k ≥ seconds (exact in floats)."""
        k = max(self._next_target, math.ceil(seconds * self.fps))
        while k > self._next_target and self._time(k - 1) >= seconds:
            k -= 1
        while self._time(k) < seconds:
            k += 1
        return k

    def _choose(self, index: int, chosen: list[int]) -> None:
        if index != self._last_chosen:
            chosen.append(index)
            self._last_chosen = index


def sample_indices(seconds: Sequence[float], fps: float) -> list[int]:
    """Positions in `seconds` (strictly increasing frame times) chosen at `fps`."""
    sampler = FpsSampler(fps)
    chosen = [i for index, s in enumerate(seconds) for i in sampler.push(index, s)]
    return chosen + sampler.finish()

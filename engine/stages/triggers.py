"""The trigger stage: score frames sampled at ~3 fps with the built trigger model, keep the strong ones.

Frames arrive already resized (the pipeline decodes once and samples several rates). The encoder
runs a full batch at a time and only its features are kept ([N, 512]), never the images. At the
end the temporal head reads the whole feature sequence; frames at or above the threshold are
candidates, and a candidate within `suppress_seconds` of a stronger one is dropped.

`finish` returns a typed `TriggerResult`; the result document's `triggers` field is made from it
by `engine.document` (where the vision-language stage's `analysis` and `video_summary` join it).
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from filmline.engine.config import read_config
from filmline.engine.errors import BadInputError
from filmline.engine.preprocess import to_pixels

MODEL_NAME = "trigger"
_EPSILON = 1e-9  # seconds: frame times are sums of float intervals


@dataclass(frozen=True)
class TriggerSettings:
    """How frames are sampled and scored (configs/trigger.yaml `run`, the one source of defaults)."""

    fps: float
    threshold: float
    suppress_seconds: float
    batch_size: int

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise BadInputError(f"--trigger-fps must be positive, got {self.fps}; the default is {_defaults()['fps']}")
        if not 0.0 <= self.threshold <= 1.0:
            raise BadInputError(f"--trigger-threshold must be in [0, 1], got {self.threshold}; the default is {_defaults()['threshold']}")
        if not self.suppress_seconds >= 0:
            raise BadInputError(f"the trigger suppression window must be >= 0 seconds, got {self.suppress_seconds}")
        if self.batch_size < 1:
            raise BadInputError(f"the trigger batch size must be >= 1, got {self.batch_size}")

    @classmethod
    def from_config(cls, **overrides: Any) -> "TriggerSettings":
        """configs/trigger.yaml's `run` values, with `overrides` (flags) in place of some."""
        defaults = _defaults()
        values = {"fps": float(defaults["fps"]), "threshold": float(defaults["threshold"]),
                  "suppress_seconds": float(defaults["suppress_seconds"]), "batch_size": int(defaults["batch_size"])}
        return cls(**{**values, **overrides})


def _defaults() -> dict[str, Any]:
    return read_config("trigger.yaml")["run"]


def select_triggers(seconds: np.ndarray, confidences: np.ndarray, threshold: float, suppress_seconds: float) -> list[int]:
    """Positions of the kept triggers, in time order.

    Candidates (confidence >= threshold) are taken strongest first (the earlier on a tie); one
    closer than `suppress_seconds` to a kept trigger is dropped. O(n log n): a film at 3 fps has
    tens of thousands of frames.
    """
    seconds, confidences = np.asarray(seconds, dtype=np.float64), np.asarray(confidences)
    candidates = np.flatnonzero(confidences >= threshold)
    order = candidates[np.lexsort((seconds[candidates], -confidences[candidates]))]
    window = suppress_seconds - _EPSILON
    taken: list[float] = []  # kept times, sorted
    kept: list[int] = []
    for i in order:
        t = float(seconds[i])
        at = bisect.bisect_left(taken, t)
        if (at > 0 and t - taken[at - 1] < window) or (at < len(taken) and taken[at] - t < window):
            continue
        taken.insert(at, t)
        kept.append(int(i))
    return sorted(kept, key=lambda i: seconds[i])


@dataclass(frozen=True)
class Trigger:
    timestamp: float  # seconds
    frame_index: int
    confidence: float


@dataclass(frozen=True)
class TriggerResult:
    """One video's triggers, and what produced them."""

    frames_analyzed: int
    triggers: list[Trigger]
    settings: TriggerSettings
    model: dict[str, Any]  # backend and manifest facts
    seconds_spent: float  # encoder and head, for the result's `timings`


@dataclass
class _Sequence:
    """What one video has accumulated: a pending batch of images, and features of the rest."""

    frames: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    seconds_spent: float = 0.0


class TriggerDetector:
    """Scores one video at a time: `add` its sampled frames in time order, `finish`, `reset`."""

    def __init__(self, runner: Any, head: Callable[[np.ndarray], np.ndarray], settings: TriggerSettings, model: dict[str, Any]) -> None:
        """`runner`: the frame encoder's (pixels → features); `head`: features [N, D] → confidences [N]."""
        self._runner = runner
        self._head = head
        self.settings = settings
        self.model = model  # backend and manifest facts, for the result
        self._video = _Sequence()

    @property
    def image_size(self) -> int:
        return self._runner.image_size

    def add(self, frame_index: int, seconds: float, image: np.ndarray) -> None:
        """Queue one uint8 RGB frame [S, S, 3]; a full batch goes through the encoder."""
        video = self._video
        if video.seconds and seconds <= video.seconds[-1]:
            raise ValueError(f"trigger frames must come in time order: frame {frame_index} at {seconds} s follows {video.seconds[-1]} s")
        video.frames.append(frame_index)
        video.seconds.append(float(seconds))
        video.images.append(image)
        if len(video.images) >= self.settings.batch_size:
            self._encode()

    def finish(self) -> TriggerResult:
        """The triggers among the frames added since the last `reset`."""
        self._encode()
        video = self._video
        started = time.perf_counter()
        seconds = np.asarray(video.seconds, dtype=np.float64)
        if video.features:
            confidences = np.asarray(self._head(np.concatenate(video.features)), dtype=np.float64)
        else:
            confidences = np.zeros(0)
        kept = select_triggers(seconds, confidences, self.settings.threshold, self.settings.suppress_seconds)
        video.seconds_spent += time.perf_counter() - started
        triggers = [Trigger(float(seconds[i]), video.frames[i], float(confidences[i])) for i in kept]
        return TriggerResult(len(video.frames), triggers, self.settings, self.model, video.seconds_spent)

    def reset(self) -> None:
        """Forget the current video (the model stays loaded)."""
        self._video = _Sequence()

    def _encode(self) -> None:
        video = self._video
        if not video.images:
            return
        started = time.perf_counter()
        pixels = to_pixels(np.stack(video.images), self._runner.mean, self._runner.std)
        video.features.append(np.asarray(self._runner.run(pixels), dtype=np.float32))
        video.images.clear()
        video.seconds_spent += time.perf_counter() - started

"""Objects on trigger frames: a DETR-family detector's output as `{label, score, box}` entries.

Functions on arrays: the detector arrives as a runner of the model layer (any runtime, see
`engine.backends.detectors`), the frames as uint8 RGB arrays at source size. Each frame is
resized to the detector's square input; its boxes come back relative to the image, so they map
onto source pixels exactly whatever the resize did to the aspect.

Post-processing keeps, per query, its best-scoring label; queries at or above the score
threshold are kept, the strongest first, at most `max_objects` per frame. (For RT-DETR, whose
scores are per-class sigmoids, transformers' own post-processing may give one query two labels;
one label per query is what a box list means here.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

from filmline.engine.config import read_config
from filmline.engine.errors import BadInputError

_DEFAULTS = read_config("objects.yaml")["run"]

DetectionRun = Callable[[np.ndarray], np.ndarray]  # float32 [1, 3, S, S] → [1, Q, C + 4]


@dataclass(frozen=True)
class ObjectSettings:
    score_threshold: float = float(_DEFAULTS["score_threshold"])
    max_objects: int = int(_DEFAULTS["max_objects"])

    def __post_init__(self) -> None:
        if not 0.0 <= self.score_threshold <= 1.0:
            raise BadInputError(f"the object score threshold must be in [0, 1], got {self.score_threshold}")
        if self.max_objects < 1:
            raise BadInputError(f"max_objects must be >= 1, got {self.max_objects}")


@dataclass(frozen=True)
class DetectorInput:
    """What the detector's graph reads: a square of `image_size`, normalised by mean and std."""

    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    labels: tuple[str, ...]


class Detector:
    """A built detector (`family`: detr or rtdetr) opened on one runtime, and what its graph reads."""

    def __init__(self, family: str, runner: Any) -> None:  # engine.backends.base.Runner
        self.family = family
        self.runner = runner
        self.input = DetectorInput(runner.image_size, runner.mean, runner.std, tuple(runner.manifest["labels"]))

    def detect(self, frames: Sequence[np.ndarray], settings: ObjectSettings) -> list[list[dict[str, Any]]]:
        return detect_objects(self.runner.run, frames, self.input, settings)

    def describe(self) -> dict[str, Any]:
        """The result's `models.objects`."""
        return {"name": self.family, **self.runner.describe(), "image_size": self.input.image_size,
                "weights": self.runner.manifest.get("weights", {}).get("source")}


def detect_objects(run: DetectionRun, frames: Sequence[np.ndarray], model_input: DetectorInput,
                   settings: ObjectSettings = ObjectSettings()) -> list[list[dict[str, Any]]]:
    """Per frame (uint8 RGB [H, W, 3]), its objects `{label, score, box: [x0, y0, x1, y1]}` with
    the box in that frame's pixels, the strongest first. One frame per call: the graphs are built
    for batch 1 (trigger frames are few, and RT-DETR's code fixes the batch when exported)."""
    found = []
    for frame in frames:
        height, width = frame.shape[:2]
        output = np.asarray(run(to_detector_pixels(frame, model_input)), dtype=np.float32)[0]
        found.append(objects_from_output(output, width, height, model_input.labels, settings))
    return found


def to_detector_pixels(frame: np.ndarray, model_input: DetectorInput) -> np.ndarray:
    """uint8 RGB [H, W, 3] → float32 [1, 3, S, S], normalised."""
    size = model_input.image_size
    resized = np.asarray(Image.fromarray(frame).resize((size, size), Image.BILINEAR), dtype=np.float32) / 255.0
    mean = np.asarray(model_input.mean, dtype=np.float32)
    std = np.asarray(model_input.std, dtype=np.float32)
    return ((resized - mean) / std).transpose(2, 0, 1)[None].copy()


def objects_from_output(output: np.ndarray, width: int, height: int, labels: Sequence[str],
                        settings: ObjectSettings) -> list[dict[str, Any]]:
    """One frame's `[Q, C + 4]` (class scores, then cx, cy, w, h relative) as kept objects."""
    scores, boxes = output[:, : len(labels)], output[:, len(labels):len(labels) + 4]
    best = scores.argmax(axis=1)
    best_score = scores[np.arange(len(scores)), best]
    kept = [i for i in np.argsort(-best_score, kind="stable") if best_score[i] >= settings.score_threshold]
    objects = []
    for i in kept[: settings.max_objects]:
        cx, cy, w, h = (float(v) for v in boxes[i])
        box = [min(max(cx - w / 2, 0.0), 1.0) * width, min(max(cy - h / 2, 0.0), 1.0) * height,
               min(max(cx + w / 2, 0.0), 1.0) * width, min(max(cy + h / 2, 0.0), 1.0) * height]
        objects.append({"label": labels[best[i]], "score": round(float(best_score[i]), 4),
                        "box": [round(v, 1) for v in box]})
    return objects


@dataclass(frozen=True)
class TriggerObjects:
    """One kept trigger's objects and its saved frame (both None: the frame did not decode again)."""

    objects: list[dict[str, Any]] | None
    image: str | None  # relative to the output folder


@dataclass(frozen=True)
class ObjectsResult:
    """One video's objects on its trigger frames, and what found them."""

    detector: str  # detr or rtdetr
    settings: ObjectSettings
    per_trigger: list[TriggerObjects]  # in the order of the trigger section's triggers
    seconds_spent: float  # decode, detector and saving, for the result's `timings`

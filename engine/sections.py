"""The typed result sections: what each stage returns for one video.

A stage returns its own section from `finish_video`; `engine.document` is the one place that
turns sections into the JSON document. Each section carries the stage's part of the result's
`models` (`ModelReport`: the facts of the models it runs, or why it was skipped), and its internal
timings, which the document puts under `timings`, never inside the stage's own field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:  # heavy: the decode
    from filmline.engine.pipeline import ShotSettings, VideoAnalysis
    from filmline.engine.stages.objects import ObjectsResult
    from filmline.engine.stages.triggers import TriggerResult

Segment = dict[str, Any]  # an `intro` / `credits` entry: kind, start, end, confidence, method


@dataclass(frozen=True)
class Skipped:
    """A stage that cannot run: what is missing, and the command that enables it."""

    stage: str
    reason: str
    fix: str
    detail: str | None = None  # the underlying error's first line

    def to_json(self) -> dict[str, str]:
        entry = {"stage": self.stage, "reason": self.reason, "fix": self.fix}
        return {**entry, "detail": self.detail} if self.detail is not None else entry


@dataclass(frozen=True)
class ModelReport:
    """A stage's part of the result's `models`: the facts of each model it runs, by the key they
    take in `models` (None: the entry is there, empty), and the stages it skipped."""

    entries: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class ShotsSection:
    """Shots and key frames, with the decode's facts (`video`) and the settings they were found with."""

    KEY: ClassVar[str] = "shots"
    analysis: VideoAnalysis
    settings: ShotSettings
    models: ModelReport  # `encoder` and `shot_detector`


@dataclass(frozen=True)
class TriggersSection:
    KEY: ClassVar[str] = "triggers"
    result: TriggerResult | None  # None: the stage is off or skipped
    models: ModelReport


@dataclass(frozen=True)
class ObjectsSection:
    """Objects on the kept triggers' frames."""

    KEY: ClassVar[str] = "objects"
    result: ObjectsResult | None  # None: no detector (off or not built), or no trigger section
    models: ModelReport


@dataclass(frozen=True)
class IntroSection:
    KEY: ClassVar[str] = "intro"
    intro: Segment | None
    credits: Segment | None
    models: ModelReport
    features: np.ndarray | None = None  # [T, D], one per second, what the intro model read


@dataclass(frozen=True)
class SeriesFeatures:
    """`--series`: one feature per second of the video, kept for the comparison of the episodes
    (in `<stem>.series.npy`, not in the document)."""

    KEY: ClassVar[str] = "series_features"
    features: np.ndarray  # [T, D]
    models: ModelReport = ModelReport()


@dataclass(frozen=True)
class VlmTriggers:
    """What the vision-language model added to the triggers: per trigger (in order) and a summary."""

    fields: list[dict[str, Any]]
    summary: str | None


@dataclass(frozen=True)
class VlmSection:
    KEY: ClassVar[str] = "vlm"
    report: dict[str, Any]  # the document's `vlm` field
    models: ModelReport
    summary: str | None = None
    action_profile: dict[str, Any] | None = None
    shot_fields: dict[int, dict[str, Any]] = field(default_factory=dict)  # added to each shot, by index
    triggers: VlmTriggers | None = None  # None: the triggers were not asked about
    seconds: float | None = None  # None: the stage did not run


@dataclass(frozen=True)
class SeriesSection:
    """One episode's part of the comparison of the episodes (`--series`)."""

    episodes: int
    feature_dim: int
    found: list[Segment]  # `"method": "cross_episode"` entries, at most one per kind


@dataclass(frozen=True)
class Sections:
    """The sections of one video finished so far; a stage reads those before it, never edits them."""

    shots: ShotsSection | None = None
    triggers: TriggersSection | None = None
    objects: ObjectsSection | None = None
    intro: IntroSection | None = None
    series_features: SeriesFeatures | None = None
    vlm: VlmSection | None = None

    def adding(self, section: Any) -> "Sections":
        return replace(self, **{section.KEY: section})

    def all(self) -> list[Any]:
        """The sections present, in the order their stages run."""
        found = (self.shots, self.triggers, self.objects, self.intro, self.series_features, self.vlm)
        return [section for section in found if section is not None]

"""The stages beside shots in `engine-run`: triggers, intro/credits and the series features.

Each is opened once per run (a built artifact under ENGINE_HOME, or skipped with the reason and
the fix in the result), fed per video through frame taps of the one decode, and returns its own
section (engine.stage's protocol). Cross-episode matching (`--series`) needs one feature per
second of every episode: the intro model's own features when it runs, else the shot encoder's
embeddings, else the cheap luminance thumbnails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from filmline.engine.encoder_queue import EncoderQueue
from filmline.engine.luma_features import luma_size
from filmline.engine.sections import (
    IntroSection,
    ModelReport,
    Sections,
    SeriesFeatures,
    SeriesSection,
    TriggersSection,
)
from filmline.engine.stage import Stage, VideoStart
from filmline.engine.taps import EmbeddingTap, FrameTap, LumaTap, TriggerTap


@dataclass(frozen=True)
class ExtraStageOptions:
    triggers: bool
    trigger_fps: float | None
    trigger_threshold: float | None
    intro: bool
    series: bool
    batch_size: int


def open_extra_stages(options: ExtraStageOptions, shot_encoder: EncoderQueue | None
                      ) -> tuple[TriggerStage, IntroStage, SeriesFeatureStage | None]:
    """The trigger and intro stages (running, off or skipped), and with --series the stage that
    keeps each episode's features."""
    triggers = TriggerStage(*_open_triggers(options)) if options.triggers else TriggerStage(None, ModelReport())
    intro = IntroStage(*_open_intro(options)) if options.intro else IntroStage(None, None, ModelReport())
    if not options.series:
        return triggers, intro, None
    return triggers, intro, SeriesFeatureStage(intro.model is not None, shot_encoder, options.batch_size)


class TriggerStage(Stage):
    """The trigger CNN over frames at --trigger-fps."""

    def __init__(self, detector: Any, models: ModelReport) -> None:  # stages.triggers.TriggerDetector
        self.detector = detector
        self.models = models

    @property
    def fps(self) -> float | None:
        """The rate its frames are sampled at; None when the stage does not run."""
        return self.detector.settings.fps if self.detector is not None else None

    def use_options(self, options: ExtraStageOptions) -> None:
        """The next videos' trigger rate and threshold (the model stays open)."""
        if self.detector is not None:
            self.detector.settings = _trigger_settings(options)

    def start_video(self, video: VideoStart) -> Sequence[FrameTap]:
        if self.detector is None:
            return []
        self.detector.reset()
        return [TriggerTap(self.detector)]

    def finish_video(self, done: Sections) -> TriggersSection:
        return TriggersSection(self.detector.finish() if self.detector is not None else None, self.models)


class IntroStage(Stage):
    """The intro transformer over one embedding per second of the intro model's own embedder."""

    def __init__(self, model: Any, queue: EncoderQueue | None, models: ModelReport) -> None:  # stages.intro.IntroModel
        self.model = model
        self.queue = queue
        self.models = models
        self._tap: Any = None

    def start_video(self, video: VideoStart) -> Sequence[FrameTap]:
        if self.model is None:
            return []
        self._tap = self._embedder_tap()
        return [self._tap]

    def _embedder_tap(self) -> FrameTap:
        """An image encoder, or the luminance thumbnail the model was trained on."""
        size = luma_size(self.model.embedder)
        if size is not None:
            return LumaTap(size)
        self.queue.reset()
        return EmbeddingTap(self.queue)

    def finish_video(self, done: Sections) -> IntroSection:
        if self.model is None:
            return IntroSection(None, None, self.models)
        from filmline.engine.stages.intro import IntroSettings

        features = self._tap.per_second()
        found = {entry["kind"]: entry for entry in self.model.detect(features, IntroSettings.from_config())}
        return IntroSection(found.get("intro"), found.get("credits"), self.models, features)


class SeriesFeatureStage(Stage):
    """`--series`: one feature per second of each episode, for comparing them afterwards. The
    intro model's features when it runs; else the shot encoder's embeddings; else luminance."""

    def __init__(self, from_intro: bool, shot_encoder: EncoderQueue | None, batch_size: int) -> None:
        self.from_intro = from_intro
        self.queue = EncoderQueue(shot_encoder.runner, batch_size) if shot_encoder is not None and not from_intro else None
        self._tap: Any = None

    def start_video(self, video: VideoStart) -> Sequence[FrameTap]:
        if self.from_intro:
            return []
        if self.queue is not None:
            self.queue.reset()
            self._tap = EmbeddingTap(self.queue)
        else:
            self._tap = LumaTap()
        return [self._tap]

    def finish_video(self, done: Sections) -> SeriesFeatures:
        return SeriesFeatures(done.intro.features if self.from_intro else self._tap.per_second())


def match_series(features: list[np.ndarray]) -> list[SeriesSection]:
    """Each episode's part of the intro and credits that recur across the episodes."""
    from filmline.engine.stages.series import SeriesSettings, find_recurring

    found = find_recurring(features, SeriesSettings.from_config())
    return [SeriesSection(len(features), int(features[0].shape[1]), entries) for entries in found]


def _trigger_settings(options: ExtraStageOptions) -> Any:
    from filmline.engine.stages.triggers import TriggerSettings

    overrides = {k: v for k, v in (("fps", options.trigger_fps), ("threshold", options.trigger_threshold)) if v is not None}
    return TriggerSettings.from_config(**overrides)  # checks the values before any model loads


def _open_triggers(options: ExtraStageOptions) -> tuple[Any, ModelReport]:
    from filmline.engine.model_setup import open_triggers

    opened = open_triggers(_trigger_settings(options))
    return opened.model, opened.report


def _open_intro(options: ExtraStageOptions) -> tuple[Any, EncoderQueue | None, ModelReport]:
    from filmline.engine.model_setup import open_intro

    opened = open_intro(options.batch_size)
    model, queue = opened.model or (None, None)
    return model, queue, opened.report

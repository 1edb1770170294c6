"""The stages beside shots in `engine-run`: triggers and intro/credits.

Each is opened once per run (a built artifact under ENGINE_HOME, or skipped with the reason and
the fix in the result) and fed per video through frame taps of the one decode. Cross-episode
matching (`--series`) needs one feature per second of every episode: the intro model's own
features when it runs, else the shot encoder's embeddings, else the cheap luminance thumbnails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from filmline.engine.encoder_queue import EncoderQueue
from filmline.engine.luma_features import luma_size
from filmline.engine.taps import EmbeddingTap, FrameTap, LumaTap, TriggerTap


@dataclass(frozen=True)
class ExtraStageOptions:
    triggers: bool
    trigger_fps: float | None
    trigger_threshold: float | None
    intro: bool
    series: bool
    batch_size: int


class ExtraStages:
    """Opened once per run; `start_video` → taps for the decode, `finish_video` → result fields."""

    def __init__(self, options: ExtraStageOptions, shot_encoder: EncoderQueue | None, models: dict[str, Any]) -> None:
        self.options = options
        self.triggers = _open_triggers(options, models) if options.triggers else None
        self.intro_model, self.intro_queue = _open_intro(options, models) if options.intro else (None, None)
        self._series_queue = (
            EncoderQueue(shot_encoder.runner, options.batch_size)
            if options.series and self.intro_model is None and shot_encoder is not None
            else None
        )
        self._taps: dict[str, Any] = {}

    def start_video(self) -> list[FrameTap]:
        """Fresh taps for the next video."""
        self._taps = {}
        if self.triggers is not None:
            self.triggers.reset()
            self._taps["triggers"] = TriggerTap(self.triggers)
        if self.intro_model is not None:
            self._taps["intro"] = self._intro_tap()
        if self.options.series and self.intro_model is None:
            if self._series_queue is not None:
                self._series_queue.reset()
                self._taps["series"] = EmbeddingTap(self._series_queue)
            else:
                self._taps["series"] = LumaTap()
        return list(self._taps.values())

    def _intro_tap(self) -> FrameTap:
        """The intro model's own embedder: an image encoder, or the luminance thumbnail it was trained on."""
        size = luma_size(self.intro_model.embedder)
        if size is not None:
            return LumaTap(size)
        self.intro_queue.reset()
        return EmbeddingTap(self.intro_queue)

    def finish_video(self) -> tuple[dict[str, Any], np.ndarray | None]:
        """The video's `triggers`, `intro` and `credits` result fields, and its per-second
        features for cross-episode matching (None without --series)."""
        fields: dict[str, Any] = {"triggers": None, "intro": None, "credits": None}
        if "triggers" in self._taps:
            fields["triggers"] = self.triggers.finish()
        intro_features = self._taps["intro"].per_second() if "intro" in self._taps else None
        if intro_features is not None:
            from filmline.engine.stages.intro import IntroSettings

            for entry in self.intro_model.detect(intro_features, IntroSettings.from_config()):
                fields[entry["kind"]] = entry
        series_features = None
        if self.options.series:
            series_features = intro_features if intro_features is not None else self._taps["series"].per_second()
        return fields, series_features


def add_cross_episode_segments(documents: list[dict[str, Any]], features: list[np.ndarray]) -> None:
    """Fill each episode's missing `intro` / `credits` from the segment that recurs across them
    (what an earlier comparison put there, in a result kept from an earlier run, is replaced)."""
    from filmline.engine.stages.series import KINDS, SeriesSettings, find_recurring

    found = find_recurring(features, SeriesSettings.from_config())
    for document, entries in zip(documents, found):
        document["series"] = {"episodes": len(documents), "feature_dim": int(features[0].shape[1])}
        for kind in KINDS:
            if (document.get(kind) or {}).get("method") == "cross_episode":
                document[kind] = None
        for entry in entries:
            if document.get(entry["kind"]) is None:
                document[entry["kind"]] = entry


def _open_triggers(options: ExtraStageOptions, models: dict[str, Any]) -> Any:
    from filmline.engine.model_setup import open_triggers
    from filmline.engine.stages.triggers import TriggerSettings

    overrides = {k: v for k, v in (("fps", options.trigger_fps), ("threshold", options.trigger_threshold)) if v is not None}
    opened = open_triggers(TriggerSettings.from_config(**overrides))  # the values are checked before any model loads
    _record("trigger", opened, models)
    return opened.model


def _open_intro(options: ExtraStageOptions, models: dict[str, Any]) -> tuple[Any, EncoderQueue | None]:
    from filmline.engine.model_setup import open_intro

    opened = open_intro(options.batch_size)
    _record("intro", opened, models)
    return opened.model or (None, None)


def _record(name: str, opened: Any, models: dict[str, Any]) -> None:
    """The result's `models` facts of an opened stage model, or its skip entry."""
    if opened.skipped is not None:
        models["skipped"].append(opened.skipped)
    else:
        models[name] = opened.facts

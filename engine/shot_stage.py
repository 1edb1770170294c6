"""The shot stage: shots and key frames, as a stage of the protocol (engine.stage).

It differs from the others in one way: it reads every decoded frame (the cheap pass, TransNetV2)
and asks for the frames either side of each cut candidate, so its frame work lives inside the
decode loop (`engine.pipeline.analyze_video`), and it is the stage that runs the decode, feeding
the other stages' taps on the way (`decode`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from filmline.engine.decode import VideoInfo
from filmline.engine.encoder_queue import EncoderQueue
from filmline.engine.pipeline import ShotSettings, VideoAnalysis, analyze_video
from filmline.engine.sections import ModelReport, Sections, ShotsSection
from filmline.engine.stage import Stage, VideoStart
from filmline.engine.taps import FrameTap


@dataclass(frozen=True)
class DecodeOptions:
    decoder: str
    sessions: int | None
    allow_truncated: bool

    @classmethod
    def of(cls, settings: Any) -> "DecodeOptions":
        """The decode options of a run's settings (`engine.run_settings.RunSettings`)."""
        return cls(settings.decoder, settings.decode_sessions, settings.allow_truncated)


class ShotStage(Stage):
    """Opened with the image encoder (or None) and TransNetV2's window call (or None)."""

    def __init__(self, settings: ShotSettings, encoder: EncoderQueue | None, shot_model: Any,
                 models: ModelReport, decode: DecodeOptions) -> None:
        self.encoder = encoder
        self.shot_model = shot_model
        self.models = models
        self.use_settings(settings, decode)
        self._video: VideoStart | None = None
        self._analysis: VideoAnalysis | None = None

    def use_settings(self, settings: ShotSettings, decode: DecodeOptions) -> None:
        """The next videos' settings: with TransNetV2, its thresholds decide the shots."""
        from filmline.engine.model_setup import with_learned_detector

        self.settings = with_learned_detector(settings) if self.shot_model is not None else settings
        self.decode_options = decode

    def start_video(self, video: VideoStart) -> Sequence[FrameTap]:
        self._video, self._analysis = video, None
        if self.encoder is not None:
            self.encoder.reset()
        return []  # every frame reaches the stage inside the decode loop

    def decode(self, taps: Sequence[FrameTap], on_open: Callable[[VideoInfo], None] | None = None,
               on_frames: Callable[[int], None] | None = None) -> VideoAnalysis:
        """The one decode of the video: the shot stage's frame work, and the other stages' `taps`."""
        options = self.decode_options
        self._analysis = analyze_video(
            self._video.path, self.settings, self.encoder, self._video.out_dir,
            decoder_backend=options.decoder, decode_sessions=options.sessions,
            allow_truncated=options.allow_truncated, taps=taps, on_open=on_open, on_frames=on_frames,
            shot_model=self.shot_model,
        )
        return self._analysis

    def finish_video(self, done: Sections) -> ShotsSection:
        return ShotsSection(self._analysis, self.settings, self.models)

"""The objects stage: a DETR-family detector on each kept trigger's frame, after the trigger stage.

A trigger is known only when the video is done (the trigger head reads the whole sequence), so
its frame is decoded again, from the keyframe before it, at source size: a few frames per film,
cheaper than keeping every trigger-rate frame. Each trigger's objects (boxes in source pixels,
`engine.stages.objects`) and its frame, saved beside the key frames for the report, make the
stage's section. No detector built: the stage is skipped with the build command, as the others are.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from filmline.engine.config import read_config
from filmline.engine.keyframe_store import keyframes_folder
from filmline.engine.output_files import write_error, write_jpeg
from filmline.engine.sections import ModelReport, ObjectsSection, Sections
from filmline.engine.stage import Stage, VideoStart
from filmline.engine.stages.objects import Detector, ObjectSettings, ObjectsResult, TriggerObjects
from filmline.engine.taps import FrameTap

_RUN = read_config("objects.yaml")["run"]


class ObjectsStage(Stage):
    """The opened detector (None: skipped, `models` says why); reads the trigger section."""

    def __init__(self, detector: Detector | None, models: ModelReport,
                 settings: ObjectSettings = ObjectSettings(), quality: int = int(_RUN["jpeg_quality"])) -> None:
        self.detector = detector
        self.models = models
        self.settings = settings
        self.quality = quality
        self._video: VideoStart | None = None

    @classmethod
    def open(cls, choice: str = _RUN["detector"]) -> "ObjectsStage | None":
        """The configured detector (configs/objects.yaml `run.detector`), skipped when not built;
        None: off (`none`)."""
        from filmline.engine.model_setup import open_objects

        opened = open_objects(choice)
        return None if opened is None else cls(opened.model, opened.report)

    def start_video(self, video: VideoStart) -> Sequence[FrameTap]:
        self._video = video
        return []  # the frames come after the decode, once the triggers are known

    def finish_video(self, done: Sections) -> ObjectsSection:
        triggers = done.triggers.result if done.triggers is not None else None
        if self.detector is None or triggers is None:
            return ObjectsSection(None, self.models)
        started = time.perf_counter()
        images = _frames_at(done.shots.analysis.info, [t.timestamp for t in triggers.triggers])
        folder = keyframes_folder(self._video.out_dir, self._video.path.stem)
        found = dict(zip(images, self.detector.detect(list(images.values()), self.settings)))
        per_trigger = [TriggerObjects(found[t.timestamp], self._save(images[t.timestamp], folder, t.frame_index))
                       if t.timestamp in images else TriggerObjects(None, None) for t in triggers.triggers]
        result = ObjectsResult(self.detector.family, self.settings, per_trigger, time.perf_counter() - started)
        return ObjectsSection(result, self.models)

    def end_video(self) -> None:
        self._video = None

    def _save(self, image: np.ndarray, folder: Path, frame_index: int) -> str:
        path = folder / f"trigger_{frame_index:06d}.jpg"
        try:
            folder.mkdir(exist_ok=True)
            write_jpeg(path, image, self.quality)
        except OSError as err:
            raise write_error(folder, err) from err
        return f"{folder.name}/{path.name}"


def _frames_at(info: Any, timestamps: list[float]) -> dict[float, np.ndarray]:
    """The frames (uint8 RGB at source size) at these timestamps, by timestamp; one that does not
    decode again is absent."""
    from filmline.engine.decode.pyav import decode_frames_at

    if not timestamps:
        return {}
    by_pts = {info.start_pts + round(seconds / info.time_base): seconds for seconds in timestamps}
    return {by_pts[frame.pts]: frame.to_rgb() for frame in decode_frames_at(info, by_pts) if frame.pts in by_pts}

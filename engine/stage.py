"""The stage protocol: one life cycle for every analysis `engine-run` makes.

    open          once per run, from models the model layer already opened (or a skip reason)
    start_video   per video: fresh frame taps for the one decode
    finish_video  after the decode: the stage's typed section, read from its own state and the
                  sections of the stages before it (`Sections`)
    end_video     always, finished or failed: release what the video held (files, buffers)
    close         once per run: release what the stage holds

Stages run in a fixed order (shots, triggers, objects, intro, series features, VLM) so that a stage can
read what the earlier ones found; none edits another's section or the result document, which
`engine.document` assembles once from all of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from filmline.engine.sections import ModelReport, Sections
from filmline.engine.taps import FrameTap


@dataclass(frozen=True)
class VideoStart:
    """The video a stage is about to see, and the folder its outputs go to."""

    path: Path
    out_dir: Path


class Stage(ABC):
    """Opened by its constructor (or an `open` class method) with runners, never artifacts."""

    models: ModelReport = ModelReport()  # what the stage runs, or why it is skipped

    @abstractmethod
    def start_video(self, video: VideoStart) -> Sequence[FrameTap]:
        """Forget the last video; the taps that feed this one from the decode."""

    @abstractmethod
    def finish_video(self, done: Sections) -> Any:
        """The video's section (a dataclass of `engine.sections`)."""

    def end_video(self) -> None:
        """Release what the video held; runs after `finish_video`, or after a failure."""

    def close(self) -> None:
        """Release what the run held (a runner belongs to the model layer, not to its stage)."""


def finish_stages(stages: Sequence[Stage]) -> Sections:
    """Every stage's section for the video just decoded, each seeing those finished before it."""
    done = Sections()
    for stage in stages:
        done = done.adding(stage.finish_video(done))
    return done

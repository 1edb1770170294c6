"""The vision-language stage of `engine-run`, a stage of engine.stage's protocol: opened once per
run; per video it keeps frames during the decode (its taps) and afterwards asks the model about
the key shots and the triggers the earlier stages found (`finish_video`), returning its answers
as a `VlmSection` that the result document is assembled from.

Only key shots and triggers reach the model. `--vlm-max-shots N` keeps the N longest shots that
have a frame (the most screen time per request; ties go to the earlier shot) and lists the
others in `vlm.shots.skipped`. Prompts go to the backend `prompts_per_call` at a time, so only
that many shots' images are in memory. Every answer passes through the answer cache, so a rerun
with the same inputs costs no requests. A failed answer is recorded on its shot or trigger
(`vlm_error`) and counted in `vlm.failed`; it never stops the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from filmline.engine.cli_support import notice
from filmline.engine.progress import CountProgress
from filmline.engine.sections import ModelReport, Sections, Skipped, TriggersSection, VlmSection, VlmTriggers
from filmline.engine.stage import Stage, VideoStart
from filmline.engine.taps import FrameTap
from filmline.engine.vlm.actions import CONSTRAINED, SCORED, label_shots
from filmline.engine.vlm.base import Failed, VlmBackend
from filmline.engine.vlm.cache import AnswerCache, CachedVlm
from filmline.engine.vlm.config import VlmConfig
from filmline.engine.vlm.describe import caption_summary_prompts, describe, trigger_summary_prompts
from filmline.engine.vlm.frames import VlmFrames, shot_images, trigger_image
from filmline.engine.vlm.options import ENABLE_HINT, VlmOptions
from filmline.engine.vlm.profile import action_profile
from filmline.engine.vlm.summary import summarise, timed_item, token_counter

NO_FRAMES = "no frame of it was kept (a shot shorter than the sampling interval, between gradual transitions)"
SHOT_TASKS = ("actions", "captions")


@dataclass(frozen=True)
class _Asked:
    """One shot or trigger going to the model: what it is (read only), the fields the stage adds
    to it, and how to load its images."""

    item: dict[str, Any]
    fields: dict[str, Any]
    frames: list[int]
    load: Callable[[], tuple[np.ndarray, ...]]


@dataclass(frozen=True)
class _Rates:
    """The frame rates the stage keeps frames at: the run's --fps, and the trigger stage's."""

    shots: float
    triggers: float | None


class VlmStage(Stage):
    def __init__(self, options: VlmOptions, config: VlmConfig, backend: VlmBackend | None, skip_reason: str | None,
                 models: ModelReport, rates: _Rates, progress: bool | None, *, elsewhere: bool = False) -> None:
        self.options = options
        self.config = config
        # the model runs in another process (a library's caption actors): this stage only keeps the
        # frames, `kept` names their folder after each video, and `finish_kept` answers there
        self.elsewhere = elsewhere
        self.kept: Path | None = None
        self.inner = backend
        self.backend = CachedVlm(backend, AnswerCache()) if backend is not None else None
        self.skip_reason = skip_reason
        self.models = models
        self.rates = rates
        self.progress = progress
        self._count = token_counter(backend) if backend is not None else None
        self._frames: VlmFrames | None = None
        self._video: VideoStart | None = None

    @classmethod
    def open(cls, options: VlmOptions, config: VlmConfig, *, fps: float, trigger_fps: float | None,
             progress: bool | None = None) -> "VlmStage":
        """Load the model (or note why the stage is off). `fps`: the run's sampling rate (key
        shots); `trigger_fps`: the trigger stage's, None when it does not run."""
        rates = _Rates(fps, trigger_fps)
        if options.backend is None:
            if options.explicit:
                return cls(options, config, None, "disabled with --vlm none", ModelReport(), rates, progress)
            reason = "off by default (action labels, captions, trigger descriptions)"
            skipped = ModelReport(skipped=(Skipped("vlm", reason, ENABLE_HINT),))
            return cls(options, config, None, f"{reason}; no --vlm backend given", skipped, rates, progress)
        from filmline.engine.vlm import open_backend

        backend = open_backend(options, config)
        return cls(options, config, backend, None, ModelReport({"vlm": backend.describe()}), rates, progress)

    @classmethod
    def keeper(cls, options: VlmOptions, config: VlmConfig, *, fps: float, trigger_fps: float | None) -> "VlmStage":
        """The stage of a library's analysis actor when a caption actor holds the model: it keeps
        the frames the model will see, and hands their folder over (`kept`) instead of answering."""
        return cls(options, config, None, None, ModelReport(), _Rates(fps, trigger_fps), None, elsewhere=True)

    def use_rates(self, fps: float, trigger_fps: float | None) -> None:
        """The rates the next videos' frames are kept at (engine-serve's jobs differ in --fps)."""
        self.rates = _Rates(fps, trigger_fps)

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend.cache.close()

    def start_video(self, video: VideoStart) -> Sequence[FrameTap]:
        """Frame taps for one video's decode; the frames are kept until `end_video`."""
        self._video = video
        self.kept = None
        tasks = self.options.tasks
        rates = {self.rates.shots} if any(t in tasks for t in SHOT_TASKS) else set()
        if self.rates.triggers is not None and "triggers" in tasks:
            rates.add(self.rates.triggers)
        if (self.backend is None and not self.elsewhere) or not rates:
            return []
        self._frames = VlmFrames(video.out_dir, video.path.stem, self.config.image_width, self.config.jpeg_quality)
        return [self._frames.tap(rate) for rate in sorted(rates)]

    def end_video(self) -> None:
        if self._frames is not None:
            self._frames.discard()
            self._frames = None

    def finish_video(self, done: Sections) -> VlmSection:
        """The tasks on the shots and triggers the earlier stages found."""
        if self.elsewhere:  # every frame written, and kept past `end_video` for the caption actor
            if self._frames is not None:
                self._frames.close()
                self.kept, self._frames = self._frames.folder, None
            return VlmSection({"status": "elsewhere"}, self.models)
        if self.backend is None:
            return VlmSection({"status": "skipped", "reason": self.skip_reason}, self.models)
        from filmline.engine.document import shot_entries

        started = time.perf_counter()
        requests_before, cache_before = dict(self.inner.stats), dict(self.backend.stats)
        name = self._video.path.name
        report: dict[str, Any] = {"status": "ran", "tasks": list(self.options.tasks), "failed": {}}
        shot_fields: dict[int, dict[str, Any]] = {}
        summary = profile = triggers = None
        if any(t in self.options.tasks for t in SHOT_TASKS):
            duration = done.shots.analysis.end_seconds
            shot_fields, summary, profile = self._shots(shot_entries(done.shots), duration, name, report)
        if "triggers" in self.options.tasks:
            triggers = self._triggers(done.triggers, name, report)
        spent = time.perf_counter() - started
        report["requests"] = {key: value - requests_before.get(key, 0) for key, value in self.inner.stats.items()}
        report["cache"] = {key: value - cache_before.get(key, 0) for key, value in self.backend.stats.items()}
        report["failed_total"] = sum(report["failed"].values())
        if report["failed_total"]:
            notice(f"warning: {name}: {report['failed_total']} vision-language questions got no answer "
                f"({', '.join(f'{k} {v}' for k, v in report['failed'].items() if v)}); see vlm_error in the result")
        report["seconds"] = spent
        return VlmSection(report, self.models, summary, profile, shot_fields, triggers, spent)

    def finish_kept(self, done: Sections, video: VideoStart, folder: Path | None) -> VlmSection:
        """`finish_video` in a caption actor, on the frames an analysis actor kept in `folder`
        (None: it kept none); the folder is deleted after."""
        self._video = video
        self._frames = VlmFrames(video.out_dir, video.path.stem, self.config.image_width, self.config.jpeg_quality,
                                 folder=folder)
        try:
            return self.finish_video(done)
        finally:
            self.end_video()

    # -- key shots -------------------------------------------------------------------------

    def _shots(self, shots: list[dict[str, Any]], duration: float, name: str, report: dict[str, Any]
               ) -> tuple[dict[int, dict[str, Any]], str | None, dict[str, Any] | None]:
        """The fields added to each shot, the caption summary and the action profile."""
        config, tasks = self.config, self.options.tasks
        asked: list[_Asked] = []
        without: list[int] = []
        added: dict[int, dict[str, Any]] = {}
        for shot in shots:
            fields = added[shot["index"]] = {"vlm_frames": None, "vlm_error": None}
            if "actions" in tasks:
                fields.update({"labels": None, "label_probabilities": None})
            if "captions" in tasks:
                fields["caption"] = None
            frames, load = shot_images(self._frames, shot, config.neighbours)
            if frames:
                asked.append(_Asked(shot, fields, frames, load))
            else:
                without.append(shot["index"])
                add_error(fields, "frames", NO_FRAMES)
        asked, skipped = cap_shots(asked, self.options.max_shots)
        for item in asked:
            item.fields["vlm_frames"] = item.frames
        report["shots"] = {"total": len(shots), "sent": len(asked), "without_frames": without,
                           "skipped": skipped, "max_shots": self.options.max_shots,
                           "chosen_by": "longest first" if self.options.max_shots else "all with a frame"}
        report["failed"]["frames"] = len(without)
        summary = profile = None
        if "actions" in tasks:
            self._actions(asked, name, report)
            labelled = [{**shot, **added[shot["index"]]} for shot in shots]
            profile = action_profile(labelled, duration, config.none_category,
                                     minute_seconds=config.minute_seconds, sequences=config.sequences)
        if "captions" in tasks:
            answers = self._grouped(asked, f"{name} captions", "shot", lambda images, advance: describe(
                self.backend, config.caption_prompt, config.caption_generation, images, advance))
            report["failed"]["captions"] = _record(asked, answers, "caption", "caption")
            items = [timed_item(i.item["start_time"], i.item["end_time"], i.fields["caption"])
                     for i in asked if i.fields["caption"]]
            summarised = summarise(self.backend, items, caption_summary_prompts(config), self._count)
            summary = summarised.text
            report["summary"] = summarised.report()
            report["failed"]["summary"] = summarised.failed
        return added, summary, profile

    def _actions(self, asked: list[_Asked], name: str, report: dict[str, Any]) -> None:
        methods: list[str] = []
        method = SCORED if self.inner.gives_logprobs else CONSTRAINED

        def task(images: list[tuple[np.ndarray, ...]], advance: Callable[[int], None]) -> list:
            nonlocal method
            labels, method = label_shots(self.backend, self.config, images, method, advance)
            methods.extend([method] * len(labels))
            return labels

        results = self._grouped(asked, f"{name} actions", "shot", task)
        failed = 0
        for item, result, used in zip(asked, results, methods):
            item.fields.update(result.fields())
            item.fields["label_method"] = used
            if result.error is not None:
                add_error(item.fields, "labels", result.error)
                failed += 1
        counts = {m: methods.count(m) for m in (SCORED, CONSTRAINED) if m in methods}
        report["actions"] = {"method": next(iter(counts)) if len(counts) == 1 else ("mixed" if counts else None),
                             "methods": counts, "exact_scores": self.inner.exact_scores,
                             "categories": list(self.config.categories), "threshold": self.config.label_threshold}
        report["failed"]["labels"] = failed

    # -- triggers --------------------------------------------------------------------------

    def _triggers(self, section: TriggersSection | None, name: str, report: dict[str, Any]) -> VlmTriggers | None:
        result = section.result if section is not None else None
        if result is None:
            report["triggers"] = {"status": "skipped", "reason": "the trigger stage did not run (see models.skipped)"}
            return None
        asked: list[_Asked] = []
        added: list[dict[str, Any]] = []
        for trigger in result.triggers:
            frame, load = trigger_image(self._frames, trigger.frame_index)
            fields = {"vlm_frame": frame, "vlm_error": None, "analysis": None}
            added.append(fields)
            if frame is None:
                add_error(fields, "frames", "no frame of the video was kept")
            else:
                asked.append(_Asked({"timestamp": trigger.timestamp}, fields, [frame], load))
        config = self.config
        answers = self._grouped(asked, f"{name} triggers", "trigger", lambda images, advance: describe(
            self.backend, config.trigger_prompt, config.trigger_generation, images, advance))
        unanswered = _record(asked, answers, "analysis", "analysis")
        failed = unanswered + len(result.triggers) - len(asked)
        items = [timed_item(i.item["timestamp"], None, i.fields["analysis"]) for i in asked if i.fields["analysis"]]
        summary = summarise(self.backend, items, trigger_summary_prompts(config), self._count)
        report["triggers"] = {"status": "ran", "analysed": len(asked) - unanswered, "summary": summary.report()}
        report["failed"]["triggers"] = failed
        report["failed"]["trigger_summary"] = summary.failed
        return VlmTriggers(added, summary.text)

    # -- shared ----------------------------------------------------------------------------

    def _grouped(self, asked: Sequence[_Asked], label: str, unit: str,
                 task: Callable[[list[tuple[np.ndarray, ...]], Callable[[int], None]], list]) -> list:
        """`task` over the items' images, `prompts_per_call` items at a time, with a progress bar."""
        answers: list = []
        size = self.config.prompts_per_call
        with CountProgress(label, len(asked), unit, enabled=self.progress) as bar:
            for start in range(0, len(asked), size):
                answers += task([item.load() for item in asked[start : start + size]], bar.advance)
        return answers


def cap_shots(asked: list[_Asked], max_shots: int | None) -> tuple[list[_Asked], list[int]]:
    """The shots to send, in time order, and the indices of those left out: the `max_shots`
    longest (ties: the earlier), or all."""
    if max_shots is None or len(asked) <= max_shots:
        return asked, []
    ranked = sorted(asked, key=lambda a: (-(a.item["end_time"] - a.item["start_time"]), a.item["index"]))
    kept = sorted(ranked[:max_shots], key=lambda a: a.item["index"])
    return kept, sorted(a.item["index"] for a in ranked[max_shots:])


def _record(asked: Sequence[_Asked], answers: Sequence, field: str, task: str) -> int:
    """Write each generated answer into its item's `field` (failures into `vlm_error[task]`); the failures."""
    failed = 0
    for item, answer in zip(asked, answers):
        if isinstance(answer, Failed):
            add_error(item.fields, task, answer.error)
            failed += 1
        else:
            item.fields[field] = answer.text.strip()
    return failed


def add_error(entry: dict[str, Any], task: str, error: str) -> None:
    """Record why `task` has no answer for this shot or trigger, beside the other tasks' errors."""
    entry["vlm_error"] = {**(entry["vlm_error"] or {}), task: error}

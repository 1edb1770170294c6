"""The vision-language stage of `engine-run`: opened once per run, then per video it keeps frames
during the decode (`video`) and afterwards asks the model about the key shots and the triggers
(`annotate`), writing the answers into the result document.

Only key shots and triggers reach the model. `--vlm-max-shots N` keeps the N longest shots that
have a frame (the most screen time per request; ties go to the earlier shot) and lists the
others in `vlm.shots.skipped`. Prompts go to the backend `prompts_per_call` at a time, so only
that many shots' images are in memory. Every answer passes through the answer cache, so a rerun
with the same inputs costs no requests. A failed answer is recorded on its shot or trigger
(`vlm_error`) and counted in `vlm.failed`; it never stops the run.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from filmline.engine.cli_support import notice
from filmline.engine.progress import CountProgress
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
    """One shot or trigger going to the model: where its answer goes, and how to load its images."""

    entry: dict[str, Any]
    frames: list[int]
    load: Callable[[], tuple[np.ndarray, ...]]


class VlmStage:
    def __init__(self, options: VlmOptions, config: VlmConfig, backend: VlmBackend | None, skip_reason: str | None,
                 *, elsewhere: bool = False) -> None:
        self.options = options
        self.config = config
        # the model runs in another process (a library's caption actors): this stage only keeps the
        # frames, `kept` names their folder after each video, and `annotate_kept` runs there
        self.elsewhere = elsewhere
        self.kept: Path | None = None
        self.inner = backend
        self.backend = CachedVlm(backend, AnswerCache()) if backend is not None else None
        self.skip_reason = skip_reason
        self._count = token_counter(backend) if backend is not None else None
        self._frames: VlmFrames | None = None
        self._progress: bool | None = None

    @classmethod
    def open(cls, options: VlmOptions, config: VlmConfig, models: dict[str, Any]) -> "VlmStage":
        """Load the model (or note why the stage is off) and record it in the result's `models`."""
        if options.backend is None:
            if options.explicit:
                return cls(options, config, None, "disabled with --vlm none")
            reason = "off by default (action labels, captions, trigger descriptions)"
            models["skipped"].append({"stage": "vlm", "reason": reason, "fix": ENABLE_HINT})
            return cls(options, config, None, f"{reason}; no --vlm backend given")
        from filmline.engine.vlm import open_backend

        backend = open_backend(options, config)
        models["vlm"] = backend.describe()
        return cls(options, config, backend, None)

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend.cache.close()

    @contextmanager
    def video(self, out_dir: Path, stem: str, fps: float, trigger_fps: float | None) -> Iterator[list]:
        """Frame taps for one video's decode; the kept frames are deleted when the block ends."""
        tasks = self.options.tasks
        rates = {fps} if any(t in tasks for t in SHOT_TASKS) else set()
        if trigger_fps is not None and "triggers" in tasks:
            rates.add(trigger_fps)
        self.kept = None
        if (self.backend is None and not self.elsewhere) or not rates:
            yield []
            return
        self._frames = VlmFrames(out_dir, stem, self.config.image_width, self.config.jpeg_quality)
        try:
            yield [self._frames.tap(rate) for rate in sorted(rates)]
            if self.elsewhere:
                self._frames.close()
                self.kept = self._frames.folder
        finally:
            if self.kept is None:
                self._frames.discard()
            self._frames = None

    def annotate_kept(self, document: dict[str, Any], out_dir: Path, folder: Path | None) -> None:
        """`annotate` on the frames another process kept in `folder` (`elsewhere`), deleted after."""
        self._frames = VlmFrames(out_dir, "", self.config.image_width, self.config.jpeg_quality, folder=folder)
        try:
            self.annotate(document)
        finally:
            self._frames.discard()
            self._frames = None

    def annotate(self, document: dict[str, Any], *, progress: bool | None = None) -> None:
        """Run the tasks on one video's result document (inside `video`) and write their fields."""
        if self.elsewhere:
            return
        document["summary"] = None
        document["action_profile"] = None
        if self.backend is None:
            document["vlm"] = {"status": "skipped", "reason": self.skip_reason}
            return
        started = time.perf_counter()
        requests_before, cache_before = dict(self.inner.stats), dict(self.backend.stats)
        self._progress = progress
        name = Path(document["video"]["path"]).name
        section: dict[str, Any] = {"status": "ran", "tasks": list(self.options.tasks), "failed": {}}
        if any(t in self.options.tasks for t in SHOT_TASKS):
            self._shots(document, name, section)
        if "triggers" in self.options.tasks:
            self._triggers(document, name, section)
        spent = time.perf_counter() - started
        section["requests"] = {key: value - requests_before.get(key, 0) for key, value in self.inner.stats.items()}
        section["cache"] = {key: value - cache_before.get(key, 0) for key, value in self.backend.stats.items()}
        section["failed_total"] = sum(section["failed"].values())
        if section["failed_total"]:
            notice(f"warning: {name}: {section['failed_total']} vision-language questions got no answer "
                f"({', '.join(f'{k} {v}' for k, v in section['failed'].items() if v)}); see vlm_error in the result")
        section["seconds"] = spent
        document["vlm"] = section
        timings = document["timings"]
        timings["vlm"] = spent
        timings["total"] += spent

    # -- key shots -------------------------------------------------------------------------

    def _shots(self, document: dict[str, Any], name: str, section: dict[str, Any]) -> None:
        shots, config, tasks = document["shots"], self.config, self.options.tasks
        asked: list[_Asked] = []
        without: list[int] = []
        for shot in shots:
            shot.update({"vlm_frames": None, "vlm_error": None})
            if "actions" in tasks:
                shot.update({"labels": None, "label_probabilities": None})
            if "captions" in tasks:
                shot["caption"] = None
            frames, load = shot_images(self._frames, shot, config.neighbours)
            if frames:
                asked.append(_Asked(shot, frames, load))
            else:
                without.append(shot["index"])
                add_error(shot, "frames", NO_FRAMES)
        asked, skipped = cap_shots(asked, self.options.max_shots)
        for item in asked:
            item.entry["vlm_frames"] = item.frames
        section["shots"] = {"total": len(shots), "sent": len(asked), "without_frames": without,
                            "skipped": skipped, "max_shots": self.options.max_shots,
                            "chosen_by": "longest first" if self.options.max_shots else "all with a frame"}
        section["failed"]["frames"] = len(without)
        if "actions" in tasks:
            self._actions(asked, name, section)
            document["action_profile"] = action_profile(shots, document["video"]["duration"], config.none_category,
                                                        minute_seconds=config.minute_seconds, sequences=config.sequences)
        if "captions" in tasks:
            answers = self._grouped(asked, f"{name} captions", "shot", lambda images, advance: describe(
                self.backend, config.caption_prompt, config.caption_generation, images, advance))
            section["failed"]["captions"] = _record(asked, answers, "caption", "caption")
            items = [timed_item(i.entry["start_time"], i.entry["end_time"], i.entry["caption"])
                     for i in asked if i.entry["caption"]]
            summary = summarise(self.backend, items, caption_summary_prompts(config), self._count)
            document["summary"] = summary.text
            section["summary"] = summary.report()
            section["failed"]["summary"] = summary.failed

    def _actions(self, asked: list[_Asked], name: str, section: dict[str, Any]) -> None:
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
            item.entry.update(result.fields())
            item.entry["label_method"] = used
            if result.error is not None:
                add_error(item.entry, "labels", result.error)
                failed += 1
        counts = {m: methods.count(m) for m in (SCORED, CONSTRAINED) if m in methods}
        section["actions"] = {"method": next(iter(counts)) if len(counts) == 1 else ("mixed" if counts else None),
                              "methods": counts, "exact_scores": self.inner.exact_scores,
                              "categories": list(self.config.categories), "threshold": self.config.label_threshold}
        section["failed"]["labels"] = failed

    # -- triggers --------------------------------------------------------------------------

    def _triggers(self, document: dict[str, Any], name: str, section: dict[str, Any]) -> None:
        triggers = document.get("triggers")
        if triggers is None:
            section["triggers"] = {"status": "skipped", "reason": "the trigger stage did not run (see models.skipped)"}
            return
        asked: list[_Asked] = []
        for trigger in triggers["triggers"]:
            frame, load = trigger_image(self._frames, trigger["frame_index"])
            trigger.update({"vlm_frame": frame, "vlm_error": None})
            if frame is None:
                add_error(trigger, "frames", "no frame of the video was kept")
            else:
                asked.append(_Asked(trigger, [frame], load))
        config = self.config
        answers = self._grouped(asked, f"{name} triggers", "trigger", lambda images, advance: describe(
            self.backend, config.trigger_prompt, config.trigger_generation, images, advance))
        unanswered = _record(asked, answers, "analysis", "analysis")
        failed = unanswered + len(triggers["triggers"]) - len(asked)
        items = [timed_item(i.entry["timestamp"], None, i.entry["analysis"]) for i in asked if i.entry["analysis"]]
        summary = summarise(self.backend, items, trigger_summary_prompts(config), self._count)
        triggers["video_summary"] = summary.text
        triggers["vlm"] = "ran"
        section["triggers"] = {"status": "ran", "analysed": len(asked) - unanswered, "summary": summary.report()}
        section["failed"]["triggers"] = failed
        section["failed"]["trigger_summary"] = summary.failed

    # -- shared ----------------------------------------------------------------------------

    def _grouped(self, asked: Sequence[_Asked], label: str, unit: str,
                 task: Callable[[list[tuple[np.ndarray, ...]], Callable[[int], None]], list]) -> list:
        """`task` over the items' images, `prompts_per_call` items at a time, with a progress bar."""
        answers: list = []
        size = self.config.prompts_per_call
        with CountProgress(label, len(asked), unit, enabled=self._progress) as bar:
            for start in range(0, len(asked), size):
                answers += task([item.load() for item in asked[start : start + size]], bar.advance)
        return answers


def cap_shots(asked: list[_Asked], max_shots: int | None) -> tuple[list[_Asked], list[int]]:
    """The shots to send, in time order, and the indices of those left out: the `max_shots`
    longest (ties: the earlier), or all."""
    if max_shots is None or len(asked) <= max_shots:
        return asked, []
    ranked = sorted(asked, key=lambda a: (-(a.entry["end_time"] - a.entry["start_time"]), a.entry["index"]))
    kept = sorted(ranked[:max_shots], key=lambda a: a.entry["index"])
    return kept, sorted(a.entry["index"] for a in ranked[max_shots:])


def _record(asked: Sequence[_Asked], answers: Sequence, field: str, task: str) -> int:
    """Write each generated answer into its entry's `field` (failures into `vlm_error[task]`); the failures."""
    failed = 0
    for item, answer in zip(asked, answers):
        if isinstance(answer, Failed):
            add_error(item.entry, task, answer.error)
            failed += 1
        else:
            item.entry[field] = answer.text.strip()
    return failed


def add_error(entry: dict[str, Any], task: str, error: str) -> None:
    """Record why `task` has no answer for this shot or trigger, beside the other tasks' errors."""
    entry["vlm_error"] = {**(entry["vlm_error"] or {}), task: error}

"""The videos of one `engine-run`: keep the results that are up to date, analyse the others one
by one (each result written as soon as its video is done), and, with `--series`, add the fields
that come from comparing the episodes once all are done.

`Ledger` remembers what is finished, so the summary table and the message after an interruption
say exactly what was kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from filmline.engine.cli_support import notice, say
from filmline.engine.errors import BadInputError
from filmline.engine.run_outputs import (
    finished_result,
    load_features,
    remove_unfinished,
    result_path,
    run_record,
    save_features,
)
from filmline.engine.run_settings import RunSettings
from filmline.engine.writers import Views, write_result

PROG = "engine-run"


class Ledger:
    """What the run has done so far, in the order the videos were given."""

    def __init__(self, videos: list[Path], out_dir: Path) -> None:
        self.out_dir = out_dir
        self._order = {video: i for i, video in enumerate(videos)}
        self._done: dict[Path, tuple[dict[str, Any], np.ndarray | None]] = {}
        self.kept: list[Path] = []  # up to date from an earlier run, not analysed again
        self.current: Path | None = None  # the video being analysed
        self.matching = False  # comparing the episodes (--series)
        self.failures = 0

    def finish(self, video: Path, document: dict[str, Any], features: np.ndarray | None, *, kept: bool = False) -> None:
        self._done[video] = (document, features)
        if kept:
            self.kept.append(video)
        self.current = None

    def update(self, video: Path, document: dict[str, Any]) -> None:
        """A finished video's result, rewritten (the series fields added)."""
        self._done[video] = (document, self._done[video][1])

    @property
    def done(self) -> list[tuple[Path, dict[str, Any], np.ndarray | None]]:
        return [(video, *self._done[video]) for video in sorted(self._done, key=self._order.__getitem__)]

    def rows(self) -> list[dict[str, Any]]:
        """The summary table's rows: every finished or kept video."""
        return [summary_row(video, document, self.out_dir, video in self.kept) for video, document, _ in self.done]

    def interrupted_message(self, series: bool) -> str:
        """What an interruption left, truthfully: kept results, and what was removed."""
        finished = [video.name for video, _, _ in self.done]
        kept = f"the results of {', '.join(finished)} are in {self.out_dir}" if finished else "no video was finished"
        if self.matching:
            return (f"interrupted while comparing the episodes; every episode's own result is in {self.out_dir}, "
                    "without the series fields: run the same command again to add them (no episode is decoded again)")
        if self.current is not None:
            message = f"interrupted during {self.current.name}, whose unfinished output was removed; {kept}"
        else:
            message = f"interrupted before any video was analysed; {kept}"
        if finished:
            message += " (a rerun keeps them and analyses the rest)"
        if finished and series:
            message += "; the series fields are added once every episode is done"
        return message


def build_transnetv2_once(say: Any) -> None:
    """Build the TransNetV2 artifact on first use (its weights are installed, so this needs no
    network): one note line, about a minute, once; later runs reuse it. The builder lives in the
    build package, reached by name through the registry (the engine never imports it)."""
    from filmline.engine import registry
    from filmline.engine.backends.opener import runtime_problem
    from filmline.engine.models.transnetv2 import load_transnetv2

    builder = registry.lookup("builder", "transnetv2")
    request = builder.BuildRequest("transnetv2", precision="fp16" if runtime_problem("tensorrt") is None else "fp32")
    if not builder.is_built(request):
        load_transnetv2()  # broken weights fail here, in one line, before the note
        say(f"note: building the TransNetV2 artifact in {request.target()} (once; about a minute) ...")
        builder.build(request)


def summary_row(video: Path, document: dict[str, Any], out_dir: Path, kept: bool) -> dict[str, Any]:
    return {
        "video": video.name,
        "frames": document["video"]["frame_count"],
        "duration": document["video"]["duration"],
        "shots": len(document["shots"]),
        "method": document["shot_detection"]["method"] + (" (kept)" if kept else ""),
        "seconds": document["timings"]["total"],
        "output": str(result_path(out_dir, video)),
    }


def skip_note(entry: dict[str, str]) -> str:
    """One short line for a stage that did not run: what is missing and how to enable it."""
    return f"note: {entry['stage']} skipped: {entry['reason']}; enable with {entry['fix']}"


@dataclass(frozen=True)
class CaptionJob:
    """A video analysed by a library's analysis actor, for a caption actor to finish: the stages'
    sections, the run record, the seconds spent so far and the folder of the frames kept."""

    sections: Any  # engine.sections.Sections, less the vision-language answers
    record: dict[str, Any]
    seconds: float
    frames: Path | None


class VideoRun:
    """The models of one run, opened once (only when some video needs analysing), and the
    analysis of each video."""

    def __init__(self, settings: RunSettings, views: Views, out_dir: Path, progress: bool | None,
                 ledger: Ledger, frame_progress: type | None = None, *, vlm_elsewhere: bool = False) -> None:
        from filmline.engine.progress import FrameProgress
        from filmline.engine.vlm.config import VlmConfig

        self.settings = settings
        self.views = views
        self.out_dir = out_dir
        self.progress = progress
        self.ledger = ledger
        self.vlm_config = VlmConfig.load(settings.vlm.config_path)  # a bad config fails before any work
        self.fingerprint = settings.fingerprint()
        self.series = settings.stages.series
        self.shots: Any = None  # engine.shot_stage.ShotStage, which runs the decode
        self.stages: list = []  # engine.stage.Stage, in the order they finish
        self.triggers: Any = None  # engine.extra_stages.TriggerStage
        self.vlm: Any = None  # engine.vlm.stage.VlmStage
        # --vlm on a library's caption actors: a video's frames are kept for them and its result is
        # theirs to write (`caption_job` after each video)
        self.vlm_elsewhere = vlm_elsewhere and settings.vlm.backend is not None
        self.caption_job: CaptionJob | None = None
        self.opened = False
        # the decode's progress: the console bar, or what a caller watches (engine-serve's jobs)
        self.frame_progress = frame_progress or FrameProgress

    def __enter__(self) -> "VideoRun":
        return self

    def __exit__(self, *exc: object) -> None:
        for stage in self.stages:
            stage.close()

    def analyse(self, videos: list[Path], *, force: bool) -> None:
        """Keep the up-to-date results (unless `force`), then analyse the rest, one result each."""
        todo = []
        for video in videos:
            document = None if force else finished_result(self.out_dir, video, self.fingerprint, series=self.series)
            if document is None:
                todo.append(video)
                continue
            features = load_features(self.out_dir, video) if self.series else None
            write_result(document, self.out_dir, video.stem, self.views, keep_existing=True)
            self.ledger.finish(video, document, features, kept=True)
            notice(f"note: {video.name}: skipped, {result_path(self.out_dir, video)} is up to date "
                   "(same file, same settings); --force analyses it again")
        readable = self._readable(todo)
        if not readable:
            return
        self.open_models()
        for video in readable:
            self.ledger.current = video
            try:
                document, features = self.analyse_one(video)
            except BadInputError as err:
                say(f"{PROG}: {err}")
                self.ledger.failures += 1
                self.ledger.current = None
                continue
            self.ledger.finish(video, document, features)

    def analyse_into(self, video: Path, out_dir: Path) -> dict[str, Any]:
        """One video into `out_dir`, errors raised; the models stay open for the next call
        (engine-serve's worker runs its jobs through one VideoRun per settings)."""
        self.out_dir = self.ledger.out_dir = out_dir
        self.open_models()
        document, _ = self.analyse_one(video)
        return document

    def _readable(self, videos: list[Path]) -> list[Path]:
        """The videos a decoder opens; bad files fail in a second, before any model loads."""
        from filmline.engine.decode import open_decoder  # heavy: PyAV

        readable: list[Path] = []
        fallbacks: set[str] = set()  # why NVDEC could not decode a video: said once per reason
        for video in videos:
            try:
                open_decoder(video, self.settings.decoder, sessions=self.settings.decode_sessions,
                             on_fallback=fallbacks.add).close()
                readable.append(video)
            except BadInputError as err:
                say(f"{PROG}: {err}")
                self.ledger.failures += 1
        for reason in sorted(fallbacks):
            notice(f"note: decoding with PyAV: {reason}")
        return readable

    def use_settings(self, settings: RunSettings) -> None:
        """Analyse the next videos with `settings`, keeping the open models: only for settings of
        the same `models_key` (engine-serve's jobs that differ in --fps, thresholds or decoder)."""
        if models_key(settings) != models_key(self.settings):
            raise ValueError("use_settings needs settings that open the same models; open a new VideoRun")
        self.settings, self.fingerprint = settings, settings.fingerprint()
        if self.opened:
            from filmline.engine.shot_stage import DecodeOptions

            self.shots.use_settings(settings.shots, DecodeOptions.of(settings))
            self.triggers.use_options(settings.stages)
            self.vlm.use_rates(settings.shots.fps, self.triggers.fps)

    def open_models(self) -> None:
        """The stages of the run, each opened once: shots, triggers, objects, intro, series features, VLM."""
        from filmline.engine.extra_stages import open_extra_stages
        from filmline.engine.model_setup import cheap_detector, open_encoder, open_shot_model
        from filmline.engine.objects_stage import ObjectsStage
        from filmline.engine.sections import ModelReport
        from filmline.engine.shot_stage import DecodeOptions, ShotStage
        from filmline.engine.vlm.stage import VlmStage

        if self.opened:
            return
        s = self.settings
        encoder, encoder_models = open_encoder(s.model, s.backend, s.weights, s.batch_size, s.precision)
        triggers, intro, series = open_extra_stages(s.stages, encoder)
        if self.vlm_elsewhere:
            vlm = VlmStage.keeper(s.vlm, self.vlm_config, fps=s.shots.fps, trigger_fps=triggers.fps)
        else:
            vlm = VlmStage.open(s.vlm, self.vlm_config, fps=s.shots.fps, trigger_fps=triggers.fps,
                                progress=self.progress)  # a missing model fails here, before decoding
        detector = cheap_detector(s.detector, notice)
        shot_model = None
        if detector is None:
            build_transnetv2_once(notice)
            shot_model, detector = open_shot_model()
        models = ModelReport({**encoder_models.entries, "shot_detector": detector}, encoder_models.skipped)
        self.shots = ShotStage(s.shots, encoder, shot_model, models, DecodeOptions.of(s))
        self.triggers, self.vlm = triggers, vlm  # the stages whose settings `use_settings` changes
        objects = ObjectsStage.open() if triggers.detector is not None else None  # on trigger frames
        self.stages = [self.shots, triggers, *([objects] if objects else []), intro, *([series] if series else []), vlm]
        self.opened = True
        for stage in self.stages:
            for skipped in stage.models.skipped:
                asked = skipped.stage == "encoder" and s.backend == "none"  # asked for: no need to tell
                told_later = skipped.stage == "intro" and self.series  # once the episodes are compared
                if not (asked or told_later):
                    notice(skip_note(skipped.to_json()))

    def analyse_one(self, video: Path) -> tuple[dict[str, Any], np.ndarray | None]:
        """Analyse one video and write its result; on any failure after its key frames were put
        in place, they are removed again."""
        from filmline.engine.document import build_document
        from filmline.engine.stage import VideoStart, finish_stages

        started = time.perf_counter()
        record = run_record(video, self.fingerprint)
        start = VideoStart(video, self.out_dir)
        try:
            taps = [tap for stage in self.stages for tap in stage.start_video(start)]
            with self.frame_progress(video.name, enabled=self.progress) as bar:
                analysis = self.shots.decode(taps, on_open=bar.start, on_frames=bar.advance)
            try:
                if analysis.truncated:
                    notice(f"warning: {video} looks truncated; the result covers its first {analysis.end_seconds:.1f} s")
                done = finish_stages(self.stages)
                seconds = time.perf_counter() - started
                document = build_document(video, done, record, seconds)
                features = done.series_features.features if done.series_features is not None else None
                if features is not None:
                    save_features(self.out_dir, video, features)
                if self.vlm_elsewhere:
                    self.caption_job = CaptionJob(done, record, seconds, self.vlm.kept)
                else:
                    write_result(document, self.out_dir, video.stem, self.views)
            except BaseException:
                remove_unfinished(self.out_dir, video)
                raise
        finally:
            for stage in self.stages:
                stage.end_video()
        return document, features


def models_key(settings: RunSettings) -> str:
    """What decides the models a VideoRun opens: its settings less those only the analysis reads
    (shot and key-frame settings, the trigger rate and threshold, the decoder)."""
    opening = replace(
        settings, shots=None, decoder="", decode_sessions=None, allow_truncated=False,
        stages=replace(settings.stages, trigger_fps=None, trigger_threshold=None))
    return opening.fingerprint()


def match_episodes(ledger: Ledger, views: Views) -> None:
    """`--series`: the intro and credits recurring across the finished episodes, added to each
    result (rewritten atomically), and a note on where the intro came from."""
    from filmline.engine.document import with_series
    from filmline.engine.extra_stages import match_series

    episodes = ledger.done
    widths = {features.shape[1] for _, _, features in episodes}
    if len(widths) > 1:  # kept episodes were compared on another model's features than the new ones
        raise BadInputError(
            f"the episodes' saved features ({ledger.out_dir}/*.series.npy) come from different models "
            f"({' vs '.join(map(str, sorted(widths)))} values per second); "
            "run again with --force to analyse every episode alike"
        )
    ledger.matching = True
    sections = match_series([features for _, _, features in episodes])
    documents = []
    for (video, document, _), series in zip(episodes, sections):
        documents.append(with_series(document, series))
        write_result(documents[-1], ledger.out_dir, video.stem, views)
        ledger.update(video, documents[-1])
    ledger.matching = False
    intro_skipped = next((s for d in documents for s in d["models"]["skipped"] if s["stage"] == "intro"), None)
    if intro_skipped is not None:
        found = sum(1 for d in documents if (d.get("intro") or {}).get("method") == "cross_episode")
        if found:
            notice(f"note: intro found by comparing the episodes ({found} of {len(documents)}), without an intro model")
        else:
            notice(skip_note(intro_skipped))

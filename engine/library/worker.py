"""The library's actors. The analysis actor: a `VideoRun` whose models are opened once, in the
actor's process (which also decodes: NVDEC on its GPU), then one film at a time, its result
written into the output folder by the actor as soon as it is done. With --vlm in its own pool,
the analysis actor keeps the film's frames and hands its result to a caption actor, which holds
the vision-language model, adds the answers and writes the result."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from filmline.engine.errors import EngineError
from filmline.engine.run_settings import RunSettings
from filmline.engine.writers import Views


CAPTIONING = "captioning"  # an analysis actor's film waiting for a caption actor


class AnalysisWorker:
    """Made a Ray actor by the runner (`ray.remote(AnalysisWorker)`), so this module needs no Ray."""

    def __init__(self, settings: RunSettings, views: Views, out_dir: Path, vlm_elsewhere: bool) -> None:
        from filmline.engine.cli_support import set_quiet
        from filmline.engine.video_run import Ledger, VideoRun

        set_quiet(True)  # the driver tells the user what happened; an actor's notes would go to Ray's logs
        self.out_dir = out_dir
        self.failure: EngineError | None = None
        self.video_run = VideoRun(settings, views, out_dir, False, Ledger([], out_dir), vlm_elsewhere=vlm_elsewhere)
        try:
            self.video_run.open_models()
        except EngineError as err:  # handed to the driver by `ready`, which stops the run with it
            self.failure = err
        import filmline.engine.pipeline  # noqa: F401  (seconds of imports the first film would pay, while Ray starts the others)

    def ready(self) -> tuple[int, EngineError | None]:
        """This actor's process id (the journal names who holds a film) and why it cannot work."""
        return os.getpid(), self.failure

    def analyse(self, video: str) -> dict[str, Any]:
        """One film: `{"state": "done", "row": ...}` or `{"state": "failed", "error": line}` for
        a film that cannot be analysed (bad input is not retried; a dead worker is, by the driver),
        or, with the captions elsewhere, `{"state": "captioning", "job": video_run.CaptionJob}`."""
        from filmline.engine.video_run import summary_row

        path = Path(video)
        try:
            document, _ = self.video_run.analyse_one(path)
        except EngineError as err:
            return {"state": "failed", "error": str(err), "worker_pid": os.getpid()}
        if self.video_run.vlm_elsewhere:
            return {"state": CAPTIONING, "job": self.video_run.caption_job, "worker_pid": os.getpid()}
        return {"state": "done", "row": summary_row(path, document, self.out_dir, False), "worker_pid": os.getpid()}

    def match_series(self, episodes: list[str]) -> dict[str, Any]:
        """`--series`: the cross-episode pass over one folder's finished episodes, their results
        rewritten with the intro and credits found; the outcome as `analyse` gives it."""
        from filmline.engine.run_outputs import finished_result, load_features
        from filmline.engine.stages.series import KINDS
        from filmline.engine.video_run import Ledger, match_episodes

        paths = [Path(e) for e in episodes]
        ledger = Ledger(paths, self.out_dir)
        for path in paths:
            document = finished_result(self.out_dir, path, self.video_run.fingerprint, series=True)
            if document is None:
                return {"state": "failed", "worker_pid": os.getpid(),
                        "error": f"{path}: its result or features in {self.out_dir} are missing or out of date; "
                                 "run again to analyse it and compare the episodes"}
            ledger.finish(path, document, load_features(self.out_dir, path))
        try:
            match_episodes(ledger, self.video_run.views)
        except EngineError as err:
            return {"state": "failed", "error": str(err), "worker_pid": os.getpid()}
        documents = [document for _, document, _ in ledger.done]
        found = {kind: sum(1 for d in documents if (d.get(kind) or {}).get("method") == "cross_episode")
                 for kind in KINDS}
        return {"state": "done", "row": {"episodes": len(paths), **found}, "worker_pid": os.getpid()}


class CaptionWorker:
    """The vision-language model in its own actor (`vlm` in configs/library.yaml): it answers
    for films an analysis actor has decoded, from the frames that actor kept, and writes their results."""

    def __init__(self, settings: RunSettings, views: Views, out_dir: Path) -> None:
        from filmline.engine.cli_support import set_quiet
        from filmline.engine.vlm.config import VlmConfig
        from filmline.engine.vlm.stage import VlmStage

        set_quiet(True)
        self.views = views
        self.out_dir = out_dir
        self.failure: EngineError | None = None
        config = VlmConfig.load(settings.vlm.config_path)
        try:
            # the rates matter only to the frame taps, which run in the analysis actor
            self.stage = VlmStage.open(settings.vlm, config, fps=settings.shots.fps, trigger_fps=None)
        except EngineError as err:  # a model that cannot be loaded: handed to the driver by `ready`
            self.failure = err

    def ready(self) -> tuple[int, EngineError | None]:
        return os.getpid(), self.failure

    def caption(self, video: str, job: Any) -> dict[str, Any]:
        """The answers for a film an analysis actor kept the frames of (`job`: its
        `video_run.CaptionJob`); its result is written now; the outcome as `analyse` gives it."""
        from filmline.engine.document import build_document
        from filmline.engine.run_outputs import remove_unfinished
        from filmline.engine.stage import VideoStart
        from filmline.engine.video_run import summary_row
        from filmline.engine.writers import write_result

        path = Path(video)
        try:
            section = self.stage.finish_kept(job.sections, VideoStart(path, self.out_dir), job.frames)
            document = build_document(path, job.sections.adding(section), job.record, job.seconds + section.seconds)
            write_result(document, self.out_dir, path.stem, self.views)
        except EngineError as err:
            remove_unfinished(self.out_dir, path)  # its key frames, put in place by the analysis actor
            return {"state": "failed", "error": str(err), "worker_pid": os.getpid()}
        return {"state": "done", "row": summary_row(path, document, self.out_dir, False), "worker_pid": os.getpid()}

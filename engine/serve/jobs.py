"""The service's jobs: kept in a small SQLite database in the service's folder (so jobs and results
survive a restart) and run one at a time by one worker thread through `VideoRun`, the runner
`engine-run` uses. Models stay open between jobs whose settings open the same models (they may
differ in fps, thresholds or decoder: `video_run.models_key`)."""

from __future__ import annotations

import json
import queue
import shutil
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

# Settings a request may give: engine-run's options that change the analysis, by their long names
# with underscores (filmline.analyze's form). Paths (--config, --weights, --out) are not among them.
SETTINGS = ("fps", "detector", "threshold", "min_shot", "trigger_fps", "trigger_threshold", "triggers",
            "intro", "backend", "model", "vlm", "vlm_model", "vlm_url", "vlm_tasks", "vlm_max_shots")
STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")


class Cancelled(BaseException):
    """Raised from the decode's progress callback when the job was cancelled (a BaseException, so
    the runner's cleanup runs and no `except Exception` swallows it)."""


def run_args(video: Path, out_dir: Path, settings: dict[str, Any]):
    """engine-run's parsed options for one job; an unknown or bad setting raises BadInputError."""
    from filmline._analyze import _engine_run_args
    from filmline.engine import cli
    from filmline.engine.errors import BadInputError

    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise BadInputError(f"unknown setting {', '.join(unknown)}; valid settings: {', '.join(SETTINGS)}")
    return _engine_run_args(cli.build_parser(), video, out_dir, {**settings, "progress": False})


class JobStore:
    """The jobs table. Every method takes the lock: the worker and the request threads share it."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._lock = threading.Lock()
        self._db = sqlite3.connect(folder / "jobs.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, path TEXT, video TEXT, settings TEXT, "
            "state TEXT, frames_done INTEGER, frames_total INTEGER, error TEXT, created REAL, updated REAL)")

    def job_dir(self, job_id: str) -> Path:
        return self.folder / "jobs" / job_id

    def add(self, path: Path, video: str, settings: dict[str, Any]) -> dict[str, Any]:
        job_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self._lock:
            self._db.execute("INSERT INTO jobs VALUES (?, ?, ?, ?, 'queued', 0, NULL, NULL, ?, ?)",
                             (job_id, str(path), video, json.dumps(settings), now, now))
        return self.get(job_id)

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _as_job(row)

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY created DESC").fetchall()
        return [_as_job(row) for row in rows]

    def update(self, job_id: str, **fields: Any) -> None:
        names = ", ".join(f"{name} = ?" for name in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {names}, updated = ? WHERE id = ?", (*fields.values(), time.time(), job_id))

    def in_state(self, state: str) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT id FROM jobs WHERE state = ? ORDER BY created", (state,))]


def _as_job(row: sqlite3.Row) -> dict[str, Any]:
    job = dict(row)
    job["settings"] = json.loads(job["settings"])
    return job


class Worker:
    """One thread, one analysis at a time, from a queue of job ids."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self._queue: queue.Queue[str] = queue.Queue()
        self._cancel: dict[str, threading.Event] = {}
        self._runs: dict[str, Any] = {}  # models_key -> an open VideoRun (the last one only)
        for job_id in store.in_state("running"):  # the service stopped during these
            store.update(job_id, state="interrupted",
                         error=f"the service stopped during this job; POST /jobs/{job_id}/retry runs it again")
        for job_id in store.in_state("queued"):
            self.submit(job_id)
        threading.Thread(target=self._loop, name="engine-serve-worker", daemon=True).start()

    def submit(self, job_id: str) -> None:
        self._cancel[job_id] = threading.Event()
        self._queue.put(job_id)

    def cancel(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job is not None and job["state"] == "queued":
            self.store.update(job_id, state="cancelled")
        if job_id in self._cancel:
            self._cancel[job_id].set()

    def _loop(self) -> None:
        while True:
            job_id = self._queue.get()
            job = self.store.get(job_id)
            if job is None or job["state"] != "queued":
                continue
            self.store.update(job_id, state="running", frames_done=0, error=None)
            try:
                self._run(job_id, job)
                self.store.update(job_id, state="done")
            except Cancelled:
                self.store.update(job_id, state="cancelled")
            except Exception as err:  # noqa: BLE001  # a job's failure is its state, the service goes on
                from filmline.engine.errors import first_line

                self.store.update(job_id, state="failed", error=first_line(err, with_type=not _is_engine_error(err)))
            finally:
                self._cancel.pop(job_id, None)

    def _run(self, job_id: str, job: dict[str, Any]) -> None:
        from filmline.engine.cli_support import notice
        from filmline.engine.run_settings import build_run_settings
        from filmline.engine.video_run import Ledger, VideoRun, models_key
        from filmline.engine.writers import Views, parse_formats

        video = Path(job["path"])
        out_dir = self.store.job_dir(job_id)
        shutil.rmtree(out_dir, ignore_errors=True)  # a retry starts clean
        out_dir.mkdir(parents=True)
        args = run_args(video, out_dir, job["settings"])
        settings = build_run_settings(args)
        key = models_key(settings)
        if key not in self._runs:
            for run in self._runs.values():
                run.__exit__(None, None, None)
            notice(f"engine-serve: job {job_id} opens its models")
            self._runs = {key: VideoRun(settings, Views(parse_formats(args.format), args.chapters),
                                        out_dir, False, Ledger([video], out_dir))}
        run = self._runs[key]
        run.use_settings(settings)
        run.frame_progress = _progress_for(self.store, job_id, self._cancel[job_id])
        run.analyse_into(video, out_dir)


def _is_engine_error(err: BaseException) -> bool:
    from filmline.engine.errors import EngineError

    return isinstance(err, EngineError)


def _progress_for(store: JobStore, job_id: str, cancelled: threading.Event) -> type:
    """A FrameProgress-shaped class that records frames done / total in the job's row (at most a
    few times a second) and stops the decode once the job is cancelled."""

    class JobProgress:
        def __init__(self, label: str, *, enabled: bool | None) -> None:
            self.done = 0
            self.written = 0.0

        def start(self, info: Any) -> None:
            total = info.frame_count
            if total is None and info.duration_seconds and info.average_fps:
                total = int(info.duration_seconds * float(info.average_fps))
            store.update(job_id, frames_total=total)

        def advance(self, frames: int) -> None:
            if cancelled.is_set():
                raise Cancelled()
            self.done += frames
            if time.monotonic() - self.written > 0.2:
                self.written = time.monotonic()
                store.update(job_id, frames_done=self.done)

        def __enter__(self) -> "JobProgress":
            return self

        def __exit__(self, *exc: object) -> None:
            if exc[0] is None:
                store.update(job_id, frames_done=self.done)

    return JobProgress

"""A library on Ray: plan from the journal (skip done films whose file and settings match),
hand films to idle analysis actors, retry a film whose worker died on another actor, record each
change in the journal, show progress across the library and end with a summary table. With
`--series`, each folder's cross-episode pass is a job too, queued once its episodes have settled
(`library.series`). With --vlm, a film decoded and analysed goes on to a pool of caption actors
(unless configs/library.yaml sets `vlm.actors: 0`), and its analysis actor takes the next film.

Ray does the scheduling and placement; this module only keeps one film per actor in flight, so
a film goes to whichever actor is idle next and a dead actor costs one film's attempt.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filmline.engine.cli_support import notice, say
from filmline.engine.config import read_config
from filmline.engine.errors import BadInputError, first_line
from filmline.engine.library.cluster import Placement, joined, ray_address
from filmline.engine.library.journal import DONE, FAILED, RUNNING, Journal, identity, library_lock
from filmline.engine.library.series import Season, Seasons, pass_identity
from filmline.engine.library.worker import CAPTIONING, AnalysisWorker, CaptionWorker
from filmline.engine.run_outputs import features_path, remove_unfinished, result_path
from filmline.engine.run_settings import RunSettings
from filmline.engine.timecode import timecode
from filmline.engine.writers import Views

PROG = "engine-run"


@dataclass
class Tally:
    """The library's state for progress lines and the summary table."""

    total: int
    started: float = field(default_factory=time.monotonic)
    working_since: float | None = None  # the actors' models open: rates and ETA leave Ray's start-up out
    rows: dict[Path, dict[str, Any]] = field(default_factory=dict)  # per film: state, attempts, shots, ...
    passes: dict[Path, dict[str, Any]] = field(default_factory=dict)  # per folder (--series): its pass's state
    frames: int = 0  # decoded in this run, for frames/s over the cluster
    finished_here: int = 0

    def count(self, state: str) -> int:
        return sum(1 for row in self.rows.values() if row["state"] == state)

    def line(self, running: int) -> str:
        done, failed = self.count(DONE), self.count(FAILED)
        elapsed = time.monotonic() - (self.working_since or self.started)
        left = self.total - done - failed
        eta = ""
        if self.finished_here and left:
            eta = f", ETA {timecode(elapsed / self.finished_here * left, 'never')}"
        rate = f", {self.frames / elapsed:.0f} frames/s" if elapsed > 0 and self.frames else ""
        return f"[{done}/{self.total} done, {failed} failed, {running} running{rate}{eta}]"


def run_library(args: argparse.Namespace, settings: RunSettings, views: Views, out_dir: Path,
                videos: list[Path], missing: int) -> int:
    """Analyse `videos` on Ray into `out_dir`; the exit code is non-zero when any film failed."""
    config = read_config("library.yaml")
    max_attempts = args.max_attempts or config["max_attempts"]
    if max_attempts < 1:
        raise BadInputError(f"--max-attempts {max_attempts}: a film needs at least one attempt; pass 1 or more")
    fingerprint = settings.fingerprint()
    seasons = Seasons.of(videos) if settings.stages.series else None
    with library_lock(out_dir):
        journal = Journal(out_dir)
        tally = Tally(total=len(videos))
        identities: dict[Path, dict[str, Any]] = {}
        todo: list[Path] = []
        for video in videos:
            ident = identities[video] = identity(video, content_hash=args.hash)
            entry = journal.entry(video)
            same = entry is not None and entry["identity"] == ident and entry["settings_hash"] == fingerprint
            if same and not args.force and entry["state"] == DONE and _outputs_in_place(out_dir, video, seasons):
                tally.rows[video] = {**entry, "note": "kept"}
            elif same and not args.force and entry["state"] == FAILED and not args.retry_failed:
                tally.rows[video] = {**entry, "note": "failed before; --retry-failed tries again"}
            else:
                todo.append(video)
                if seasons is not None:
                    seasons.of_episode(video).analysed_here = True
        if len(todo) < len(videos):
            notice(f"note: {len(videos) - len(todo)} of {len(videos)} films kept from the journal "
                   f"({journal.path.name}: same file, same settings); --force analyses them again")
        run = _Run(settings, views, out_dir, journal, tally, fingerprint, max_attempts, identities, seasons)
        passes = seasons.ready(tally.rows, journal, identities, fingerprint) if seasons is not None else []
        interrupted = False
        if todo or passes:
            with joined(args.workers, ray_address(args), config, settings.vlm.backend) as (ray, placement):
                interrupted = run.dispatch(ray, placement, todo, passes)
    if not args.quiet:
        _print_summary(tally, out_dir)
    if interrupted:
        return 130
    failed = tally.count(FAILED) + sum(1 for row in tally.passes.values() if row["state"] == FAILED)
    return BadInputError.exit_code if (missing or failed) else 0


def _outputs_in_place(out_dir: Path, video: Path, seasons: Seasons | None) -> bool:
    """A done film's result is still there (and, with --series, the features its pass reads)."""
    return result_path(out_dir, video).is_file() and (seasons is None or features_path(out_dir, video).is_file())


@dataclass
class _Run:
    """One library run's jobs on the actors: films, and with --series each folder's pass."""

    settings: RunSettings
    views: Views
    out_dir: Path
    journal: Journal
    tally: Tally
    fingerprint: str
    max_attempts: int
    identities: dict[Path, dict[str, Any]]  # films by file, folders' passes by the episodes compared
    seasons: Seasons | None
    attempts: dict[Path, int] = field(default_factory=dict)
    queue: deque = field(default_factory=deque)  # films and folders (a pass) waiting for an actor
    passes: dict[Path, Season] = field(default_factory=dict)  # the folders queued for their pass
    captions: deque = field(default_factory=deque)  # (film, its video_run.CaptionJob) for a caption actor

    def dispatch(self, ray: Any, placement: Placement, films: list[Path], passes: list[Season]) -> bool:
        """Run the films and passes on the actors; True when interrupted (Ctrl-C)."""
        self.queue.extend(films)
        for season in passes:
            self._queue_pass(season)
        shared = (self.settings, self.views, self.out_dir)
        analysers = _Pool(ray, AnalysisWorker, placement.worker, (*shared, placement.captioners > 0))
        captioners = _Pool(ray, CaptionWorker, placement.captioner, shared)
        pending: dict[Any, tuple[Any, Path]] = {}
        try:
            analysers.start(min(placement.workers, len(self.queue)))
            captioners.start(placement.captioners if films else 0)
            self.tally.working_since = time.monotonic()
            while self.queue or self.captions or pending:
                while self.captions and captioners.idle:
                    actor, (video, caption_job) = captioners.idle.pop(), self.captions.popleft()
                    self.record(video, RUNNING, stage=CAPTIONING, worker_pid=captioners.pids[actor])
                    pending[actor.caption.remote(str(video), caption_job)] = (actor, video)
                while self.queue and analysers.idle:
                    actor, job = analysers.idle.pop(), self.queue.popleft()
                    self.attempts[job] = self.attempts.get(job, 0) + 1
                    self.record(job, RUNNING, worker_pid=analysers.pids[actor])
                    if job in self.passes:
                        episodes = [str(e) for e in self.passes[job].done_episodes(self.tally.rows)]
                        pending[actor.match_series.remote(episodes)] = (actor, job)
                    else:
                        pending[actor.analyse.remote(str(job))] = (actor, job)
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)  # short: Ctrl-C is felt at once
                for ref in ready:
                    actor, job = pending.pop(ref)
                    pool = captioners if actor in captioners.pids else analysers
                    if self._settle(ray, ref, job, running=len(pending)):
                        pool.idle.append(actor)
                    else:  # its process died: a new actor takes its place
                        pool.pids.pop(actor, None)
                        pool.start(1)
                if self.seasons is not None:
                    for season in self.seasons.ready(self.tally.rows, self.journal, self.identities, self.fingerprint):
                        self._queue_pass(season)
        except KeyboardInterrupt:
            for actor, job in pending.values():
                ray.kill(actor)
            unfinished = [job for _, job in pending.values()] + [video for video, _ in self.captions]
            for job in unfinished:
                self._clear_attempt(job)
            running = ", ".join(job.name for job in unfinished)
            say(f"{PROG}: interrupted; {self.tally.count(DONE)} films done are in {self.out_dir}"
                + (f"; {running} {'was' if len(unfinished) == 1 else 'were'} in progress (the journal says so; "
                   "unfinished output was removed)" if running else "")
                + "; a rerun analyses only the films not done")
            return True
        return False

    def _queue_pass(self, season: Season) -> None:
        self.passes[season.folder] = season
        self.identities[season.folder] = pass_identity(season, self.tally.rows, self.identities)
        self.queue.append(season.folder)

    def record(self, job: Path, state: str, /, **extra: Any) -> None:
        self.journal.record(job, state, identity=self.identities[job], settings_hash=self.fingerprint,
                            attempts=self.attempts[job], **extra)
        rows = self.tally.passes if job in self.passes else self.tally.rows
        rows[job] = self.journal.entry(job) | extra

    def _settle(self, ray: Any, ref: Any, job: Path, *, running: int) -> bool:
        """One job's outcome into the journal: done, failed (bad input: at once), or retried when
        its worker died and attempts are left. False when the worker died."""
        attempt = self.attempts[job]
        try:
            outcome = ray.get(ref)
        except ray.exceptions.RayActorError as err:
            self._clear_attempt(job)
            if attempt < self.max_attempts:
                self.record(job, RUNNING, retry=f"worker died ({first_line(err)[:120]}); trying again")
                self.queue.appendleft(job)
                notice(f"note: {job.name}: its worker died; trying again on another ({attempt} of {self.max_attempts} attempts)")
            else:
                self.record(job, FAILED, error=f"its worker died {attempt} times; the film may crash the decoder or exhaust memory")
                say(f"{PROG}: {job.name}: failed, its worker died {attempt} times")
            return False
        except ray.exceptions.RayTaskError as err:  # a bug in the engine: recorded with its message, not retried
            outcome = {"state": FAILED, "error": first_line(err.cause if err.cause is not None else err, with_type=True)}
        if outcome["state"] == CAPTIONING:  # decoded and analysed: on to a caption actor
            self.captions.append((job, outcome["job"]))
            return True
        self.tally.finished_here += job not in self.passes
        if outcome["state"] != DONE:
            self.record(job, FAILED, error=outcome["error"], worker_pid=outcome.get("worker_pid"))
            say(f"{PROG}: {outcome['error']}")
            return True
        row = outcome["row"]
        self.record(job, DONE, worker_pid=outcome["worker_pid"], **row)
        if job in self.passes:
            notice(f"{PROG}: {job.name}: {row['episodes']} episodes compared: {_found(row)}")
        else:
            self.tally.frames += row["frames"]
            notice(f"{PROG}: {self.tally.line(running)} {job.name} done: {row['shots']} shots")
        return True

    def _clear_attempt(self, job: Path) -> None:
        """What a killed attempt left: a film's key-frame folder and the temporary files of its
        atomic writes (renamed into place only when whole, so never a result); a pass's temporary
        files of the episodes it was rewriting."""
        if job in self.passes:
            for episode in self.passes[job].episodes:
                _remove_temporary(self.out_dir, episode)
            return
        remove_unfinished(self.out_dir, job)
        _remove_temporary(self.out_dir, job)
        for frames in self.out_dir.glob(f".{job.stem}.vlm-frames.*"):  # kept for a caption actor
            shutil.rmtree(frames, ignore_errors=True)


class _Pool:
    """The actors of one kind: started with the same arguments, each idle or busy."""

    def __init__(self, ray: Any, kind: type, resources: dict[str, float], arguments: tuple) -> None:
        self.ray = ray
        self.actor_class = ray.remote(kind).options(**resources, max_restarts=0)
        self.arguments = arguments
        self.pids: dict[Any, int] = {}
        self.idle: list[Any] = []

    def start(self, count: int) -> None:
        actors = [self.actor_class.remote(*self.arguments) for _ in range(count)]
        for actor, (pid, failure) in zip(actors, self.ray.get([a.ready.remote() for a in actors])):
            if failure is not None:
                raise failure  # a missing model, say: every actor would fail alike
            self.pids[actor] = pid
            self.idle.append(actor)


def _remove_temporary(out_dir: Path, video: Path) -> None:
    for temporary in out_dir.glob(f".{video.stem}.*.tmp"):
        temporary.unlink(missing_ok=True)


def _found(row: dict[str, Any]) -> str:
    return f"intro in {row['intro']} of {row['episodes']}, credits in {row['credits']} of {row['episodes']}"

def _print_summary(tally: Tally, out_dir: Path) -> None:
    header = f"{'video':<28} {'state':<12} {'tries':>5} {'shots':>6} {'seconds':>8}  output / error"
    lines = [header, "-" * len(header)]
    for video, row in tally.rows.items():
        state = row["state"] + (" (kept)" if row.get("note") == "kept" else "")
        shots = row.get("shots", "")
        seconds = f"{row['seconds']:.1f}" if "seconds" in row else ""
        detail = str(result_path(out_dir, video)) if row["state"] == DONE else row.get("error", row.get("note", ""))
        lines.append(f"{video.name[:28]:<28} {state:<12} {row['attempts']:>5} {shots:>6} {seconds:>8}  {detail}")
    for folder, row in tally.passes.items():
        detail = _found(row) if row["state"] == DONE else row.get("error", "")
        lines.append(f"{(folder.name + '/ (series)')[:28]:<28} {row['state']:<12} {row['attempts']:>5} {'':>6} {'':>8}  {detail}")
    now = time.monotonic()
    rate = ""
    if tally.finished_here and tally.working_since is not None:
        rate = (f" ({tally.finished_here / (now - tally.started) * 3600:.0f} films/hour, "
                f"{tally.finished_here / (now - tally.working_since) * 3600:.0f} once the workers were up)")
    lines.append(f"{tally.count(DONE)} done, {tally.count(FAILED)} failed of {tally.total} in "
                 f"{timecode(now - tally.started, 'never')}{rate}")
    print("\n".join(lines), file=sys.stdout)

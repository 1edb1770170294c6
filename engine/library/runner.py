"""A library on Ray: plan from the journal (skip done films whose file and settings match),
hand films to idle analysis actors, retry a film whose worker died on another actor, record each
change in the journal, show progress across the library and end with a summary table.

Ray does the scheduling and placement; this module only keeps one film per actor in flight, so
a film goes to whichever actor is idle next and a dead actor costs one film's attempt.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filmline.engine.cli_support import notice, say
from filmline.engine.config import read_config
from filmline.engine.errors import BadInputError, first_line
from filmline.engine.library.cluster import joined, ray_address
from filmline.engine.library.journal import DONE, FAILED, RUNNING, Journal, identity, library_lock
from filmline.engine.library.worker import AnalysisWorker
from filmline.engine.run_outputs import remove_unfinished, result_path
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
    with library_lock(out_dir):
        journal = Journal(out_dir)
        tally = Tally(total=len(videos))
        todo: list[tuple[Path, dict[str, Any]]] = []
        for video in videos:
            ident = identity(video, content_hash=args.hash)
            entry = journal.entry(video)
            same = entry is not None and entry["identity"] == ident and entry["settings_hash"] == fingerprint
            if same and not args.force and entry["state"] == DONE and result_path(out_dir, video).is_file():
                tally.rows[video] = {**entry, "note": "kept"}
            elif same and not args.force and entry["state"] == FAILED and not args.retry_failed:
                tally.rows[video] = {**entry, "note": "failed before; --retry-failed tries again"}
            else:
                todo.append((video, ident))
        if len(todo) < len(videos):
            notice(f"note: {len(videos) - len(todo)} of {len(videos)} films kept from the journal "
                   f"({journal.path.name}: same file, same settings); --force analyses them again")
        interrupted = False
        if todo:
            with joined(args.workers, ray_address(args), config) as (ray, workers, resources):
                interrupted = _dispatch(ray, min(workers, len(todo)), resources, todo, settings, views, out_dir,
                                        journal, tally, fingerprint, max_attempts)
    if not args.quiet:
        _print_summary(tally, out_dir)
    if interrupted:
        return 130
    return BadInputError.exit_code if (missing or tally.count(FAILED)) else 0


def _dispatch(ray: Any, workers: int, resources: dict[str, float], todo: list[tuple[Path, dict[str, Any]]],
              settings: RunSettings, views: Views, out_dir: Path, journal: Journal, tally: Tally,
              fingerprint: str, max_attempts: int) -> bool:
    """Run `todo` on `workers` actors; True when interrupted (Ctrl-C)."""
    actor_class = ray.remote(AnalysisWorker).options(**resources, max_restarts=0)
    identities = dict(todo)
    attempts = {video: 0 for video, _ in todo}
    queue = deque(video for video, _ in todo)
    pids: dict[Any, int] = {}
    idle: list[Any] = []
    pending: dict[Any, tuple[Any, Path]] = {}

    def start_actors(count: int) -> None:
        actors = [actor_class.remote(settings, views, out_dir) for _ in range(count)]
        for actor, (pid, failure) in zip(actors, ray.get([a.ready.remote() for a in actors])):
            if failure is not None:
                raise failure  # a missing model, say: every actor would fail alike
            pids[actor] = pid
            idle.append(actor)

    def record(video: Path, state: str, /, **extra: Any) -> None:
        journal.record(video, state, identity=identities[video], settings_hash=fingerprint,
                       attempts=attempts[video], **extra)
        tally.rows[video] = journal.entry(video) | extra

    try:
        start_actors(workers)
        tally.working_since = time.monotonic()
        while queue or pending:
            while queue and idle:
                actor, video = idle.pop(), queue.popleft()
                attempts[video] += 1
                record(video, RUNNING, worker_pid=pids[actor])
                pending[actor.analyse.remote(str(video))] = (actor, video)
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)  # short: Ctrl-C is felt at once
            for ref in ready:
                actor, video = pending.pop(ref)
                _settle(ray, ref, actor, video, attempts[video], max_attempts, record, queue, idle, out_dir, tally,
                        running=len(pending))
                if actor not in idle:  # its process died: a new actor takes its place
                    pids.pop(actor, None)
                    start_actors(1)
    except KeyboardInterrupt:
        for actor, video in pending.values():
            ray.kill(actor)
            _clear_attempt(out_dir, video)
        running = ", ".join(video.name for _, video in pending.values())
        say(f"{PROG}: interrupted; {tally.count(DONE)} films done are in {out_dir}"
            + (f"; {running} were in progress (the journal says so; their unfinished output was removed)" if running else "")
            + "; a rerun analyses only the films not done")
        return True
    return False


def _settle(ray: Any, ref: Any, actor: Any, video: Path, attempt: int, max_attempts: int, record: Any,
            queue: deque, idle: list, out_dir: Path, tally: Tally, *, running: int) -> None:
    """One film's outcome into the journal: done, failed (bad input: at once), or retried when
    its worker died and attempts are left."""
    try:
        outcome = ray.get(ref)
    except ray.exceptions.RayActorError as err:
        _clear_attempt(out_dir, video)
        if attempt < max_attempts:
            record(video, RUNNING, retry=f"worker died ({first_line(err)[:120]}); trying again")
            queue.appendleft(video)
            notice(f"note: {video.name}: its worker died; trying again on another ({attempt} of {max_attempts} attempts)")
        else:
            record(video, FAILED, error=f"its worker died {attempt} times; the film may crash the decoder or exhaust memory")
            say(f"{PROG}: {video.name}: failed, its worker died {attempt} times")
        return
    except ray.exceptions.RayTaskError as err:  # a bug in the engine: recorded with its message, not retried
        outcome = {"state": FAILED, "error": first_line(err.cause if err.cause is not None else err, with_type=True)}
    idle.append(actor)
    if outcome["state"] == DONE:
        record(video, DONE, worker_pid=outcome["worker_pid"], **outcome["row"])
        tally.frames += outcome["row"]["frames"]
        tally.finished_here += 1
        notice(f"{PROG}: {tally.line(running)} {video.name} done: {outcome['row']['shots']} shots")
    else:
        record(video, FAILED, error=outcome["error"], worker_pid=outcome.get("worker_pid"))
        tally.finished_here += 1
        say(f"{PROG}: {outcome['error']}")


def _clear_attempt(out_dir: Path, video: Path) -> None:
    """What a film's killed attempt left: its key-frame folder and the temporary files of its
    atomic writes (renamed into place only when whole, so never a result)."""
    remove_unfinished(out_dir, video)
    for temporary in out_dir.glob(f".{video.stem}.*.tmp"):
        temporary.unlink(missing_ok=True)


def _print_summary(tally: Tally, out_dir: Path) -> None:
    header = f"{'video':<28} {'state':<12} {'tries':>5} {'shots':>6} {'seconds':>8}  output / error"
    lines = [header, "-" * len(header)]
    for video, row in tally.rows.items():
        state = row["state"] + (" (kept)" if row.get("note") == "kept" else "")
        shots = row.get("shots", "")
        seconds = f"{row['seconds']:.1f}" if "seconds" in row else ""
        detail = str(result_path(out_dir, video)) if row["state"] == DONE else row.get("error", row.get("note", ""))
        lines.append(f"{video.name[:28]:<28} {state:<12} {row['attempts']:>5} {shots:>6} {seconds:>8}  {detail}")
    now = time.monotonic()
    rate = ""
    if tally.finished_here and tally.working_since is not None:
        rate = (f" ({tally.finished_here / (now - tally.started) * 3600:.0f} films/hour, "
                f"{tally.finished_here / (now - tally.working_since) * 3600:.0f} once the workers were up)")
    lines.append(f"{tally.count(DONE)} done, {tally.count(FAILED)} failed of {tally.total} in "
                 f"{timecode(now - tally.started, 'never')}{rate}")
    print("\n".join(lines), file=sys.stdout)

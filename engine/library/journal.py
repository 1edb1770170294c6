"""The library run's memory in its output folder: `library.journal.jsonl`, one line per change
of a film's state (the last line of a film wins), and `library.lock`, which keeps a second run
off the same folder.

An append-only JSON-lines file, because each change is then one short write that a crash cannot
half-do to the earlier lines (a torn last line is ignored on reading).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filmline.engine.errors import OutputError

JOURNAL = "library.journal.jsonl"
LOCK = "library.lock"
DONE, FAILED, RUNNING = "done", "failed", "in progress"


def identity(video: Path, *, content_hash: bool) -> dict[str, Any]:
    """What says a film is the one an entry was made from: size and mtime, or size and a SHA-256
    of the content (`--hash`: survives copying, costs a read of the file)."""
    stat = video.stat()
    if not content_hash:
        return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    with video.open("rb") as handle:
        return {"size": stat.st_size, "sha256": hashlib.file_digest(handle, "sha256").hexdigest()}


class Journal:
    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / JOURNAL
        self.entries: dict[str, dict[str, Any]] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            try:
                entry = json.loads(line)
                self.entries[entry["path"]] = entry
            except (ValueError, KeyError, TypeError):
                continue  # a line cut off by a crash

    def entry(self, video: Path) -> dict[str, Any] | None:
        return self.entries.get(str(video.resolve()))

    def record(self, video: Path, state: str, /, *, identity: dict[str, Any], settings_hash: str, attempts: int,
               **extra: Any) -> None:
        entry = {"path": str(video.resolve()), "state": state, "attempts": attempts, "identity": identity,
                 "settings_hash": settings_hash, "time": time.time(), **extra}
        line = json.dumps(entry) + "\n"
        try:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as err:
            raise OutputError(f"cannot write {self.path}: {err.strerror}; choose a writable output folder (--out)") from err
        self.entries[entry["path"]] = entry


@contextmanager
def library_lock(out_dir: Path) -> Iterator[None]:
    """Hold `library.lock` for the run; a second run on the folder is refused with who holds it.
    An OS lock (flock), so a run that dies releases it with its process."""
    path = out_dir / LOCK
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise OutputError(
            f"{out_dir} is in use by another engine-run ({holder}); wait for it to end or choose another --out"
        ) from None
    try:
        handle.truncate(0)
        handle.write(f"pid {os.getpid()} on {os.uname().nodename}")
        handle.flush()
        yield
    finally:
        path.unlink(missing_ok=True)
        handle.close()

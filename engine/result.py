"""The result document of one video as bytes: `<stem>.json` and `<stem>.shots.csv` (the other
views are in `filmline.engine.writers`), and the atomic file write every output goes through.

Files are written to a temporary name in the target folder and renamed into place, so a reader
never sees half a file and a failed run leaves no partial output.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from filmline.engine.errors import OutputError

SCHEMA_VERSION = "1.0"


@lru_cache(maxsize=1)
def _umask() -> int:
    """The process's umask (reading it means setting it, so once, and put straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Permissions for a new file: what a plain `open` gives (0o666 less the umask)."""
    return 0o666 & ~_umask()


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename; the file
    gets the permissions a plain `open` would give (0o666 less the umask; mkstemp makes 0o600)."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise OutputError(f"cannot write to {path.parent}: {err.strerror}; choose a writable folder with --out") from err
    try:
        os.fchmod(handle, file_mode())
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def timecode(seconds: float) -> str:
    """HH:MM:SS.mmm, as PySceneDetect prints it."""
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def json_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def shots_csv_bytes(document: dict[str, Any]) -> bytes:
    """PySceneDetect's `list-scenes` CSV: a cut list row, then one row per scene.

    Frame numbers are 1-based as there (start inclusive, end inclusive); times in seconds.
    """
    shots = document["shots"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Timecode List:", *[timecode(s["start_time"]) for s in shots[1:]]])
    writer.writerow([
        "Scene Number", "Start Frame", "Start Timecode", "Start Time (seconds)", "End Frame",
        "End Timecode", "End Time (seconds)", "Length (frames)", "Length (timecode)", "Length (seconds)",
    ])
    for shot in shots:
        length = shot["end_time"] - shot["start_time"]
        writer.writerow([
            shot["index"] + 1,
            shot["start_frame"] + 1,
            timecode(shot["start_time"]),
            f"{shot['start_time']:.3f}",
            shot["end_frame"] + 1,
            timecode(shot["end_time"]),
            f"{shot['end_time']:.3f}",
            shot["end_frame"] - shot["start_frame"] + 1,
            timecode(length),
            f"{length:.3f}",
        ])
    return buffer.getvalue().encode("utf-8")

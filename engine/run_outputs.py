"""A video's files in the output folder seen as a whole: is a finished result still good for this
run (same input, same settings), the per-second features a `--series` rerun needs, and removing
what an interrupted video left.

Each result records what it was made from under `run` (see `run_record`); a rerun keeps a result
whose record matches the video file on disk and this run's settings fingerprint, and whose
files (key frames, series features) are all there.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from filmline.engine.output_files import write_atomic


def result_path(out_dir: Path, video: Path) -> Path:
    return out_dir / f"{video.stem}.json"


def features_path(out_dir: Path, video: Path) -> Path:
    """`<stem>.series.npy`: the episode's per-second features for cross-episode matching."""
    return out_dir / f"{video.stem}.series.npy"


def input_identity(video: Path) -> dict[str, int]:
    """What tells a rerun that a video is the file a result was made from: its size and mtime."""
    stat = video.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def run_record(video: Path, fingerprint: str) -> dict[str, Any]:
    """The result's `run` section: the input's identity and the settings fingerprint."""
    return {"input": input_identity(video), "settings_hash": fingerprint}


def finished_result(out_dir: Path, video: Path, fingerprint: str, *, series: bool) -> dict[str, Any] | None:
    """The result document of `video` in `out_dir` when it is up to date, else None.

    Up to date: made from a file of the same size and mtime with the same settings fingerprint,
    with its thumbnails in place (and, for `--series`, its features file). Views are not checked:
    the views a run asks for are not part of the result, and a kept result writes those missing.
    """
    path = result_path(out_dir, video)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        record = document["run"]
        current = run_record(video, fingerprint)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if record != current:
        return None
    needed = [out_dir / shot["thumbnail"] for shot in document.get("shots", []) if shot.get("thumbnail")]
    if series:
        needed.append(features_path(out_dir, video))
    if not all(p.is_file() for p in needed):
        return None
    return document


def save_features(out_dir: Path, video: Path, features: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(features, dtype=np.float32))
    write_atomic(features_path(out_dir, video), buffer.getvalue())


def load_features(out_dir: Path, video: Path) -> np.ndarray:
    return np.load(features_path(out_dir, video))


def remove_unfinished(out_dir: Path, video: Path) -> None:
    """After an interruption: the key-frame folder a video put in place before its result was written.

    Temporary files are removed by their writers; this is the one output that takes its final
    name before the JSON does (the vision-language stage runs between the two).
    """
    shutil.rmtree(out_dir / f"{video.stem}.keyframes", ignore_errors=True)

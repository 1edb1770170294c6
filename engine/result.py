"""The result document of one video as bytes: `<stem>.json` and `<stem>.shots.csv`, and the
rounding every written document goes through. The other views, and the writing itself, are in
`filmline.engine.writers`."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from filmline.engine.timecode import timecode


SCHEMA_VERSION = "1.0"
# Numbers are rounded where float noise would show (24.024000000000004): times (and every other
# measured number) to the microsecond, scores to what a score means.
TIME_DECIMALS = 6
SCORE_DECIMALS = 4
SCORE_KEYS = frozenset({"similarity", "confidence", "trigger_confidence", "score", "probability", "label_probabilities"})


def rounded_document(value: Any, key: str | None = None) -> Any:
    """A copy of the result document with its floats rounded: under a key of `SCORE_KEYS` (and
    anywhere inside one) to `SCORE_DECIMALS`, elsewhere to `TIME_DECIMALS`. Every writer takes
    the document through here once, whichever stage added the number."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return value
        return round(value, SCORE_DECIMALS if key in SCORE_KEYS else TIME_DECIMALS)
    if isinstance(value, dict):
        return {k: rounded_document(v, key if key in SCORE_KEYS else k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded_document(v, key) for v in value]
    return value


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


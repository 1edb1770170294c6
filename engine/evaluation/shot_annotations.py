"""Shot lists from every format `engine-eval shots` reads, in one shape: shots and the changes
between them.

Formats (detected from the content, not the name):

- our result JSON (`engine-run`'s `<stem>.json`): shots with their transitions and spans;
- a synthetic film's truth (`<stem>.truth.json`, `benchmarks.synthetic`): exact frames, the
  blended frames of every gradual transition, and the hard negatives (flashes, pans, ...);
- CSV `start_time,end_time` (seconds, or HH:MM:SS[.mmm]), one shot per row;
- CSV `Start,End` as asgaard-action-movies-2's Wild Bunch files: frame numbers (0-based, End inclusive; the
  frame rate comes from `--fps` or from a `Start Time` column) or HH:MM:SS[.mmm] (End = the
  next shot's Start);
- PySceneDetect's scene-list CSV (`list-scenes`, and our `<stem>.shots.csv`): 1-based frames.

A change is where one shot gives way to the next, as an interval of boundary positions:
position p lies between frame p-1 and frame p, at frame p's time. A hard cut is one position;
when the shots leave a gap (blended or black frames that belong to neither), the change spans
the gap: from the first frame after the old shot to the first frame of the new one; a result's
gradual transition spans its blended frames. Each change also has the one position where the
source starts the new shot (a result splits a dissolve in its middle): a predicted change is
placed there, so a long span reported around a true cut does not pass for the cut itself.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from filmline.engine.errors import BadInputError
from filmline.engine.timecode import parse_time

_COMMON_RATES = [Fraction(24000, 1001), 24, 25, Fraction(30000, 1001), 30, 48, 50, Fraction(60000, 1001), 60]


@dataclass(frozen=True)
class Change:
    """One shot change: boundary positions `first..last` (a cut: first == last) and the position
    `at` where the new shot starts, in seconds and, where the source has them, in frames.
    `gradual`: the span holds blended frames."""

    kind: str
    first_time: float
    last_time: float
    at_time: float
    first_frame: int | None = None
    last_frame: int | None = None
    at_frame: int | None = None
    gradual: bool = False


@dataclass(frozen=True)
class Negative:
    """A stretch of one shot that looks like a change and is not (a flash, a fast pan, ...)."""

    kind: str
    first_frame: int
    last_frame: int  # inclusive


@dataclass(frozen=True)
class ShotAnnotation:
    """The shots of one video as one source tells them."""

    source: str
    format: str
    shots: list[tuple[float, float]]  # [start, end) in seconds, in order
    changes: list[Change]
    fps: float | None = None  # frames per second where the source says or implies it
    negatives: list[Negative] = field(default_factory=list)


def read_shots(path: str | Path, fps: float | None = None) -> ShotAnnotation:
    """Read any supported file; `fps` converts frame-numbered CSVs that carry no times."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInputError(f"{path} does not exist; pass a result JSON, a truth JSON or a shot CSV") from None
    except (OSError, UnicodeDecodeError) as err:
        raise BadInputError(f"cannot read {path}: {err}") from None
    if text.lstrip().startswith("{"):
        return _read_json(path, text)
    return _read_csv(path, text, fps)


def _changes_between(shots: list[tuple[int | None, int | None, float, float]]) -> list[Change]:
    """Changes between consecutive shots given as (first frame, end frame exclusive, start, end)."""
    changes = []
    for (_, old_end_frame, _, old_end), (new_frame, _, new_start, _) in zip(shots, shots[1:]):
        first_frame = old_end_frame if old_end_frame is not None and new_frame is not None else None
        last_frame = new_frame if first_frame is not None else None
        gap = (last_frame - first_frame) if first_frame is not None else new_start - old_end
        gradual = gap > (0 if first_frame is not None else 1e-6)
        last = max(new_start, old_end)
        changes.append(Change("gradual" if gradual else "cut", old_end, last, last, first_frame, last_frame,
                              last_frame, gradual))
    return changes


def _read_json(path: Path, text: str) -> ShotAnnotation:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadInputError(f"{path} is not valid JSON ({err.msg} at line {err.lineno})") from None
    if isinstance(data, dict) and "schema_version" in data and "shots" in data:
        return _from_result(path, data)
    if isinstance(data, dict) and {"cuts", "gradual", "shots", "seconds"} <= data.keys():
        return _from_truth(path, data)
    raise BadInputError(
        f"{path} is JSON but neither an engine-run result (schema_version, shots) nor a synthetic "
        "film's truth (cuts, gradual, shots, seconds)"
    )


def _from_result(path: Path, data: dict[str, Any]) -> ShotAnnotation:
    try:
        shots = [(float(s["start_time"]), float(s["end_time"])) for s in data["shots"]]
        changes = []
        for shot in data["shots"][1:]:
            transition = shot.get("transition_in") or {"kind": "cut", "frame": shot["start_frame"],
                                                        "time": shot["start_time"], "span": None}
            span = transition.get("span")
            frame, time = int(transition["frame"]), float(transition["time"])
            if span:
                changes.append(Change(transition["kind"], float(span["start_time"]), float(span["end_time"]), time,
                                      int(span["start_frame"]), int(span["end_frame"]) + 1, frame, True))
            else:
                changes.append(Change(transition["kind"], time, time, time, frame, frame, frame))
    except (KeyError, TypeError, ValueError) as err:
        raise BadInputError(f"{path}: a shot lacks a readable field ({err}); is it an engine-run result?") from None
    fps = (data.get("video") or {}).get("fps")
    return ShotAnnotation(str(path), "filmline-result", shots, changes, float(fps) if fps else None)


def _from_truth(path: Path, data: dict[str, Any]) -> ShotAnnotation:
    seconds = [float(s) for s in data["seconds"]]
    count = len(seconds)
    end = seconds[-1] + (seconds[-1] - seconds[-2]) if count > 1 else (seconds[0] if seconds else 0.0)

    def time_of(position: int) -> float:
        return seconds[position] if position < count else end

    blended: dict[int, str] = {}
    for kind, first, last in data["gradual"]:
        blended.update({frame: kind for frame in range(first, last + 1)})
    spans = [(int(first), int(last) + 1) for first, last in data["shots"]]
    changes = []
    for (_, old_end), (new_start, _) in zip(spans, spans[1:]):
        kinds = sorted({blended[f] for f in range(old_end, new_start) if f in blended})
        gradual = bool(kinds)
        if not gradual:
            kind = "cut" if old_end == new_start else "black"
        else:
            kind = "fade" if set(kinds) == {"fade_in", "fade_out"} else "+".join(kinds)
        changes.append(Change(kind, time_of(old_end), time_of(new_start), time_of(new_start), old_end, new_start,
                              new_start, gradual))
    negatives = [Negative(kind, int(first), int(last)) for kind, first, last in data.get("negatives", [])]
    fps = count / end if end > 0 else None
    shots = [(time_of(first), time_of(end_frame)) for first, end_frame in spans]
    return ShotAnnotation(str(path), "synthetic-truth", shots, changes, fps, negatives)


def _read_csv(path: Path, text: str, fps: float | None) -> ShotAnnotation:
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    for index, row in enumerate(rows):
        names = [cell.strip().lower() for cell in row]
        if "scene number" in names and "start frame" in names:
            return _pyscenedetect(path, names, rows[index + 1 :])
        if "start_time" in names and "end_time" in names:
            return _times(path, names, rows[index + 1 :])
        if "start" in names and "end" in names:
            return _seed(path, names, rows[index + 1 :], fps)
        if index >= 1:  # PySceneDetect puts a cut list above its header; nothing else may
            break
    raise BadInputError(
        f"{path}: no known CSV header; expected `start_time,end_time`, `Start,End` (frames or "
        "HH:MM:SS) or PySceneDetect's `Scene Number,Start Frame,...`"
    )


def _cells(path: Path, names: list[str], rows: list[list[str]], wanted: list[str]) -> list[list[str]]:
    columns = [names.index(name) for name in wanted]
    try:
        return [[row[c].strip() for c in columns] for row in rows]
    except IndexError:
        raise BadInputError(f"{path}: a row has fewer cells than the header") from None


def _values(path: Path, rows: list[list[str]], convert, what: str) -> list[list[Any]]:
    parsed = []
    for number, row in enumerate(rows, start=2):
        try:
            parsed.append([convert(cell) for cell in row])
        except ValueError:
            raise BadInputError(f"{path}: row {number} has {row}, which are not {what}") from None
    if not parsed:
        raise BadInputError(f"{path} has a header but no shots")
    return parsed


def _pyscenedetect(path: Path, names: list[str], rows: list[list[str]]) -> ShotAnnotation:
    wanted = ["start frame", "end frame", "start time (seconds)", "end time (seconds)"]
    values = _values(path, _cells(path, names, rows, wanted), float, "frame numbers and seconds")
    shots = [(int(a) - 1, int(b), start, end) for a, b, start, end in values]  # 1-based inclusive
    fps = _rate([(frame, start) for frame, _, start, _ in shots])
    return ShotAnnotation(str(path), "pyscenedetect-csv", [(s, e) for *_, s, e in shots],
                          _changes_between(shots), fps)


def _times(path: Path, names: list[str], rows: list[list[str]]) -> ShotAnnotation:
    values = _values(path, _cells(path, names, rows, ["start_time", "end_time"]), parse_time, "times")
    shots = [(None, None, start, end) for start, end in values]
    return ShotAnnotation(str(path), "times-csv", [(s, e) for *_, s, e in shots], _changes_between(shots))


def _seed(path: Path, names: list[str], rows: list[list[str]], fps: float | None) -> ShotAnnotation:
    cells = _cells(path, names, rows, ["start", "end"])
    if cells and any(":" in cell for cell in cells[0]):
        values = _values(path, cells, parse_time, "HH:MM:SS times")
        shots = [(None, None, start, end) for start, end in values]
        return ShotAnnotation(str(path), "start-end-csv-times", [(s, e) for *_, s, e in shots], _changes_between(shots))
    frames = _values(path, cells, int, "frame numbers")
    if fps is None and "start time" in names:
        times = _values(path, _cells(path, names, rows, ["start time"]), parse_time, "times")
        fps = _rate([(f[0], t[0]) for f, t in zip(frames, times)])
    if fps is None or fps <= 0:
        raise BadInputError(f"{path} numbers its shots in frames but gives no frame rate: pass --fps")
    shots = [(start, end + 1, start / fps, (end + 1) / fps) for start, end in frames]  # End inclusive
    return ShotAnnotation(str(path), "start-end-csv-frames", [(s, e) for *_, s, e in shots], _changes_between(shots), fps)


def _rate(frames_and_times: list[tuple[int, float]]) -> float | None:
    """The frame rate implied by (frame, time) pairs, snapped to a standard rate within 0.1 %."""
    frame, time = max(frames_and_times, key=lambda pair: pair[1], default=(0, 0.0))
    if frame <= 0 or time <= 0:
        return None
    rate = frame / time
    nearest = min(_COMMON_RATES, key=lambda r: abs(float(r) - rate))
    return float(nearest) if abs(float(nearest) - rate) <= 0.001 * rate else rate

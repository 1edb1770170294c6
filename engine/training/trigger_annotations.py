"""The original video-trigger project's annotation formats, read into one shape: each video with its trigger times.

- The original's JSON: `{"videos": [{"video_path", "triggers": [{"timestamp", "label", "description"}]}]}`
- ActivityNet: `{"database": {id: {"annotations": [{"segment": [start, end], "label"}]}}}`,
  ActivityNet Captions: `{id: {"timestamps": [[start, end], ...], "sentences": [...]}}`, and the
  original trigger model's list variant `[{"video", "start_time", "end_time", "caption"}]`
- CSV with the columns `video_path,timestamp,label,description`

A segment triggers at its start (where the original's preprocess_data.py puts it; its data loader
used the midpoint, deep inside long activities). A label of 0 marks a moment that is not a
trigger: the video is kept as negative material. Times are seconds or [HH:]MM:SS[.fff].
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from filmline.engine.errors import BadInputError
from filmline.engine.timecode import parse_time

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov")
CSV_COLUMNS = ("video_path", "timestamp", "label", "description")
_NEGATIVE_LABELS = {"0", "false", "no", "none", "negative"}
_FORMATS = (
    "trigger JSON (videos[].triggers[]), ActivityNet JSON (database, or captions with "
    "timestamps), or a CSV with columns video_path,timestamp,label,description"
)


@dataclass(frozen=True)
class AnnotatedVideo:
    path: Path
    events: tuple[float, ...]  # trigger times, seconds from the first frame, sorted


def read_annotations(file: Path, videos: Path) -> tuple[list[AnnotatedVideo], list[str]]:
    """The annotated videos found under `videos`, and the names of those that were not."""
    file = Path(file)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise BadInputError(f"cannot read annotations {file} ({err.strerror or err}): pass an existing file") from None
    if file.suffix.lower() == ".csv":
        entries = _csv(text, file)
    else:
        try:
            data = json.loads(text)
        except ValueError as err:
            raise BadInputError(f"{file} is not valid JSON ({err}): annotations must be {_FORMATS}") from None
        entries = _json(data, file)
    events: dict[tuple[str, ...], set[float]] = defaultdict(set)
    for names, moment in entries:
        if moment is not None:
            events[names].add(moment)
        else:
            events.setdefault(names, set())
    merged: dict[Path, set[float]] = defaultdict(set)
    missing = []
    for names, moments in events.items():
        path = _locate(names, Path(videos))
        if path is None:
            missing.append(names[0])
        else:
            merged[path].update(moments)
    return [AnnotatedVideo(p, tuple(sorted(m))) for p, m in sorted(merged.items())], sorted(missing)


Entry = tuple[tuple[str, ...], float | None]  # (names the video may have on disk, event or None)


def _json(data: Any, file: Path) -> list[Entry]:
    if isinstance(data, dict) and isinstance(data.get("videos"), list):
        return list(_seed_json(data["videos"], file))
    if isinstance(data, dict) and isinstance(data.get("database"), dict):
        return list(_activitynet(data["database"], file))
    if isinstance(data, list):
        return list(_caption_list(data, file))
    if isinstance(data, dict) and data and all(isinstance(v, dict) and "timestamps" in v for v in data.values()):
        return list(_captions(data, file))
    raise BadInputError(f"{file} is not a trigger annotation file: expected {_FORMATS}")


def _seed_json(videos: list[Any], file: Path) -> Iterable[Entry]:
    for n, video in enumerate(videos):
        where = f"{file}: videos[{n}]"
        if not isinstance(video, dict) or not video.get("video_path"):
            raise BadInputError(f"{where} has no video_path: each entry needs video_path and triggers")
        names = (str(video["video_path"]),)
        yield names, None
        for k, trigger in enumerate(video.get("triggers") or []):
            if not isinstance(trigger, dict) or "timestamp" not in trigger:
                raise BadInputError(f"{where}.triggers[{k}] has no timestamp: each trigger needs one")
            if not _negative(trigger.get("label", 1)):
                yield names, _seconds(trigger["timestamp"], f"{where}.triggers[{k}].timestamp")


def _activitynet(database: dict[str, Any], file: Path) -> Iterable[Entry]:
    for video_id, video in database.items():
        names = (video_id, f"v_{video_id}")
        yield names, None
        for k, annotation in enumerate((video or {}).get("annotations") or []):
            segment = annotation.get("segment") if isinstance(annotation, dict) else None
            if not isinstance(segment, list) or len(segment) != 2:
                raise BadInputError(f"{file}: database.{video_id}.annotations[{k}] has no [start, end] segment")
            yield names, _seconds(segment[0], f"{file}: database.{video_id}.annotations[{k}].segment")


def _captions(data: dict[str, Any], file: Path) -> Iterable[Entry]:
    for video_id, video in data.items():
        names = (video_id, video_id.removeprefix("v_"))
        yield names, None
        for k, span in enumerate(video["timestamps"] or []):
            if not isinstance(span, list) or len(span) != 2:
                raise BadInputError(f"{file}: {video_id}.timestamps[{k}] is not a [start, end] pair")
            yield names, _seconds(span[0], f"{file}: {video_id}.timestamps[{k}]")


def _caption_list(data: list[Any], file: Path) -> Iterable[Entry]:
    for n, annotation in enumerate(data):
        if not isinstance(annotation, dict) or not annotation.get("video") or "start_time" not in annotation:
            raise BadInputError(f"{file}[{n}] needs video and start_time: annotations must be {_FORMATS}")
        video = str(annotation["video"])
        names = (video, Path(video).name, Path(video).stem)
        yield names, _seconds(annotation["start_time"], f"{file}[{n}].start_time")


def _csv(text: str, file: Path) -> list[Entry]:
    reader = csv.DictReader(text.splitlines())
    absent = [c for c in ("video_path", "timestamp") if c not in (reader.fieldnames or [])]
    if absent:
        raise BadInputError(f"{file} lacks the column(s) {', '.join(absent)}: the header must be {','.join(CSV_COLUMNS)}")
    entries: list[Entry] = []
    for line, row in enumerate(reader, start=2):
        if not (row.get("video_path") or "").strip():
            continue
        names = (row["video_path"].strip(),)
        entries.append((names, None))
        if not _negative(row.get("label") or "1"):
            entries.append((names, _seconds(row["timestamp"], f"{file}, line {line}, timestamp")))
    return entries


def _negative(label: Any) -> bool:
    return str(label).strip().lower() in _NEGATIVE_LABELS


def _seconds(value: Any, where: str) -> float:
    """Seconds from a number or [HH:]MM:SS[.fff] (`engine.timecode.parse_time`)."""
    try:
        return parse_time(value)
    except ValueError as err:
        raise BadInputError(f"{where}: {value!r} {err}") from None


def _locate(names: tuple[str, ...], videos: Path) -> Path | None:
    """The first existing file among the names as given, under `videos`, with video suffixes."""
    for name in names:
        base = videos / Path(name).expanduser()  # an absolute name stays as it is
        for path in (base, *(base.with_name(base.name + suffix) for suffix in VIDEO_SUFFIXES)):
            if path.is_file():
                return path.resolve()
    return None

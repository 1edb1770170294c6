"""The intro paper's intro annotations: `{"episode.mp4": {"start": "HH:MM:SS", "end": "HH:MM:SS"}}`.

Times may carry fractions (`00:01:05.250`), be `MM:SS`, or plain seconds. An entry may add
`"credits": {"start": …, "end": …}` (the engine's extension; the intro paper ignores it), and
`"start": null, "end": null` marks an episode known to have no intro.

The intro paper's data has one known defect: a start written a minute late, so that it falls after the
end. Such a start is read one minute earlier, and every repair is reported. Anything else that
does not make sense (a file not in the video folder, an end before its start beyond that repair,
a time past the end of the video) is a `BadInputError` naming the file, the entry and the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filmline.engine.errors import BadInputError
from filmline.engine.timecode import parse_time as parse_seconds
from filmline.engine.timecode import timecode

REPAIR_SECONDS = 60.0
END_TOLERANCE = 1.0  # an annotation may end this far past the last frame (rounding to seconds)


@dataclass(frozen=True)
class Episode:
    """One annotated video: its intro (None: it has none) and, where annotated, its credits."""

    name: str
    path: Path
    intro: tuple[float, float] | None
    credits: tuple[float, float] | None


@dataclass(frozen=True)
class Annotations:
    episodes: list[Episode]
    repairs: list[str]  # one line per repaired entry
    source: Path


def parse_time(value: Any, where: str) -> float:
    """Seconds from an annotation's time (`engine.timecode.parse_time`); a `BadInputError` naming
    `where` otherwise."""
    try:
        return parse_seconds(value)
    except ValueError as err:
        raise BadInputError(f"{where}: time {value!r} {err}; fix the annotation") from None


def load_annotations(path: str | Path, videos: str | Path | None) -> Annotations:
    """Read and check `path`; with a `videos` folder, every named file must be in it."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"annotation file {path} does not exist: pass --annotations FILE") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise BadInputError(f"{path} is not readable JSON ({err}): fix the file") from None
    if not isinstance(raw, dict) or not raw:
        raise BadInputError(f'{path} must map video file names to {{"start": "HH:MM:SS", "end": "HH:MM:SS"}}; fix the file')
    if videos is not None and not Path(videos).is_dir():
        raise BadInputError(f"video folder {videos} does not exist: pass --videos DIR")
    episodes, repairs = [], []
    for name, entry in raw.items():
        where = f"{path.name}: {name}"
        video = Path(videos or ".") / name
        if videos is not None and not video.is_file():
            raise BadInputError(f"{where} is not a file in {videos}: fix the name or drop the entry")
        if not isinstance(entry, dict) or "start" not in entry or "end" not in entry:
            raise BadInputError(f'{where} must be {{"start": "HH:MM:SS", "end": "HH:MM:SS"}}; got {entry!r}')
        intro = None
        if entry["start"] is not None or entry["end"] is not None:
            intro = _span(entry, where, repairs)
        credits = entry.get("credits")
        if credits is not None:
            if not isinstance(credits, dict) or "start" not in credits or "end" not in credits:
                raise BadInputError(f'{where}: credits must be {{"start": …, "end": …}}; got {credits!r}')
            credits = _span(credits, f"{where} credits", repairs)
        episodes.append(Episode(name, video, intro, credits))
    return Annotations(episodes, repairs, path)


def check_duration(episode: Episode, duration: float, source: Path) -> None:
    """A `BadInputError` when an annotated time lies past the end of the video."""
    for label, span in (("intro", episode.intro), ("credits", episode.credits)):
        if span is not None and span[1] > duration + END_TOLERANCE:
            raise BadInputError(
                f"{source.name}: {episode.name} {label} ends at {timecode(span[1], 'when_needed')}, after the video's end at "
                f"{timecode(duration, 'when_needed')}: fix the annotation (or the file name)"
            )


def _span(entry: dict, where: str, repairs: list[str]) -> tuple[float, float]:
    start, end = parse_time(entry["start"], where), parse_time(entry["end"], where)
    if start > end and 0 <= start - REPAIR_SECONDS < end:
        repairs.append(
            f"{where}: start {entry['start']} is after end {entry['end']}; read it one minute earlier, "
            f"as {timecode(start - REPAIR_SECONDS, 'when_needed')} (a known slip in published intro annotations)"
        )
        start -= REPAIR_SECONDS
    if start >= end:
        raise BadInputError(
            f"{where}: end {entry['end']} is not after start {entry['start']}, and reading the start "
            "a minute earlier does not help: fix the annotation"
        )
    return start, end

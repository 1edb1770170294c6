"""Chapters: WebVTT (`<stem>.chapters.vtt`, for `<track kind="chapters">` and players) and an
FFmpeg metadata file (`<stem>.ffmetadata`: `ffmpeg -i film.mkv -i film.ffmetadata -map_metadata 1
-map_chapters 1 -codec copy out.mkv` puts the chapters in the container).

The intro and the credits are chapters of their own, named so. The rest of the video is cut at
shot boundaries: with `--chapters shots` every shot (or the part of it outside intro and credits)
is a chapter; by default (`scenes`) consecutive shots are merged until a chapter lasts at least
`chapters.min_seconds` of `configs/report.yaml` (a shorter remainder joins the chapter before
it), as the document has no scene grouping of its own.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from filmline.engine.config import read_config
from filmline.engine.timecode import timecode
from filmline.engine.writers import ViewOptions


@dataclass(frozen=True)
class Chapter:
    start: float
    end: float
    title: str


def chapters(document: dict[str, Any], mode: str, min_seconds: float) -> list[Chapter]:
    """The video's chapters in time order, covering it from 0 to its duration without overlap."""
    shots = document["shots"]
    duration = document["video"]["duration"]
    named = sorted((segment["start"], segment["end"], kind.capitalize())
                   for kind in ("intro", "credits") if (segment := document.get(kind)))
    found: list[Chapter] = []
    cursor = 0.0
    for start, end, title in [*named, (duration, duration, "")]:
        start, end = max(start, cursor), min(end, duration)
        if start > cursor:
            found += _between(shots, cursor, start, mode, min_seconds)
        if title and end > start:
            found.append(Chapter(start, end, title))
        cursor = max(cursor, end)
    return _numbered(found)


def _between(shots: list[dict[str, Any]], start: float, end: float, mode: str, min_seconds: float) -> list[Chapter]:
    """Chapters from `start` to `end`, cut at the shot boundaries strictly inside."""
    starts = [shot["start_time"] for shot in shots]
    cuts = starts[bisect.bisect_right(starts, start):bisect.bisect_left(starts, end)]
    edges = [start, *cuts, end]
    if mode == "shots":
        return [Chapter(a, b, f"Shot {bisect.bisect_right(starts, a)}") for a, b in zip(edges, edges[1:])]
    pieces: list[list[float]] = []
    for a, b in zip(edges, edges[1:]):
        if pieces and pieces[-1][1] - pieces[-1][0] < min_seconds:
            pieces[-1][1] = b
        else:
            pieces.append([a, b])
    if len(pieces) > 1 and pieces[-1][1] - pieces[-1][0] < min_seconds:
        remainder = pieces.pop()
        pieces[-1][1] = remainder[1]
    return [Chapter(a, b, "") for a, b in pieces]


def _numbered(found: list[Chapter]) -> list[Chapter]:
    """Untitled (scene) chapters become "Chapter N", N counting every chapter of the video."""
    return [c if c.title else Chapter(c.start, c.end, f"Chapter {i + 1}") for i, c in enumerate(found)]


def _of(document: dict[str, Any], options: ViewOptions) -> list[Chapter]:
    return chapters(document, options.chapters, float(read_config("report.yaml")["chapters"]["min_seconds"]))


def vtt_view(document: dict[str, Any], options: ViewOptions) -> bytes:
    lines = ["WEBVTT", ""]
    for number, chapter in enumerate(_of(document, options), 1):
        title = chapter.title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        lines += [str(number), f"{timecode(chapter.start)} --> {timecode(chapter.end)}", title, ""]
    return "\n".join(lines).encode("utf-8")


def _ffmeta_escape(text: str) -> str:
    """FFmpeg's metadata format: `=`, `;`, `#`, `\\` and newlines are escaped with a backslash."""
    for special in ("\\", "=", ";", "#", "\n"):
        text = text.replace(special, "\\" + special)
    return text


def ffmeta_view(document: dict[str, Any], options: ViewOptions) -> bytes:
    lines = [";FFMETADATA1", f"title={_ffmeta_escape(options.stem)}", ""]
    for chapter in _of(document, options):
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={int(round(chapter.start * 1000))}",
                  f"END={int(round(chapter.end * 1000))}", f"title={_ffmeta_escape(chapter.title)}", ""]
    return "\n".join(lines).encode("utf-8")


VIEWS = {"vtt": vtt_view, "ffmeta": ffmeta_view}

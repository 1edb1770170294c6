"""The typed view of one video's result document (what `filmline.analyze` returns).

The document (`Result.document`) is the source of truth, exactly the `<stem>.json` that
`engine-run` writes; the dataclasses here give its most used parts names and types. Fields are
described in docs/output.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Video:
    """Facts about the decoded video."""

    path: Path
    duration: float  # seconds, up to the end of the last frame
    fps: float | None  # decoded frames per second of video
    frame_count: int
    width: int
    height: int
    codec: str


@dataclass(frozen=True)
class Span:
    """The frames a gradual transition covers, first and last inclusive."""

    start_frame: int
    end_frame: int
    start_time: float
    end_time: float


@dataclass(frozen=True)
class Transition:
    """A shot boundary: `kind` is `cut`, `fade_in`, `fade_out`, `fade` or `dissolve`."""

    kind: str
    frame: int  # first frame of the new shot
    time: float
    span: Span | None  # None for a cut
    similarity: float | None  # embeddings' cosine across the boundary, when an encoder ran


@dataclass(frozen=True)
class Shot:
    index: int
    start_frame: int
    end_frame: int  # inclusive
    start_time: float
    end_time: float
    duration: float
    transition_in: Transition | None  # None for the first shot
    transition_out: Transition | None  # None for the last shot
    key_frame: int | None
    key_frame_time: float | None
    thumbnail: Path | None  # the key frame's JPEG; None when nothing was kept on disk


@dataclass(frozen=True)
class Segment:
    """An intro or end credits, in seconds."""

    kind: str
    start: float
    end: float
    confidence: float | None
    method: str


@dataclass(frozen=True)
class Result:
    """One analysed video. `document` holds every field, including those without a typed view
    here (triggers, action labels, captions, summary, models, settings, timings)."""

    video: Video
    shots: tuple[Shot, ...]
    method: str  # how shots were found: cheap_pass_only or cheap_pass+encoder
    intro: Segment | None
    credits: Segment | None
    document: dict[str, Any] = field(repr=False, compare=False)
    json_path: Path | None = None  # the `<stem>.json` written, when `out` was given

    def to_json(self) -> str:
        """The document as JSON text, formatted as `engine-run` writes it."""
        from filmline.engine.result import json_bytes

        return json_bytes(self.document).decode("utf-8")

    @classmethod
    def from_document(cls, document: dict[str, Any], out_dir: Path | None = None,
                      json_path: Path | None = None) -> "Result":
        """The typed view of a result document; `out_dir` resolves thumbnail paths (None: none kept)."""
        video = document["video"]
        return cls(
            video=Video(Path(video["path"]), video["duration"], video["fps"], video["frame_count"],
                        video["width"], video["height"], video["codec"]),
            shots=tuple(_shot(shot, out_dir) for shot in document["shots"]),
            method=document["shot_detection"]["method"],
            intro=_segment(document.get("intro")),
            credits=_segment(document.get("credits")),
            document=document,
            json_path=json_path,
        )


def _transition(item: dict[str, Any] | None) -> Transition | None:
    if item is None:
        return None
    span = item.get("span")
    return Transition(
        item["kind"], item["frame"], item["time"],
        Span(span["start_frame"], span["end_frame"], span["start_time"], span["end_time"]) if span else None,
        item.get("similarity"),
    )


def _shot(item: dict[str, Any], out_dir: Path | None) -> Shot:
    thumbnail = item.get("thumbnail")
    return Shot(
        item["index"], item["start_frame"], item["end_frame"], item["start_time"], item["end_time"],
        item["duration"], _transition(item.get("transition_in")), _transition(item.get("transition_out")),
        item.get("key_frame"), item.get("key_frame_time"),
        out_dir / thumbnail if thumbnail and out_dir is not None else None,
    )


def _segment(item: dict[str, Any] | None) -> Segment | None:
    if item is None:
        return None
    return Segment(item["kind"], item["start"], item["end"], item.get("confidence"), item["method"])

"""FCP 7 XML (xmeml 4) of the OTIO timeline `timeline.build_timeline` makes: the document that
`otio-fcp-adapter` writes for it, byte for byte, with transitions centred on their cut.

Why not the adapter's `write_to_string`: for a two-hour film with 2 000 shots it takes 0.6 s of
CPU (a JSON serialisation of every clip to find back-references, then a minidom parse and
re-print of the whole document just to indent it), more than all other views together, and it
has no option to skip either. This writer covers only the shape we build (one video track of
clips on one `ExternalReference`, transitions between them, markers on clips; no gaps, effects
or nested stacks) and prints the lines directly, in minidom's spelling (four-space indents,
`<tag/>` when empty, `& < " >` escaped): an ElementTree built and serialised for the same
document costs three times as much. `tests/test_writers.py` checks that its output equals the
adapter's and reads back through the adapter with our cut frames.
"""

from __future__ import annotations

import math
import os
import urllib.parse

import opentimelineio as otio

from filmline.engine.writers.otio_reading import clip_markers, frames

_AUDIO_SUFFIXES = {".wav", ".aac", ".mp3", ".aif", ".aiff", ".m4a"}  # the adapter's: files without video
_INDENT = "    "


class _Lines:
    """An indented XML document, line by line."""

    def __init__(self) -> None:
        self.lines = ['<?xml version="1.0" ?>']
        self.depth = 0

    def open(self, tag: str, attributes: str = "") -> None:
        self.lines.append(f"{_INDENT * self.depth}<{tag}{attributes}>")
        self.depth += 1

    def close(self, tag: str) -> None:
        self.depth -= 1
        self.lines.append(f"{_INDENT * self.depth}</{tag}>")

    def empty(self, tag: str, attributes: str = "") -> None:
        self.lines.append(f"{_INDENT * self.depth}<{tag}{attributes}/>")

    def text(self, tag: str, value: str | int) -> None:
        text = _escape(value) if isinstance(value, str) else str(value)
        self.lines.append(f"{_INDENT * self.depth}<{tag}>{text}</{tag}>" if text else f"{_INDENT * self.depth}<{tag}/>")

    def rate(self, fps: float) -> None:
        """FCP's rate: a whole timebase, NTSC when the true rate is 1000/1001 of it."""
        timebase = math.ceil(fps)
        self.open("rate")
        self.text("timebase", int(timebase))
        self.text("ntsc", "FALSE" if timebase == fps else "TRUE")
        self.close("rate")

    def timecode(self, time: otio.opentime.RationalTime) -> None:
        string = otio.opentime.to_timecode(time, time.rate, False)
        self.open("timecode")
        self.rate(time.rate)
        self.text("string", string)
        self.text("frame", frames(time))
        self.text("displayformat", "DF" if ";" in string else "NDF")
        self.close("timecode")


def fcp_xml_bytes(timeline: otio.schema.Timeline) -> bytes:
    """The xmeml document for `timeline` (built by `build_timeline`), UTF-8."""
    rate = timeline.global_start_time.rate
    xml = _Lines()
    xml.open("xmeml", ' version="4"')
    xml.open("project")
    xml.text("name", timeline.name)
    xml.open("children")
    xml.open("sequence", ' id="sequence-1"')
    xml.text("name", timeline.name)
    xml.text("duration", frames(timeline.duration()))
    xml.rate(rate)
    xml.open("media")
    xml.open("video")
    xml.empty("format")
    for track in timeline.tracks:
        _track(xml, track, rate)
    xml.close("video")
    xml.empty("audio")
    xml.close("media")
    xml.timecode(timeline.global_start_time)
    for tag in ("sequence", "children", "project", "xmeml"):
        xml.close(tag)
    return ("\n".join(xml.lines) + "\n").encode("utf-8")


def _track(xml: _Lines, track: otio.schema.Track, rate: float) -> None:
    """Clips and centred transitions, placed on the record side the way the adapter places them."""
    items = list(track)
    if not items:
        xml.empty("track")
        return
    xml.open("track")
    centred = [_centred(item) if isinstance(item, otio.schema.Transition) else None for item in items]
    files: dict[str, str] = {}
    position = 0  # record frame where the next clip starts
    clip_number = 0
    for index, item in enumerate(items):
        if isinstance(item, otio.schema.Transition):
            half = centred[index]
            if half:  # a transition all on one side of its cut has no centred form: a cut here
                _transition(xml, item, position - half, 2 * half, rate)
            continue
        clip_number += 1
        before = centred[index - 1] if index > 0 else None
        after = centred[index + 1] if index + 1 < len(items) else None
        length = frames(item.source_range.duration)
        _clip(xml, item, clip_number, position, length, before or None, after or None, files)
        position += length
    xml.close("track")


def _centred(transition: otio.schema.Transition) -> int:
    """Frames either side of the cut: FCP 7 XML reads every transition back as centred on it, so
    the shorter side is used on both (the cut stays exact, the span is shortened)."""
    return min(frames(transition.in_offset), frames(transition.out_offset))


def _transition(xml: _Lines, transition: otio.schema.Transition, start: int, length: int, rate: float) -> None:
    xml.open("transitionitem")
    xml.text("start", start)
    xml.text("end", start + length)
    xml.text("alignment", "center")
    xml.rate(rate)
    xml.open("effect")
    xml.text("name", transition.name)
    xml.text("effectid", "Cross Dissolve")
    xml.text("effecttype", "transition")
    xml.text("mediatype", "video")
    xml.close("effect")
    xml.close("transitionitem")


def _clip(xml: _Lines, clip: otio.schema.Clip, number: int, position: int, length: int, before: int | None,
          after: int | None, files: dict[str, str]) -> None:
    """One `clipitem`; `before`/`after`: frames of a transition into/out of it (its record start or
    end is then -1 and its source range reaches into the transition)."""
    source_range = clip.source_range
    rate = source_range.start_time.rate
    reference = clip.media_reference
    xml.open("clipitem", f' frameBlend="FALSE" id="clipitem-{number}"')
    _file(xml, reference, files)
    xml.text("name", clip.name)
    xml.rate(rate)
    for marker in clip_markers(clip):
        marked = marker.marked_range
        first = frames(marked.start_time)
        xml.open("marker")
        xml.text("name", marker.name)
        xml.text("in", first)
        xml.text("out", first + frames(marked.duration))
        xml.close("marker")
    xml.rate(rate)
    source_in = frames(source_range.start_time) - frames(reference.available_range.start_time)
    xml.text("duration", length)
    xml.text("start", -1 if before else position)
    xml.text("end", -1 if after else position + length)
    xml.text("in", source_in - (before or 0))
    xml.text("out", source_in + length + (after or 0))
    xml.close("clipitem")


def _file(xml: _Lines, reference: otio.schema.ExternalReference, files: dict[str, str]) -> None:
    """The media file: in full the first time, then by its id."""
    url = reference.target_url
    if url in files:
        xml.empty("file", f' id="{files[url]}"')
        return
    files[url] = f"file-{len(files) + 1}"
    xml.open("file", f' id="{files[url]}"')
    xml.text("pathurl", url)
    path = urllib.parse.urlparse(url).path
    xml.text("name", reference.name or os.path.basename(path))
    available = reference.available_range
    xml.rate(available.start_time.rate)
    xml.text("duration", frames(available.duration))
    xml.timecode(available.start_time)
    xml.open("media")
    if os.path.splitext(path)[1].lower() not in _AUDIO_SUFFIXES:
        xml.empty("video")
    xml.empty("audio")
    xml.close("media")
    xml.close("file")


def _escape(text: str) -> str:
    """minidom's escaping of text and attribute values."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").replace(">", "&gt;")


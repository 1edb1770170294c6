"""Editorial timelines through OpenTimelineIO: `<stem>.otio`, a CMX 3600 `<stem>.edl` and an
FCP 7 XML `<stem>.fcp.xml` (xmeml, which Premiere, Resolve and Final Cut Pro X through 7toX
import), all from one OTIO timeline, built once for all three.

- One clip per shot on one video track, its source range the shot's frames exactly
  (`RationalTime(start_frame, rate)`, `RationalTime(frame count, rate)`): frame numbers from the
  document, never float seconds. The rate is the container's average frame rate, snapped to the
  nearest SMPTE timecode rate (a variable-rate video keeps its frame numbers; its timecodes are
  nominal).
- A gradual boundary (dissolve, fade) is an OTIO `Transition`: `in_offset` the frames of its
  span before the boundary, `out_offset` those from it on (clipped to the clips either side).
  FCP 7 XML reads every transition back as centred on the cut, so there it is written centred
  (the shorter side on both sides): the cut frame stays exact, the span is shortened.
- Intro, credits and triggers are markers on the clip where they start (the EDL carries clip
  markers as `LOC` lines); labels, captions and key frames are in each clip's metadata
  (`filmline`), the video's facts and summary in the timeline's.

The OTIO file is written by OTIO's JSON adapter. The EDL and the FCP XML are what
`otio-cmx3600-adapter` and `otio-fcp-adapter` write for this timeline, written directly by
`cmx_edl` and `fcp_xml`: the adapters take 0.3 s and 0.6 s of CPU for a 2 000-shot film (see
there), the tests compare both with the adapters' output.
"""

from __future__ import annotations

import bisect
from typing import Any

import opentimelineio as otio

from filmline.engine.writers import ViewOptions
from filmline.engine.writers.cmx_edl import edl_bytes
from filmline.engine.writers.fcp_xml import fcp_xml_bytes

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange

_MARKER_COLOURS = {
    "intro": otio.schema.MarkerColor.GREEN,
    "credits": otio.schema.MarkerColor.BLUE,
    "trigger": otio.schema.MarkerColor.RED,
}
# A clip's `filmline` metadata: what an editor's timeline lacks. Its times are the source range
# (exact frames); every other number of the shot (label probabilities, similarities) is in the
# JSON under the same `index`. OTIO converts metadata value by value, 3 µs each, so the
# probabilities alone would double the OTIO's cost.
_SHOT_FIELDS = ("index", "key_frame", "key_frame_time", "thumbnail", "labels", "caption")


def timeline_rate(video: dict[str, Any]) -> float:
    """The timeline's rate: the container's average rate (else the decoded mean), as a timecode rate."""
    rate = video.get("average_fps") or video.get("fps") or 25.0
    return RationalTime.nearest_valid_timecode_rate(float(rate))


def frame_at(shots: list[dict[str, Any]], seconds: float) -> int:
    """The frame shown at `seconds`: found in its shot by time, then counted within it (exact for
    constant rate, nearest for variable)."""
    starts = [shot["start_time"] for shot in shots]
    shot = shots[max(0, bisect.bisect_right(starts, seconds) - 1)]
    frames = shot["end_frame"] - shot["start_frame"] + 1
    share = (seconds - shot["start_time"]) / shot["duration"] if shot["duration"] > 0 else 0.0
    return shot["start_frame"] + min(frames - 1, max(0, int(round(share * frames))))


def build_timeline(document: dict[str, Any], name: str, *, clip_metadata: bool = True) -> otio.schema.Timeline:
    """The document as an OTIO timeline (see the module's description). `clip_metadata=False`
    leaves out each clip's `filmline` metadata, which only the OTIO file carries and which is most
    of the cost (OTIO converts it value by value: 0.07 s for 2 000 shots)."""
    video, shots = document["video"], document["shots"]
    rate = timeline_rate(video)
    timeline = otio.schema.Timeline(name=name, global_start_time=RationalTime(0, rate))
    timeline.metadata["filmline"] = {
        "schema_version": document["schema_version"],
        "video": {k: video.get(k) for k in ("path", "duration", "fps", "average_fps", "frame_count", "width", "height")},
        "summary": document.get("summary"),
    }
    track = otio.schema.Track(name="shots", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    available = TimeRange(RationalTime(0, rate), RationalTime(video["frame_count"], rate))
    clips = []
    for shot in shots:
        clip = otio.schema.Clip(
            name=f"shot {shot['index'] + 1:04d}",
            media_reference=otio.schema.ExternalReference(target_url=video["path"], available_range=available),
            source_range=TimeRange(RationalTime(shot["start_frame"], rate),
                                   RationalTime(shot["end_frame"] - shot["start_frame"] + 1, rate)),
        )
        if clip_metadata:
            clip.metadata["filmline"] = {key: shot.get(key) for key in _SHOT_FIELDS}
        clips.append(clip)
    used_after: list[int] = [0] * len(shots)  # frames of each clip's start already under a transition
    for index, (clip, shot) in enumerate(zip(clips, shots)):
        transition = _transition(shot, shots[index - 1] if index else None, used_after[index - 1] if index else 0, rate)
        if transition is not None:
            track.append(transition)
            used_after[index] = transition.out_offset.to_frames()
        track.append(clip)
    starts = [shot["start_frame"] for shot in shots]
    for kind, first, length in _markers(document):
        clip_index = max(0, bisect.bisect_right(starts, first) - 1)
        clips[clip_index].markers.append(otio.schema.Marker(
            name=kind, color=_MARKER_COLOURS[kind.split(" ")[0]],
            marked_range=TimeRange(RationalTime(first, rate), RationalTime(length, rate)),
        ))
    return timeline


def _transition(shot: dict[str, Any], before: dict[str, Any] | None, before_used: int,
                rate: float) -> otio.schema.Transition | None:
    """The OTIO transition into `shot`, or None for a cut (or the first shot)."""
    boundary = shot["transition_in"]
    if before is None or boundary is None or boundary.get("span") is None:
        return None
    span = boundary["span"]
    frame = shot["start_frame"]
    before_frames = before["end_frame"] - before["start_frame"] + 1 - before_used
    in_frames = max(0, min(frame - span["start_frame"], before_frames))
    out_frames = max(0, min(span["end_frame"] + 1 - frame, shot["end_frame"] - shot["start_frame"] + 1))
    if in_frames + out_frames == 0:
        return None
    transition = otio.schema.Transition(
        name=boundary["kind"], transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=RationalTime(in_frames, rate), out_offset=RationalTime(out_frames, rate),
    )
    transition.metadata["filmline"] = {"kind": boundary["kind"], "span": span}
    return transition


def _markers(document: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(name, first frame, frames) of the intro, the credits and each trigger."""
    shots = document["shots"]
    found = []
    for kind in ("intro", "credits"):
        segment = document.get(kind)
        if segment:
            first = frame_at(shots, segment["start"])
            found.append((kind, first, max(1, frame_at(shots, segment["end"]) - first)))
    for trigger in (document.get("triggers") or {}).get("triggers", []):
        found.append((f"trigger {trigger['trigger_confidence']:.2f}", int(trigger["frame_index"]), 1))
    return found


def render_together(document: dict[str, Any], names: tuple[str, ...], options: ViewOptions) -> dict[str, bytes]:
    """The asked-for editorial formats, all from one timeline."""
    timeline = build_timeline(document, options.stem, clip_metadata="otio" in names)
    files = {}
    if "otio" in names:
        files["otio"] = otio.adapters.write_to_string(timeline, adapter_name="otio_json").encode("utf-8")
    if "fcpxml" in names:
        files["fcpxml"] = fcp_xml_bytes(timeline)
    if "edl" in names:
        files["edl"] = edl_bytes(timeline)
    return files


def _view(name: str):
    def view(document: dict[str, Any], options: ViewOptions) -> bytes:
        return render_together(document, (name,), options)[name]
    return view


VIEWS = {name: _view(name) for name in ("otio", "edl", "fcpxml")}

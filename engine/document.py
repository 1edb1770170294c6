"""The JSON result document of one video (schema in the README's "Output" section), assembled
once from the stages' typed sections (engine.sections); the only code that writes its fields."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import filmline
from filmline.engine.pipeline import ShotSettings
from filmline.engine.result import SCHEMA_VERSION
from filmline.engine.sections import (
    ModelReport,
    ObjectsSection,
    Sections,
    SeriesSection,
    ShotsSection,
    TriggersSection,
    VlmSection,
)
from filmline.engine.stages.shots import Boundary

# The order of `models` in results: the encoder and what was skipped first, the shot detector last.
MODELS_ORDER = ("encoder", "skipped", "trigger", "objects", "intro", "vlm", "shot_detector")
SEGMENT_KINDS = ("intro", "credits")


def build_document(path: Path, done: Sections, record: dict[str, Any], total_seconds: float) -> dict[str, Any]:
    """The result document from every stage's section; `record` is the run's (engine.run_outputs)."""
    shots_section, vlm = done.shots, done.vlm
    analysis, settings = shots_section.analysis, shots_section.settings
    info = analysis.info
    models = _models([section.models for section in done.all()])
    times = _Times(shots_section)
    shots = shot_entries(shots_section, times)
    if vlm is not None:
        shots = [{**shot, **vlm.shot_fields.get(shot["index"], {})} for shot in shots]
    frame_count = len(times.seconds)
    triggers_seconds = done.triggers.result.seconds_spent if done.triggers and done.triggers.result else None
    objects_seconds = done.objects.result.seconds_spent if done.objects and done.objects.result else None
    return {
        "schema_version": SCHEMA_VERSION,
        "engine": {"name": "filmline", "version": filmline.__version__,
                   "created": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "video": {
            "path": str(path.absolute()),
            "duration": times.end,
            "fps": frame_count / times.end if times.end > 0 else None,
            "average_fps": float(info.average_fps) if info.average_fps else None,
            "frame_count": frame_count,
            "width": info.width,
            "height": info.height,
            "codec": info.codec,
            "rotation": info.rotation,
            "sample_aspect_ratio": str(info.sample_aspect_ratio),
            "start_offset": float(info.start_pts * info.time_base),
            "corrupt_frames_skipped": analysis.corrupt_frames,
            "frames_lost": analysis.frames_lost,
            "truncated": analysis.truncated,
            "decoder": analysis.decoder_backend,
        },
        "models": models,
        "settings": asdict(settings),
        "shot_detection": {
            "method": _method(settings, models),
            "detector": models.get("shot_detector", {"name": "cheap"})["name"],
            "thresholds": asdict(settings.learned) if settings.learned is not None else None,
            "cut_candidates": len(analysis.cut_candidates),
            "rejected_by_encoder": [times.transition(b) for b in analysis.rejected],
            "embedded_frames": analysis.embedded_frames,
        },
        "shots": shots,
        "timings": {
            **analysis.timings,
            **({"triggers": triggers_seconds} if triggers_seconds is not None else {}),
            **({"objects": objects_seconds} if objects_seconds is not None else {}),
            "total": total_seconds,
            **({"vlm": vlm.seconds} if vlm is not None and vlm.seconds is not None else {}),
        },
        "triggers": _triggers(done.triggers, done.objects, vlm),
        "intro": done.intro.intro if done.intro else None,
        "credits": done.intro.credits if done.intro else None,
        "run": record,
        "summary": vlm.summary if vlm else None,
        "action_profile": vlm.action_profile if vlm else None,
        **({"vlm": vlm.report} if vlm is not None else {}),
    }


def shot_entries(section: ShotsSection, times: _Times | None = None) -> list[dict[str, Any]]:
    """The document's `shots`, as the stages after the shot stage read them (times in seconds)."""
    analysis, times = section.analysis, times or _Times(section)
    shots = []
    for shot, key, thumbnail in zip(analysis.shots, analysis.key_frames, analysis.thumbnails):
        start, end = times.at(shot.start_frame), times.at(shot.end_frame + 1)
        shots.append({
            "index": shot.index,
            "start_frame": shot.start_frame,
            "end_frame": shot.end_frame,
            "start_time": start,
            "end_time": end,
            "duration": end - start,
            "transition_in": times.transition(shot.transition_in),
            "transition_out": times.transition(shot.transition_out),
            "key_frame": key,
            "key_frame_time": times.at(key) if key is not None else None,
            "thumbnail": thumbnail,
        })
    return shots


def with_series(document: dict[str, Any], series: SeriesSection) -> dict[str, Any]:
    """`document` (new or kept from an earlier run) with its episode's part of the series
    comparison: its missing `intro` / `credits` filled from the segment that recurs across the
    episodes (what an earlier comparison put there is replaced)."""
    updated = {**document, "series": {"episodes": series.episodes, "feature_dim": series.feature_dim}}
    for kind in SEGMENT_KINDS:
        if (updated.get(kind) or {}).get("method") == "cross_episode":
            updated[kind] = None
    for entry in series.found:
        if updated.get(entry["kind"]) is None:
            updated[entry["kind"]] = entry
    return updated


class _Times:
    """Frame numbers as the document's seconds (the frame after the last one: the video's end)."""

    def __init__(self, section: ShotsSection) -> None:
        self.seconds = section.analysis.seconds  # one value per decoded frame, read once per document
        self.end = section.analysis.end_seconds

    def at(self, frame: int) -> float:
        return float(self.seconds[frame]) if frame < len(self.seconds) else self.end

    def transition(self, boundary: Boundary | None) -> dict[str, Any] | None:
        if boundary is None:
            return None
        span = None
        if boundary.span is not None:
            first, last = boundary.span
            span = {"start_frame": first, "end_frame": last, "start_time": self.at(first), "end_time": self.at(last + 1)}
        return {
            "kind": boundary.kind,
            "frame": boundary.frame,
            "time": self.at(boundary.frame),
            "span": span,
            "similarity": boundary.similarity,
            "probability": boundary.probability,
        }


def _triggers(section: TriggersSection | None, objects: ObjectsSection | None,
              vlm: VlmSection | None) -> dict[str, Any] | None:
    """The `triggers` field: the trigger stage's result, with the objects on each trigger's frame
    and what the VLM said about it."""
    result = section.result if section is not None else None
    if result is None:
        return None
    asked = vlm.triggers if vlm is not None else None
    found = objects.result if objects is not None else None
    triggers = [{"timestamp": t.timestamp, "frame_index": t.frame_index, "trigger_confidence": t.confidence,
                 "analysis": None} for t in result.triggers]
    if found is not None:
        triggers = [{**trigger, "objects": entry.objects, "image": entry.image}
                    for trigger, entry in zip(triggers, found.per_trigger)]
    if asked is not None:
        triggers = [{**trigger, **fields} for trigger, fields in zip(triggers, asked.fields)]
    return {
        "num_frames_analyzed": result.frames_analyzed,
        "num_triggers_detected": len(result.triggers),
        "triggers": triggers,
        "video_summary": asked.summary if asked is not None else None,
        "vlm": "ran" if asked is not None else "not run",
        "settings": asdict(result.settings),
        "model": result.model,
        **({"objects": {"detector": found.detector, **asdict(found.settings)}} if found is not None else {}),
    }


def _models(reports: list[ModelReport]) -> dict[str, Any]:
    """The `models` field: every stage's model facts, and every skipped stage in stage order."""
    entries: dict[str, Any] = {key: value for report in reports for key, value in report.entries.items()}
    entries["skipped"] = [skipped.to_json() for report in reports for skipped in report.skipped]
    ordered = {key: entries.pop(key) for key in MODELS_ORDER if key in entries}
    return {**ordered, **entries}


def _method(settings: ShotSettings, models: dict[str, Any]) -> str:
    """How the shots were decided, e.g. `transnetv2+cheap_pass+encoder` or `cheap_pass_only`."""
    encoder = "+encoder" if models.get("encoder") else ""
    if settings.learned is not None:
        return f"transnetv2+cheap_pass{encoder}"
    return f"cheap_pass{encoder}" if encoder else "cheap_pass_only"

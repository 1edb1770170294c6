"""The JSON result document of one video (schema in the README's "Output" section)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import filmline
from filmline.engine.pipeline import ShotSettings, VideoAnalysis
from filmline.engine.result import SCHEMA_VERSION
from filmline.engine.stages.shots import Boundary


def build_document(
    path: Path,
    analysis: VideoAnalysis,
    settings: ShotSettings,
    models: dict[str, Any],
    total_seconds: float,
) -> dict[str, Any]:
    """Assemble the result document. `models` is {"encoder": {...} | None, "skipped": [...]}."""
    info = analysis.info
    seconds = analysis.seconds

    def time_of(frame: int) -> float:
        return float(seconds[frame]) if frame < len(seconds) else analysis.end_seconds

    def transition(boundary: Boundary | None) -> dict[str, Any] | None:
        if boundary is None:
            return None
        span = None
        if boundary.span is not None:
            first, last = boundary.span
            span = {"start_frame": first, "end_frame": last, "start_time": time_of(first), "end_time": time_of(last + 1)}
        return {
            "kind": boundary.kind,
            "frame": boundary.frame,
            "time": time_of(boundary.frame),
            "span": span,
            "similarity": boundary.similarity,
            "probability": boundary.probability,
        }

    shots = []
    for shot, key, thumbnail in zip(analysis.shots, analysis.key_frames, analysis.thumbnails):
        start, end = time_of(shot.start_frame), time_of(shot.end_frame + 1)
        shots.append({
            "index": shot.index,
            "start_frame": shot.start_frame,
            "end_frame": shot.end_frame,
            "start_time": start,
            "end_time": end,
            "duration": end - start,
            "transition_in": transition(shot.transition_in),
            "transition_out": transition(shot.transition_out),
            "key_frame": key,
            "key_frame_time": time_of(key) if key is not None else None,
            "thumbnail": thumbnail,
        })
    frame_count = len(seconds)
    return {
        "schema_version": SCHEMA_VERSION,
        "engine": {"name": "filmline", "version": filmline.__version__,
                   "created": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "video": {
            "path": str(path.absolute()),
            "duration": analysis.end_seconds,
            "fps": frame_count / analysis.end_seconds if analysis.end_seconds > 0 else None,
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
            "rejected_by_encoder": [transition(b) for b in analysis.rejected],
            "embedded_frames": analysis.embedded_frames,
        },
        "shots": shots,
        "timings": {**analysis.timings, "total": total_seconds},
    }


def _method(settings: ShotSettings, models: dict[str, Any]) -> str:
    """How the shots were decided, e.g. `transnetv2+cheap_pass+encoder` or `cheap_pass_only`."""
    encoder = "+encoder" if models.get("encoder") else ""
    if settings.learned is not None:
        return f"transnetv2+cheap_pass{encoder}"
    return f"cheap_pass{encoder}" if encoder else "cheap_pass_only"

"""A generated result document of the full schema (shots with every transition kind, key frames,
intro, credits, triggers, labels, captions, summary, action profile), for the writers' tests and
their benchmark: a two-hour film with 2 000 shots is written in milliseconds without decoding.

The values are random, not results: nothing here is ever shown to a user as an analysis.
"""

from __future__ import annotations

import numpy as np

from filmline.engine.result import SCHEMA_VERSION
from filmline.engine.vlm.profile import action_profile

CATEGORIES = ("Fight", "Heist", "Escape", "Rescue", "Capture", "Pursuit", "Speed", "none")
GRADUAL_KINDS = ("dissolve", "fade_out", "fade_in", "fade")


def synthetic_document(shots: int = 2000, seconds: float = 7200.0, fps: float = 25.0, seed: int = 0,
                       video_path: str = "film.mkv", thumbnails: bool = True) -> dict:
    """A result document for a `seconds`-long video at `fps` with `shots` shots.

    One boundary in ten is gradual (span of 6–20 frames around it); the intro covers shots
    2–4, the credits the last three; one trigger every ~10 minutes; every shot has labels and
    a caption. `thumbnails` names `<stem>.keyframes/shot_NNNN.jpg` (the files are not written).
    """
    rng = np.random.default_rng(seed)
    frame_count = int(round(seconds * fps))
    shortest = min(25, frame_count // shots)  # frames: room for any transition's span
    lengths = shortest + rng.multinomial(frame_count - shortest * shots, np.full(shots, 1 / shots))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    cuts = starts[1:]
    ends = np.concatenate([cuts - 1, [frame_count - 1]])
    stem = video_path.rsplit("/", 1)[-1].rsplit(".", 1)[0]

    def time_of(frame: int) -> float:
        return frame / fps

    transitions = []
    for frame in cuts.tolist():
        if rng.random() < 0.1:
            kind = str(rng.choice(GRADUAL_KINDS))
            length = int(rng.integers(6, max(7, min(21, shortest))))
            first = {"fade_out": frame - length, "fade_in": frame}.get(kind, frame - length // 2)
            last = first + length - 1
            span = {"start_frame": first, "end_frame": last, "start_time": time_of(first), "end_time": time_of(last + 1)}
        else:
            kind, span = "cut", None
        transitions.append({"kind": kind, "frame": frame, "time": time_of(frame), "span": span,
                            "similarity": float(rng.uniform(0.2, 0.8))})
    document_shots = []
    for index, (start, end) in enumerate(zip(starts.tolist(), ends.tolist())):
        key = int((start + end) // 2)
        probabilities = rng.dirichlet(np.ones(len(CATEGORIES)))
        labels = [c for c, p in zip(CATEGORIES, probabilities) if p >= 0.2] or ["none"]
        document_shots.append({
            "index": index, "start_frame": start, "end_frame": end,
            "start_time": time_of(start), "end_time": time_of(end + 1), "duration": time_of(end + 1) - time_of(start),
            "transition_in": transitions[index - 1] if index else None,
            "transition_out": transitions[index] if index < len(transitions) else None,
            "key_frame": key, "key_frame_time": time_of(key),
            "thumbnail": f"{stem}.keyframes/shot_{index + 1:04d}.jpg" if thumbnails else None,
            "labels": labels,
            "label_probabilities": {c: round(float(p), 4) for c, p in zip(CATEGORIES, probabilities)},
            "label_method": "logprobs",
            "caption": f"Shot {index + 1}: a generated caption of {len(labels)} label(s), {labels[0].lower()} in frame.",
            "vlm_frames": [key], "vlm_error": None,
        })
    duration = time_of(frame_count)
    intro_shots = document_shots[1:4] if shots > 6 else document_shots[:1]
    credits_shots = document_shots[-3:] if shots > 6 else document_shots[-1:]
    trigger_frames = sorted(rng.choice(frame_count, size=max(1, int(seconds // 600)), replace=False).tolist())
    return {
        "schema_version": SCHEMA_VERSION,
        "engine": {"name": "filmline", "version": "0.0-generated", "created": "2026-01-01T00:00:00+00:00"},
        "video": {
            "path": video_path, "duration": duration, "fps": fps, "average_fps": fps, "frame_count": frame_count,
            "width": 854, "height": 480, "codec": "h264", "rotation": 0, "sample_aspect_ratio": "1",
            "start_offset": 0.0, "corrupt_frames_skipped": 0, "truncated": False, "decoder": "pyav",
        },
        "models": {
            "encoder": {"name": "siglip", "backend": "onnxruntime", "manifest_hash": "0123456789ab"},
            "skipped": [{"stage": "triggers", "reason": "generated document: no trigger model ran",
                         "fix": "engine-build --model trigger --checkpoint FILE"}],
        },
        "settings": {"fps": 1.0},
        "shot_detection": {"method": "cheap_pass+encoder", "cut_candidates": shots, "rejected_by_encoder": [],
                           "embedded_frames": int(seconds)},
        "shots": document_shots,
        "intro": {"kind": "intro", "start": intro_shots[0]["start_time"], "end": intro_shots[-1]["end_time"],
                  "confidence": 0.9, "method": "intro_transformer"},
        "credits": {"kind": "credits", "start": credits_shots[0]["start_time"], "end": credits_shots[-1]["end_time"],
                    "confidence": 0.8, "method": "intro_transformer"},
        "triggers": {
            "num_frames_analyzed": int(seconds * 3), "num_triggers_detected": len(trigger_frames),
            "triggers": [{"timestamp": time_of(f), "frame_index": f, "trigger_confidence": float(rng.uniform(0.3, 1)),
                          "analysis": f"A generated description of the event at frame {f}."} for f in trigger_frames],
            "video_summary": "A generated summary of the triggers.", "vlm": "ran",
        },
        "summary": "A generated summary of the whole video, from its captions.",
        "action_profile": action_profile(document_shots, duration, "none"),
        "vlm": {"status": "ran", "failed_total": 0},
        "timings": {"total": 1.0},
    }

"""The action profile of a film: how much of each minute carries each label, and the longest
stretches of action.

- Per minute: for each label, the share of that minute's duration covered by shots carrying it
  (several labels may hold for one shot, so shares of a minute can add up to more than 1);
  `unlabelled` is the share covered by shots without labels (not sent to the model, or failed).
  The last minute is as long as what is left of the film.
- Sequences: runs of consecutive shots whose labels include an action (anything but the none
  category), merged; a shot without labels ends a run, as its action is unknown. Each lists its
  labels by the seconds they cover, and as `dominant` those covering at least half the sequence
  (at least the first). Sorted longest first.
"""

from __future__ import annotations

from typing import Any, Sequence

DOMINANT_SHARE = 0.5


def action_profile(shots: Sequence[dict[str, Any]], duration: float, none: str, *,
                   minute_seconds: float = 60.0, sequences: int = 10) -> dict[str, Any]:
    """`shots` are result-document shots (start_time, end_time, labels: list or None)."""
    return {
        "minute_seconds": minute_seconds,
        "minutes": _minutes(shots, duration, minute_seconds),
        "sequences": _sequences(shots, none)[:sequences],
    }


def _minutes(shots: Sequence[dict[str, Any]], duration: float, minute_seconds: float) -> list[dict[str, Any]]:
    minutes = []
    start = 0.0
    while start < duration:
        end = min(start + minute_seconds, duration)
        covered: dict[str, float] = {}
        unlabelled = 0.0
        for shot in shots:
            overlap = min(end, shot["end_time"]) - max(start, shot["start_time"])
            if overlap <= 0:
                continue
            if shot.get("labels") is None:
                unlabelled += overlap
            for label in shot.get("labels") or ():
                covered[label] = covered.get(label, 0.0) + overlap
        length = end - start
        minutes.append({
            "start": start, "end": end,
            "shares": {label: seconds / length for label, seconds in sorted(covered.items(), key=lambda kv: -kv[1])},
            "unlabelled": unlabelled / length,
        })
        start = end
    return minutes


def _sequences(shots: Sequence[dict[str, Any]], none: str) -> list[dict[str, Any]]:
    runs: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for shot in shots:
        actions = [label for label in shot.get("labels") or () if label != none]
        if actions:
            current.append(shot)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    found = []
    for run in runs:
        start, end = run[0]["start_time"], run[-1]["end_time"]
        seconds: dict[str, float] = {}
        for shot in run:
            for label in shot["labels"]:
                if label != none:
                    seconds[label] = seconds.get(label, 0.0) + shot["end_time"] - shot["start_time"]
        ranked = sorted(seconds.items(), key=lambda kv: (-kv[1], kv[0]))
        dominant = [label for label, s in ranked if s >= DOMINANT_SHARE * (end - start)] or [ranked[0][0]]
        found.append({
            "start_time": start, "end_time": end, "duration": end - start,
            "shots": [shot["index"] for shot in run],
            "labels": dict(ranked), "dominant": dominant,
        })
    return sorted(found, key=lambda s: (-s["duration"], s["start_time"]))

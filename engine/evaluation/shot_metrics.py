"""Scores of a shot list against the truth: boundaries, gradual spans, asgaard-action-movies-2's start/end error.

Boundaries: every true change (hard cut or gradual) is an interval of boundary positions, every
predicted change the position where its new shot starts; a prediction matches a true change
when it lies within the tolerance of the interval (inside it: distance 0), so a dissolve split in
its middle matches the true dissolve at 0 frames, while a long span reported around a true cut
counts where it puts the boundary. Matching is greedy and one-to-one: closest pairs first.
Tolerances in frames compare frame numbers when both sides have them, else times with half a
frame of slack for rounding.

Gradual transitions: true and predicted changes that span blended frames, matched one-to-one by
the overlap of their spans (largest intersection over union first); any overlap is a match.

Seed error: the seed (asgaard-action-movies) pairs the i-th true shot with the i-th predicted
shot and averages |start - start_true| and |end - end_true| in seconds. One missed or extra shot
shifts every later pair, so it is reported as the seed computed it and read beside the F1.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from filmline.engine.errors import BadInputError
from filmline.engine.evaluation.shot_annotations import Change, ShotAnnotation

TIME_SLACK = 0.0005  # seconds: CSV times are rounded to the millisecond


@dataclass(frozen=True)
class Tolerance:
    name: str
    frames: int | None = None
    seconds: float | None = None


TOLERANCES = (Tolerance("0f", frames=0), Tolerance("2f", frames=2), Tolerance("1s", seconds=1.0))


def prf(tp: int, n_true: int, n_pred: int) -> dict[str, float | int]:
    """Precision, recall and F1; with nothing on one side, both are 1 only if both sides are empty."""
    precision = tp / n_pred if n_pred else float(n_true == 0)
    recall = tp / n_true if n_true else float(n_pred == 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": n_pred - tp, "fn": n_true - tp, "precision": precision, "recall": recall, "f1": f1}


def match_changes(
    truth: list[Change], predicted: list[Change], tolerance: Tolerance, fps: float | None
) -> list[tuple[int, int]]:
    """Greedy one-to-one (truth index, predicted index) pairs within `tolerance`, closest first."""
    in_frames = tolerance.frames is not None and _all_have_frames(truth) and _all_have_frames(predicted)
    if in_frames:
        limit: float = tolerance.frames

        def interval(change: Change) -> tuple[float, float]:
            return float(change.first_frame), float(change.last_frame)

        def point(change: Change) -> float:
            return float(change.at_frame)
    else:
        if tolerance.frames is not None and not fps:
            raise BadInputError(f"a {tolerance.frames}-frame tolerance on times needs the frame rate: pass --fps")
        slack = 0.5 / fps if fps else TIME_SLACK
        limit = (tolerance.frames / fps if tolerance.frames is not None else tolerance.seconds) + slack

        def interval(change: Change) -> tuple[float, float]:
            return change.first_time, change.last_time

        def point(change: Change) -> float:
            return change.at_time

    points = sorted((point(p), k) for k, p in enumerate(predicted))
    positions = [position for position, _ in points]
    pairs = []
    for t, change in enumerate(truth):
        first, last = interval(change)
        near = points[bisect.bisect_left(positions, first - limit) : bisect.bisect_right(positions, last + limit)]
        for position, k in near:
            distance = max(0.0, position - last, first - position)
            pairs.append((distance, abs(2 * position - first - last) / 2, t, k))
    matched_truth: set[int] = set()
    matched_predicted: set[int] = set()
    matches = []
    for _, _, t, k in sorted(pairs):
        if t not in matched_truth and k not in matched_predicted:
            matched_truth.add(t)
            matched_predicted.add(k)
            matches.append((t, k))
    return sorted(matches)


def boundary_scores(truth: ShotAnnotation, predicted: ShotAnnotation, fps: float | None) -> dict[str, Any]:
    """P/R/F1 per tolerance, with recall per kind of true change and hard-negative false alarms."""
    scores: dict[str, Any] = {}
    for tolerance in TOLERANCES:
        matches = match_changes(truth.changes, predicted.changes, tolerance, fps)
        entry = prf(len(matches), len(truth.changes), len(predicted.changes))
        found = {t for t, _ in matches}
        by_kind: dict[str, list[int]] = {}
        for t, change in enumerate(truth.changes):
            by_kind.setdefault(change.kind, []).append(t in found)
        entry["recall_by_kind"] = {kind: sum(hits) / len(hits) for kind, hits in sorted(by_kind.items())}
        if truth.negatives:
            unmatched = [p for k, p in enumerate(predicted.changes) if k not in {k for _, k in matches}]
            entry["false_alarms_at_negatives"] = _false_alarms(truth, unmatched, tolerance, fps)
        scores[tolerance.name] = entry
    return scores


def gradual_scores(truth: ShotAnnotation, predicted: ShotAnnotation) -> dict[str, Any]:
    """Gradual transitions matched by span overlap; `mean_iou` over the matched pairs."""
    true_spans = [c for c in truth.changes if c.gradual]
    predicted_spans = [c for c in predicted.changes if c.gradual]
    candidates = []
    for t, a in enumerate(true_spans):
        for k, b in enumerate(predicted_spans):
            iou = _iou(a, b)
            if iou > 0:
                candidates.append((-iou, t, k))
    used_t: set[int] = set()
    used_k: set[int] = set()
    ious = []
    for negative_iou, t, k in sorted(candidates):
        if t not in used_t and k not in used_k:
            used_t.add(t)
            used_k.add(k)
            ious.append(-negative_iou)
    scores: dict[str, Any] = prf(len(ious), len(true_spans), len(predicted_spans))
    scores["mean_iou"] = sum(ious) / len(ious) if ious else None
    return scores


def seed_mae(truth: ShotAnnotation, predicted: ShotAnnotation) -> dict[str, Any]:
    """The metric asgaard-action-movies-2 reports: shot i against shot i, mean |start error| and |end error| in seconds."""
    pairs = list(zip(truth.shots, predicted.shots))
    if not pairs:
        return {"start": None, "end": None, "pairs": 0}
    return {
        "start": sum(abs(p[0] - t[0]) for t, p in pairs) / len(pairs),
        "end": sum(abs(p[1] - t[1]) for t, p in pairs) / len(pairs),
        "pairs": len(pairs),
    }


def score_shots(truth: ShotAnnotation, predicted: ShotAnnotation, fps: float | None = None) -> dict[str, Any]:
    """Every shot score of `predicted` against `truth`; `fps` defaults to what the files say."""
    rate = fps or truth.fps or predicted.fps
    return {
        "truth": {"source": truth.source, "format": truth.format, "shots": len(truth.shots),
                  "changes": len(truth.changes), "gradual": sum(c.gradual for c in truth.changes)},
        "predicted": {"source": predicted.source, "format": predicted.format, "shots": len(predicted.shots),
                      "changes": len(predicted.changes), "gradual": sum(c.gradual for c in predicted.changes)},
        "fps": rate,
        "boundaries": boundary_scores(truth, predicted, rate),
        "gradual": gradual_scores(truth, predicted),
        "seed_mae_seconds": seed_mae(truth, predicted),
    }


def _all_have_frames(changes: list[Change]) -> bool:
    return all(c.first_frame is not None and c.at_frame is not None for c in changes)


def _iou(a: Change, b: Change) -> float:
    if a.first_frame is not None and b.first_frame is not None:
        spans = (a.first_frame, a.last_frame), (b.first_frame, b.last_frame)
    else:
        spans = (a.first_time, a.last_time), (b.first_time, b.last_time)
    (a0, a1), (b0, b1) = spans
    inter = min(a1, b1) - max(a0, b0)
    union = max(a1, b1) - min(a0, b0)
    return inter / union if inter > 0 and union > 0 else 0.0


def _false_alarms(
    truth: ShotAnnotation, unmatched: list[Change], tolerance: Tolerance, fps: float | None
) -> dict[str, int]:
    """Unmatched predicted changes that fall on a hard negative (within the tolerance), by kind."""
    counts = {kind: 0 for kind in sorted({n.kind for n in truth.negatives})}
    margin = tolerance.frames if tolerance.frames is not None else round((tolerance.seconds or 0) * (fps or 0))
    for change in unmatched:
        if change.at_frame is None:
            continue
        for negative in truth.negatives:
            if negative.first_frame - margin <= change.at_frame <= negative.last_frame + 1 + margin:
                counts[negative.kind] += 1
                break
    return counts

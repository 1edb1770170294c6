"""How well triggers are found: per frame, and per event within a time tolerance.

Per frame counts every sampled frame's decision against its label. Per event matches each
annotated event to at most one detected trigger within ±tolerance seconds and vice versa; the
matching is maximal (earliest feasible trigger per event in time order, which is optimal when all
events share one tolerance), so the score does not depend on the order triggers were found in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Scores:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 0.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 0.0

    @property
    def f1(self) -> float:
        total = 2 * self.true_positives + self.false_positives + self.false_negatives
        return 2 * self.true_positives / total if total else 1.0  # nothing to find, nothing found

    def __add__(self, other: "Scores") -> "Scores":
        return Scores(
            self.true_positives + other.true_positives,
            self.false_positives + other.false_positives,
            self.false_negatives + other.false_negatives,
        )

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall, "f1": self.f1}


def frame_scores(predicted: np.ndarray, labels: np.ndarray) -> Scores:
    predicted, actual = np.asarray(predicted, dtype=bool), np.asarray(labels) > 0.5
    return Scores(
        int((predicted & actual).sum()), int((predicted & ~actual).sum()), int((~predicted & actual).sum())
    )


def event_scores(detected: Sequence[float], events: Sequence[float], tolerance: float) -> Scores:
    """Detected trigger times against annotated event times, each matched at most once."""
    found = sorted(detected)
    used = [False] * len(found)
    matched = 0
    start = 0
    for event in sorted(events):
        while start < len(found) and found[start] < event - tolerance:
            start += 1
        for i in range(start, len(found)):
            if found[i] > event + tolerance:
                break
            if not used[i]:
                used[i] = True
                matched += 1
                break
    return Scores(matched, len(found) - matched, len(events) - matched)

"""Frame-accurate hard-cut candidates from the cheap pass, decided while decoding.

A frame is a candidate (the first frame of a new shot) when its change score stands out from
its neighbours' — the adaptive rule PySceneDetect's AdaptiveDetector made popular: a ratio to the
mean of `window` frames on each side, plus an absolute floor. Deciding frame i needs frames up to
i + window, so the detector lags the decoder by `window` frames; the pipeline keeps that many
decoded frames so it can still embed the frames either side of each candidate.
"""

from __future__ import annotations

from collections.abc import Iterable


class CutCandidateDetector:
    """Streaming detector: feed change scores in frame order, get candidates as they are decided."""

    def __init__(self, ratio: float, window: int, min_score: float) -> None:
        if ratio <= 1.0 or window < 1 or min_score < 0:
            raise ValueError("need ratio > 1, window >= 1, min_score >= 0")
        self.ratio = ratio
        self.window = window
        self.min_score = min_score
        self._scores: list[float] = []  # only the last 2·window + 1 are kept
        self._first_index = 0  # frame index of self._scores[0]
        self._next_undecided = 1  # frame 0 starts the video: never a cut
        self.scores_of_candidates: dict[int, float] = {}

    def push(self, scores: Iterable[float]) -> list[int]:
        """Scores of the next frames (score i = change from frame i-1 to i); returns new candidates."""
        self._scores.extend(float(s) for s in scores)
        decided: list[int] = []
        while self._next_undecided + self.window < self._first_index + len(self._scores):
            self._decide(self._next_undecided, decided)
        self._trim()
        return decided

    def finish(self) -> list[int]:
        """Decide the last frames, whose right-hand window is cut short by the end of the video."""
        decided: list[int] = []
        while self._next_undecided < self._first_index + len(self._scores):
            self._decide(self._next_undecided, decided)
        return decided

    def _decide(self, index: int, decided: list[int]) -> None:
        local = index - self._first_index
        score = self._scores[local]
        low = max(local - self.window, 1 - self._first_index, 0)
        high = min(local + self.window + 1, len(self._scores))
        neighbours = [self._scores[j] for j in range(low, high) if j != local]
        baseline = sum(neighbours) / len(neighbours) if neighbours else 0.0
        if score >= self.min_score and score >= self.ratio * baseline:
            decided.append(index)
            self.scores_of_candidates[index] = score
        self._next_undecided += 1

    def _trim(self) -> None:
        keep_from = self._next_undecided - self.window - self._first_index
        if keep_from > 0:
            del self._scores[:keep_from]
            self._first_index += keep_from


def find_cut_candidates(scores: Iterable[float], ratio: float, window: int, min_score: float) -> list[int]:
    """All candidates of a whole score sequence (the streaming detector run to the end)."""
    detector = CutCandidateDetector(ratio, window, min_score)
    return detector.push(scores) + detector.finish()

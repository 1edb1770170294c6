"""Frame-accurate hard-cut candidates from the cheap pass, decided while decoding.

A frame is a candidate (the first frame of a new shot) when its change score stands out from
its neighbours' — the adaptive rule PySceneDetect's AdaptiveDetector made popular: a ratio to the
mean of `window` frames on each side, plus an absolute floor. Inside fast motion the luminance
change of every frame is high, so a cut there stands out only in colour: a frame whose colour
histogram change stands out by the same ratio (and reaches `min_colour`) is a candidate too.

A flash is no cut: when the picture comes back, within `flash_frames` frames, to what it was
before a candidate (its luminance distance to that frame at most `flash_return` of the jump),
the candidate and the frame the picture returns on are one transient, and neither is a cut.

Deciding frame i needs frames up to i + `lookahead`, so the detector lags the decoder by that
many frames; the pipeline keeps that many decoded frames so it can still embed the frames either
side of each candidate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


from filmline.engine.stages.cheap_pass import FrameChanges


@dataclass(frozen=True)
class _Row:
    score: float
    colour: float
    returns: tuple[float, ...]  # luminance change to 1, 2, ... frames earlier


@dataclass(frozen=True)
class CutRules:
    ratio: float  # a candidate's score (or colour change) exceeds this multiple of its neighbours' mean...
    window: int  # ...over this many frames on each side...
    min_score: float  # ...and its score is at least this
    min_colour: float = 1.0  # a colour-only candidate changes at least this share of the histogram (1: never)
    flash_frames: int = 0  # longest flash (frames) that is no cut
    flash_return: float = 0.5  # the picture is back when within this share of the jump


class CutCandidateDetector:
    """Streaming detector: feed change scores in frame order, get candidates as they are decided."""

    def __init__(self, rules: CutRules) -> None:
        if rules.ratio <= 1.0 or rules.window < 1 or rules.min_score < 0 or rules.flash_frames < 0:
            raise ValueError("need ratio > 1, window >= 1, min_score >= 0, flash_frames >= 0")
        self.rules = rules
        self.lookahead = max(rules.window, rules.flash_frames)
        self._rows: list[_Row] = []  # only the frames still needed are kept
        self._first_index = 0  # frame index of self._rows[0]
        self._next_undecided = 1  # frame 0 starts the video: never a cut
        self.scores_of_candidates: dict[int, float] = {}

    def push(self, changes: FrameChanges | Iterable[float]) -> list[int]:
        """The next frames' changes (a `CheapPass` batch, or bare scores: score i = change from
        frame i-1 to i, without the colour and flash rules); returns the new candidates."""
        if isinstance(changes, FrameChanges):
            self._rows += [_Row(float(s), float(c), tuple(map(float, r)))
                           for s, c, r in zip(changes.score, changes.colour, changes.returns)]
        else:
            self._rows += [_Row(float(s), 0.0, ()) for s in changes]
        decided: list[int] = []
        while self._next_undecided + self.lookahead < self._first_index + len(self._rows):
            self._decide(self._next_undecided, decided)
        self._trim()
        return decided

    def finish(self) -> list[int]:
        """Decide the last frames, whose right-hand window is cut short by the end of the video."""
        decided: list[int] = []
        while self._next_undecided < self._first_index + len(self._rows):
            self._decide(self._next_undecided, decided)
        return decided

    def _decide(self, index: int, decided: list[int]) -> None:
        rules = self.rules
        local = index - self._first_index
        row = self._rows[local]
        low = max(local - rules.window, 1 - self._first_index, 0)
        high = min(local + rules.window + 1, len(self._rows))
        neighbours = [self._rows[j] for j in range(low, high) if j != local]

        def stands_out(value: float, of_row) -> bool:
            baseline = sum(of_row(n) for n in neighbours) / len(neighbours) if neighbours else 0.0
            return value >= rules.ratio * baseline

        if row.score >= rules.min_score and (
            stands_out(row.score, lambda n: n.score)
            or (row.colour >= rules.min_colour and stands_out(row.colour, lambda n: n.colour))
        ) and not self._transient(local):
            decided.append(index)
            self.scores_of_candidates[index] = row.score
        self._next_undecided += 1

    def _transient(self, local: int) -> bool:
        """The picture at `local` left (or came back to) the picture of a few frames before."""
        rules, row = self.rules, self._rows[local]
        if not rules.flash_frames or not row.returns:
            return False
        jump = rules.flash_return * row.returns[0]
        back = any(row.returns[k] <= jump for k in range(1, min(rules.flash_frames + 1, len(row.returns))))
        later = (self._rows[local - 1 + k] for k in range(2, rules.flash_frames + 2) if local - 1 + k < len(self._rows))
        leaves = any(later_row.returns[k] <= jump for k, later_row in enumerate(later, start=1)
                     if k < len(later_row.returns))
        return back or leaves

    def _trim(self) -> None:
        keep_from = self._next_undecided - self.rules.window - 1 - self._first_index
        if keep_from > 0:
            del self._rows[:keep_from]
            self._first_index += keep_from


def find_cut_candidates(scores: Iterable[float], ratio: float, window: int, min_score: float) -> list[int]:
    """All candidates of a whole score sequence (the streaming detector run to the end)."""
    detector = CutCandidateDetector(CutRules(ratio, window, min_score))
    return detector.push(scores) + detector.finish()

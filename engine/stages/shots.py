"""Shots from candidates: verify with embeddings, enforce a minimum length, cover every frame.

A candidate hard cut at frame i is kept when the embeddings of frames i-1 and i are less similar
than τ; a dissolve when the embeddings nearest before and after its span are. Fades through
black need no encoder (the black frames are the evidence). Without an encoder every candidate
stands, and the result says the shots come from the cheap pass alone.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace

import numpy as np
import torch

from filmline import kernels
from filmline.engine.stages.gradual import GradualTransition


@dataclass(frozen=True)
class Boundary:
    """The start of a shot other than the first."""

    frame: int  # first frame of the new shot
    kind: str  # "cut" | "fade_out" | "fade_in" | "fade" (out and in through black) | "dissolve"
    span: tuple[int, int] | None  # first and last frame of a gradual transition
    score: float  # cheap-pass evidence: change score of a cut, span length of a gradual one
    similarity: float | None = None  # cosine of the embeddings across it, when the encoder ran
    probability: float | None = None  # the learned detector's peak probability, when it ran

    def strength(self) -> float:
        """For choosing which of two boundaries to give up: gradual and dissimilar ones win."""
        if self.probability is not None:
            return self.probability
        if self.similarity is not None:
            return 1.0 - self.similarity
        return 1.0 if self.span is not None else min(self.score / 255.0, 0.99)


@dataclass(frozen=True)
class Shot:
    index: int
    start_frame: int
    end_frame: int  # inclusive
    transition_in: Boundary | None
    transition_out: Boundary | None


class EmbeddingTable:
    """Embeddings of the frames the encoder saw, looked up by frame index."""

    def __init__(self, frame_indices: list[int], embeddings: np.ndarray) -> None:
        order = np.argsort(frame_indices, kind="stable")
        self.frames = [int(frame_indices[i]) for i in order]
        self.vectors = torch.from_numpy(np.ascontiguousarray(embeddings[order], dtype=np.float32))
        self._position = {f: p for p, f in enumerate(self.frames)}

    def __len__(self) -> int:
        return len(self.frames)

    def position(self, frame: int) -> int | None:
        return self._position.get(frame)

    def last_before(self, frame: int) -> int | None:
        """Position of the last embedded frame < `frame`."""
        p = bisect.bisect_left(self.frames, frame) - 1
        return p if p >= 0 else None

    def first_after(self, frame: int) -> int | None:
        """Position of the first embedded frame > `frame`."""
        p = bisect.bisect_right(self.frames, frame)
        return p if p < len(self.frames) else None

    def pair_similarity(self, left: list[int], right: list[int]) -> np.ndarray:
        """cos(vectors[left[k]], vectors[right[k]]) for every k, through the similarity kernel."""
        if not left:
            return np.zeros(0, dtype=np.float32)
        index = torch.tensor([p for pair in zip(left, right) for p in pair], dtype=torch.long)
        adjacent = kernels.adjacent_similarity(self.vectors[index], 1)[0]
        return adjacent[0::2].numpy()


def decide_boundaries(
    cut_candidates: dict[int, float],
    gradual: list[GradualTransition],
    table: EmbeddingTable | None,
    threshold: float,
) -> tuple[list[Boundary], list[Boundary]]:
    """Kept and rejected boundaries, each sorted by frame.

    `cut_candidates` maps frame → change score. Candidates inside a gradual span belong to it.
    """
    inside_gradual = {f for t in gradual for f in range(t.first + 1, t.last + 1)}
    proposed = [Boundary(f, "cut", None, s) for f, s in sorted(cut_candidates.items()) if f not in inside_gradual]
    proposed += [Boundary(t.boundary, t.kind, (t.first, t.last), float(t.last - t.first + 1)) for t in gradual]
    proposed.sort(key=lambda b: b.frame)
    if table is None or len(table) == 0:
        return _unique_frames(proposed), []
    left, right, which = [], [], []
    for k, boundary in enumerate(proposed):
        if boundary.span is None:
            a, b = table.position(boundary.frame - 1), table.position(boundary.frame)
        else:
            a, b = table.last_before(boundary.span[0]), table.first_after(boundary.span[1])
        if a is not None and b is not None:
            left.append(a), right.append(b), which.append(k)
    for k, similarity in zip(which, table.pair_similarity(left, right)):
        proposed[k] = replace(proposed[k], similarity=float(similarity))
    kept, rejected = [], []
    for boundary in proposed:
        is_fade = boundary.kind.startswith("fade")
        verified = boundary.similarity is None or boundary.similarity < threshold
        (kept if is_fade or verified else rejected).append(boundary)
    return _unique_frames(kept), rejected


def _unique_frames(boundaries: list[Boundary]) -> list[Boundary]:
    """One boundary per frame (a gradual one wins over a cut at the same frame); never frame 0."""
    by_frame: dict[int, Boundary] = {}
    for boundary in boundaries:
        if boundary.frame <= 0:
            continue
        held = by_frame.get(boundary.frame)
        if held is None or (held.span is None and boundary.span is not None):
            by_frame[boundary.frame] = boundary
    return [by_frame[f] for f in sorted(by_frame)]


def build_shots(boundaries: list[Boundary], seconds: np.ndarray, end_seconds: float, min_shot_seconds: float) -> list[Shot]:
    """Shots covering frames 0..len(seconds)-1 in order, none shorter than `min_shot_seconds`
    unless the whole video is. `seconds[i]` is frame i's time; `end_seconds` the video's end."""
    frame_count = len(seconds)
    kept = [b for b in boundaries if 0 < b.frame < frame_count]
    while kept:
        starts = [0] + [b.frame for b in kept]
        ends = [b.frame for b in kept] + [frame_count]
        durations = [_time(seconds, end_seconds, e) - _time(seconds, end_seconds, s) for s, e in zip(starts, ends)]
        shortest = int(np.argmin(durations))
        if durations[shortest] >= min_shot_seconds:
            break
        kept = _merge_short_shot(kept, shortest)
    shots: list[Shot] = []
    starts = [0] + [b.frame for b in kept]
    for k, start in enumerate(starts):
        end = kept[k].frame - 1 if k < len(kept) else frame_count - 1
        shots.append(Shot(k, start, end, kept[k - 1] if k > 0 else None, kept[k] if k < len(kept) else None))
    return shots


def _time(seconds: np.ndarray, end_seconds: float, frame: int) -> float:
    return float(seconds[frame]) if frame < len(seconds) else end_seconds


def _merge_short_shot(kept: list[Boundary], shot: int) -> list[Boundary]:
    """Remove one boundary of shot `shot` (bounded by kept[shot-1] and kept[shot])."""
    left = kept[shot - 1] if shot > 0 else None
    right = kept[shot] if shot < len(kept) else None
    if left is not None and right is not None and left.kind == "fade_out" and right.kind == "fade_in":
        # a short black gap between a fade-out and a fade-in: one fade through black
        fused = Boundary(right.frame, "fade", (left.span[0], right.span[1]), left.score + right.score,
                         _min_similarity(left, right))
        return kept[: shot - 1] + [fused] + kept[shot + 1 :]
    if left is None or (right is not None and right.strength() < left.strength()):
        return kept[:shot] + kept[shot + 1 :]
    return kept[: shot - 1] + kept[shot:]


def _min_similarity(a: Boundary, b: Boundary) -> float | None:
    values = [s for s in (a.similarity, b.similarity) if s is not None]
    return min(values) if values else None

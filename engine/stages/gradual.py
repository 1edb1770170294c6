"""Gradual transitions (fades to and from black, dissolves, wipes) from the cheap-pass statistics.

Fades: a run of black frames (every thumbnail cell dark) with the mean luminance falling into it
(fade-out) or rising out of it (fade-in) monotonically for at least `min_frames` frames.

Dissolves: while two shots blend, the picture moves steadily from one to the other, so the
change over `lag` frames is about the sum of the `lag` one-frame changes ("coherent"), large,
and well above the same statistic in the shots around it (its rolling lower quartile): within a
shot, noise cancels over `lag` frames, and steady motion stays at the shot's own level. The
stretch found is trimmed to the frames whose one-frame change stands above its local baseline.

Fast motion passes those tests too, so inside each stretch only the runs of frames that are
mixes of the frames around them stand (`blend_evidence`): a dissolve when they are mixes at every
lag that fits, a wipe when each pixel is either the old picture or the new one. Motion alone
never makes a gradual transition. Without an encoder this evidence is all a dissolve has.

A gradual span never swallows a stronger cut: when a cut candidate inside it changes the
luminance `cut_ratio` times more than the span's median frame, the span was the cut's own smear
(a cut inside motion) and only the cut stands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filmline.engine.stages.blend_evidence import LAGS, blend_runs, span_evidence
from filmline.engine.stages.cheap_pass import CheapFeatures


@dataclass(frozen=True)
class GradualTransition:
    kind: str  # "fade_out" | "fade_in" | "dissolve" | "wipe"
    first: int  # first frame of the span
    last: int  # last frame of the span (inclusive)

    @property
    def boundary(self) -> int:
        """The first frame of the next shot: after a fade-out the black begins, a fade-in starts
        the new shot, a dissolve is split in the middle."""
        if self.kind == "fade_out":
            return self.last + 1
        if self.kind == "fade_in":
            return self.first
        return (self.first + self.last + 1) // 2


@dataclass(frozen=True)
class GradualSettings:
    black_level: float  # a frame whose 95th-percentile cell is at most this is black (0-255)
    min_frames: int
    max_frames: int
    min_change: float  # dissolve: change over `lag` frames at least this (0-255 mean abs)
    max_mix_residual: tuple[float, ...]  # dissolve, per blend_evidence.LAGS: frames inside explained
    # by a mix of the frames that many before and after them
    max_wipe_residual: float  # wipe: each pixel inside is close to the old or the new picture
    cut_ratio: float  # a cut candidate this many times the span's median change is a cut
    # the rest: fixed properties of the statistics, not settings (configs/pipeline.yaml has the settings)
    min_coherence: float = 0.6  # dissolve: lag change ≥ this fraction of the summed 1-frame changes
    max_single_share: float = 0.5  # dissolve: no one frame carries more of the change (else a cut)
    min_contrast: float = 1.5  # dissolve: lag change ≥ this multiple of its local baseline
    min_step: float = 0.15  # fade: mean luminance moves at least this much per frame


RUN_WIPE_RESIDUAL = 0.2  # a frame belongs to a wipe's run up to this (the span's median must reach the setting)


def find_gradual_transitions(
    features: CheapFeatures, settings: GradualSettings, cut_candidates: dict[int, float] | None = None
) -> list[GradualTransition]:
    """Fades, dissolves and wipes of a whole video, ordered by first frame and never overlapping;
    none swallows a stronger one of `cut_candidates` (frame → change score)."""
    found = _find_gradual(features, settings)
    frames = sorted(cut_candidates or ())
    return [t for t in found if not _holds_stronger_cut(t, frames, features.diff, settings.cut_ratio)]


def _holds_stronger_cut(span: GradualTransition, candidates: list[int], diff: np.ndarray, ratio: float) -> bool:
    """A candidate inside the span changes the luminance `ratio` times more than the span's
    median frame does. (Luminance alone: a flat picture fading crosses colour-histogram bins
    all at once, which makes cut candidates of no strength.)"""
    typical = float(np.median(diff[span.first : span.last + 1]))
    return any(diff[frame] >= ratio * typical for frame in candidates if span.first < frame <= span.last)


def _find_gradual(features: CheapFeatures, settings: GradualSettings) -> list[GradualTransition]:
    fades = _find_fades(features, settings)
    taken = np.zeros(features.frame_count, dtype=bool)
    for fade in fades:
        taken[fade.first : fade.last + 1] = True
    black = features.luma_p95 <= settings.black_level
    dissolves = [
        d for d in _find_dissolves(features, settings)
        if not taken[d.first : d.last + 1].any() and not black[d.first : d.last + 1].any()
    ]
    return sorted(fades + dissolves, key=lambda t: t.first)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (first, last) of each run of True values."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def _find_fades(features: CheapFeatures, settings: GradualSettings) -> list[GradualTransition]:
    luma = features.luma_mean
    black = features.luma_p95 <= settings.black_level
    fades: list[GradualTransition] = []
    for first_black, last_black in _runs(black):
        # fade-out: luminance falls frame after frame into the black run
        start = first_black
        while start - 1 >= 0 and luma[start - 1] - luma[start] >= settings.min_step and not black[start - 1]:
            start -= 1
            if first_black - start > settings.max_frames:
                break
        if first_black - start >= settings.min_frames:
            fades.append(GradualTransition("fade_out", start, first_black - 1))
        # fade-in: luminance rises frame after frame out of the black run
        end = last_black
        while end + 1 < len(luma) and luma[end + 1] - luma[end] >= settings.min_step and not black[end + 1]:
            end += 1
            if end - last_black > settings.max_frames:
                break
        if end - last_black >= settings.min_frames:
            fades.append(GradualTransition("fade_in", last_black + 1, end))
    return fades


def _find_dissolves(features: CheapFeatures, settings: GradualSettings) -> list[GradualTransition]:
    lag = features.lag
    n = features.frame_count
    if n <= lag:
        return []
    summed = np.convolve(features.diff, np.ones(lag), mode="full")[:n]  # sum of diff[i-lag+1 .. i]
    largest = np.lib.stride_tricks.sliding_window_view(np.concatenate([np.zeros(lag - 1), features.diff]), lag).max(axis=1)
    coherence = np.divide(features.slow_diff, summed, out=np.zeros(n), where=summed > 0)
    radius = settings.max_frames // 2
    defined_slow = features.slow_diff.copy()
    defined_slow[:lag] = defined_slow[lag]  # the first `lag` frames have no slow statistic
    coherent = (
        (np.arange(n) >= lag)
        & (features.slow_diff >= settings.min_change)
        & (features.slow_diff >= settings.min_contrast * _rolling_quantile(defined_slow, radius, 0.25))
        & (coherence >= settings.min_coherence)
        & (largest <= settings.max_single_share * summed)
    )
    # window ending at i covers frames i-lag+1 .. i: mark them all
    marked = np.convolve(coherent.astype(np.int32), np.ones(lag, dtype=np.int32), mode="full")[lag - 1 : lag - 1 + n] > 0
    dissolves: list[GradualTransition] = []
    excess = features.diff - _rolling_quantile(features.diff, radius, 0.25)
    for first, last in _merge_close(_runs(marked), gap=lag // 2):
        first, last = _trim_to_elevated_change(excess, first, last)
        runs = blend_runs(features.mix_residual, features.wipe_residual, first, last,
                          settings.max_mix_residual[0], RUN_WIPE_RESIDUAL)
        for run_first, run_last in runs:  # a run's centres miss the blend's first and last frames
            core_first, core_last = max(run_first - 1, 0), min(run_last + 1, n - 1)
            kind = blend_kind(features, settings, core_first, core_last)
            if settings.min_frames <= core_last - core_first + 1 <= settings.max_frames and kind is not None:
                dissolves.append(GradualTransition(kind, core_first, core_last))
    return dissolves


def blend_kind(features: CheapFeatures, settings: GradualSettings, first: int, last: int) -> str | None:
    """"dissolve" when the frames of the span are mixes of the frames around them at every lag
    that fits, "wipe" when each pixel is at one end at the lag that shows it best (a whip pan
    over flat regions comes close: 0.16-0.19 measured, wipes 0.04-0.15), else None. Over two
    frames either side smooth motion is a mix too, so a span needs room for a longer lag (9
    frames)."""
    evidence = span_evidence(features.mix_residual, features.wipe_residual, first, last)
    if len(evidence) < 2:
        return None
    limits = dict(zip(LAGS, settings.max_mix_residual))
    if all(mix <= limits[lag] for lag, mix, _ in evidence):
        return "dissolve"
    if min(wipe for _, _, wipe in evidence) <= settings.max_wipe_residual:
        return "wipe"
    return None


def _merge_close(runs: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Join runs separated by at most `gap` frames (a dissolve whose change briefly dips)."""
    merged: list[tuple[int, int]] = []
    for first, last in runs:
        if merged and first - merged[-1][1] - 1 <= gap:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def _rolling_quantile(values: np.ndarray, radius: int, q: float, chunk: int = 8192) -> np.ndarray:
    """The q-quantile of values[i-radius .. i+radius] for every i (edges repeat), in bounded memory."""
    n = len(values)
    padded = np.pad(values.astype(np.float64), radius, mode="edge")
    out = np.empty(n)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        windows = np.lib.stride_tricks.sliding_window_view(padded[start : stop + 2 * radius], 2 * radius + 1)
        out[start:stop] = np.quantile(windows, q, axis=1)
    return out


def _trim_to_elevated_change(excess: np.ndarray, first: int, last: int) -> tuple[int, int]:
    """Narrow a stretch to the frames whose change above baseline is at least half its median."""
    span = excess[first : last + 1]
    elevated = np.flatnonzero(span >= 0.5 * float(np.median(span)))
    if elevated.size == 0:
        return first, last
    return first + int(elevated[0]), first + int(elevated[-1])

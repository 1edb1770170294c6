"""Boundaries from TransNetV2's probabilities, fused with the cheap pass and the image encoder.

TransNetV2's single-frame output peaks on the last frame of the outgoing shot (measured on the
shared clips: a cut whose new shot starts at frame k peaks at k-1), and its all-frames output
stays high over every frame of a gradual transition. So:

- a peak of the single-frame output ≥ `cut_threshold` is a boundary on its own. When the
  all-frames output around it stays ≥ `transition_threshold` for `min_gradual_frames` or more,
  that run is a gradual transition (a fade when black frames of the cheap pass sit at one end,
  else a dissolve); otherwise it is a cut at peak + 1, moved onto the cheap pass's frame-exact
  candidate when one is at most `snap_frames` away;
- a weaker peak (≥ `confirm_threshold`) is a cut only where the cheap pass also has a candidate;
  when an encoder runs it must also see a change (cosine across it < τ), or it is rejected. A
  weaker peak whose all-frames run is long is gradual only with evidence that motion cannot
  fake: a fade when the run borders black frames, a dissolve (or wipe) when the frames of the
  run are mixes of the frames around them (`gradual.blend_kind`, the cheap pass's own test;
  verified by the encoder when one runs). A slow dissolve between moving pictures is like that:
  the network's all-frames output stays high over it while no single frame stands out;
- a cut the cheap pass has no candidate near is not a cut when a camera move explains it: when
  the frame after it is the frame before it shifted, to within `camera_move_residual` of their
  difference (`motion_evidence`; TransNetV2 sometimes fires where a whip pan stops, and the
  cheap pass, which looks for a change standing out from the frames around it, sees none);
- a cut whose picture comes back within `flash_frames` (the frame before it matches a frame
  shortly after, or the frame after it matches one shortly before) is a flash, not a cut:
  measured on 16×9 grey signatures, "matches" being a difference at most `flash_ratio` of the
  change across the cut;
- a cheap candidate where the network's cut output stays below `confirm_threshold` (it saw
  nothing there at all) is a cut unless it lies inside or within `snap_frames` of a transition
  (the network's, or a fade or blend of the cheap pass); verified by the encoder when one runs. The cheap pass's cut
  candidates are a change standing out from the frames around it in luminance and colour: on
  the issue's real footage its false boundaries were all gradual guesses, while inside fast pans
  TransNetV2 misses cuts between similar-looking shots the candidates catch (measured on a
  second fast-motion trap: 2 of 22 cuts, network output 0.04-0.07, colour change 0.3-0.5 against
  0.04-0.06 around them);
- the cheap pass's own gradual guesses without blend evidence are not boundaries: on real
  footage with motion they are what the network is better at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from filmline.engine.config import read_config
from filmline.engine.stages.cheap_pass import CheapFeatures
from filmline.engine.stages.gradual import GradualSettings, GradualTransition, blend_kind
from filmline.engine.stages.shots import Boundary, EmbeddingTable, with_similarity


@dataclass(frozen=True)
class LearnedSettings:
    """`configs/transnetv2.yaml` `detector:` (recorded in each result's settings)."""

    batch: int  # windows per inference call
    cut_threshold: float
    confirm_threshold: float
    transition_threshold: float
    min_gradual_frames: int
    snap_frames: int
    flash_frames: int
    flash_ratio: float
    fade_gap_frames: int
    camera_move_residual: float

    @classmethod
    def from_config(cls, **overrides: Any) -> "LearnedSettings":
        return cls(**{**read_config("transnetv2.yaml")["detector"], **overrides})


def learned_boundaries(
    probabilities: np.ndarray,
    cut_candidates: dict[int, float],
    features: CheapFeatures,
    black_level: float,
    settings: LearnedSettings,
    table: EmbeddingTable | None = None,
    threshold: float = 1.0,
    signatures: np.ndarray | None = None,
    blends: Sequence[GradualTransition] = (),
    motion: dict[int, float] | None = None,
    gradual: GradualSettings | None = None,
) -> tuple[list[Boundary], list[Boundary]]:
    """Kept and rejected boundaries, each sorted by frame, from `[N, 2]` probabilities.

    `cut_candidates`: the cheap pass's frame → change score; `threshold`: the encoder's τ;
    `signatures`: `[N, D]` small pictures of every frame (no flash test without them);
    `motion`: frame → `motion_evidence.shift_residual` of the change into it, for the frames
    after strong peaks (no camera-move test without it); `gradual`: the cheap pass's blend
    limits (no weak peak becomes a dissolve without them);
    `blends`: the cheap pass's gradual transitions. Its dissolves and wipes, whose frames are
    measurably mixes of their ends: TransNetV2 barely reacts to a wipe or a slow dissolve between
    moving pictures, so one of these where the network proposes nothing nearby is kept too
    (verified by the encoder when one runs, as a weak peak is). No unseen cut candidate stands
    inside any of them.
    """
    single, within = probabilities[:, 0], probabilities[:, 1]
    black = features.luma_p95 <= black_level
    proposed: list[Boundary] = []
    weak: set[int] = set()
    spans: list[tuple[int, int]] = []
    for peak in _peaks(single, settings.confirm_threshold):
        probability = float(single[peak])
        strong = probability >= settings.cut_threshold
        span = _run_around(within, peak, settings.transition_threshold)
        if span is not None and span[1] - span[0] + 1 >= settings.min_gradual_frames:
            transition = _transition(span, black, probability, strong, features, gradual)
            if transition is not None:
                if span not in spans:  # else a second peak inside the same transition
                    spans.append(span)
                    proposed.append(transition)
                    if not strong and not transition.kind.startswith("fade"):
                        weak.add(transition.frame)
                continue
        frame, score = _snap(peak + 1, cut_candidates, settings.snap_frames)
        if score is None and (not strong or (motion or {}).get(frame, 1.0) <= settings.camera_move_residual):
            continue
        if not strong:
            weak.add(frame)
        proposed.append(Boundary(frame, "cut", None, score or 0.0, probability=probability))
    proposed = [b for b in proposed if b.span is not None or not _inside(b.frame, spans)]
    unseen = _unseen_blends([b for b in blends if b.kind in ("dissolve", "wipe")], proposed, settings.snap_frames)
    transitions = spans + [(b.first, b.last) for b in blends] + [b.span for b in unseen]
    unseen += _unseen_cuts(single, cut_candidates, transitions, settings)
    weak.update(b.frame for b in unseen)
    proposed += unseen
    if signatures is not None:
        proposed = [b for b in proposed if b.span is not None or not _is_flash(b.frame, signatures, settings)]
    proposed = _through_black(sorted(proposed, key=lambda b: b.frame), features.luma_p95, black_level,
                              settings.fade_gap_frames)
    proposed = with_similarity(proposed, table)
    kept, rejected = [], []
    for boundary in proposed:
        unverified = boundary.frame in weak and boundary.similarity is not None and boundary.similarity >= threshold
        (rejected if unverified else kept).append(boundary)
    return _one_per_frame(kept), rejected


def _unseen_cuts(
    single: np.ndarray, candidates: dict[int, float], transitions: list[tuple[int, int]], settings: LearnedSettings
) -> list[Boundary]:
    """Cut candidates the network gave nothing to (its cut output < `confirm_threshold` within
    `snap_frames` of the boundary: it peaks on the frame before), not within `snap_frames` of
    any transition."""
    reach = settings.snap_frames

    def unseen(frame: int) -> bool:
        near = single[max(frame - 1 - reach, 0) : frame + reach]
        return near.size == 0 or float(near.max()) < settings.confirm_threshold

    return [Boundary(frame, "cut", None, score) for frame, score in sorted(candidates.items())
            if unseen(frame) and not any(first - reach <= frame <= last + 1 + reach for first, last in transitions)]


def _unseen_blends(blends: Sequence[GradualTransition], proposed: list[Boundary], reach: int) -> list[Boundary]:
    """The blends no proposed boundary lies in or within `reach` frames of."""
    def near(blend: GradualTransition, boundary: Boundary) -> bool:
        first, last = boundary.span or (boundary.frame, boundary.frame)
        return first <= blend.last + reach and last >= blend.first - reach

    return [
        Boundary(blend.boundary, blend.kind, (blend.first, blend.last), float(blend.last - blend.first + 1))
        for blend in blends if not any(near(blend, boundary) for boundary in proposed)
    ]


def _peaks(values: np.ndarray, floor: float) -> list[int]:
    """Frames whose value is ≥ `floor` and a local maximum (the first frame of a flat top)."""
    if len(values) == 0:
        return []
    before = np.concatenate([[-np.inf], values[:-1]])
    after = np.concatenate([values[1:], [-np.inf]])
    return [int(i) for i in np.flatnonzero((values >= floor) & (values > before) & (values >= after))]


def _run_around(values: np.ndarray, frame: int, floor: float) -> tuple[int, int] | None:
    """The run of frames with value ≥ `floor` that contains or touches `frame`."""
    centre = next((f for f in (frame, frame + 1, frame - 1) if 0 <= f < len(values) and values[f] >= floor), None)
    if centre is None:
        return None
    first = last = centre
    while first > 0 and values[first - 1] >= floor:
        first -= 1
    while last + 1 < len(values) and values[last + 1] >= floor:
        last += 1
    return first, last


def _transition(
    span: tuple[int, int], black: np.ndarray, probability: float, strong: bool,
    features: CheapFeatures, gradual: GradualSettings | None,
) -> Boundary | None:
    """The gradual transition over a long all-frames run: any kind after a strong peak; after a
    weak one, a fade (black frames at an end) or a blend the cheap pass's test confirms, else None."""
    transition = _gradual(span, black, probability)
    if strong or transition.kind.startswith("fade"):
        return transition
    kind = blend_kind(features, gradual, *span) if gradual is not None else None
    if kind is None:
        return None
    return Boundary(GradualTransition(kind, *span).boundary, kind, span, transition.score, probability=probability)


def _gradual(span: tuple[int, int], black: np.ndarray, probability: float) -> Boundary:
    """A fade when black frames border (or end) the span on one side, else a dissolve."""
    first, last = span
    black_before = first > 0 and (black[first - 1] or black[first])
    black_after = last + 1 < len(black) and (black[last + 1] or black[last])
    kind = "fade_out" if black_after and not black_before else "fade_in" if black_before else "dissolve"
    transition = GradualTransition(kind, first, last)
    return Boundary(transition.boundary, kind, span, float(last - first + 1), probability=probability)


def _through_black(boundaries: list[Boundary], luma_p95: np.ndarray, black_level: float, gap: int) -> list[Boundary]:
    """Two boundaries joined through black are one fade through black (as the cheap pass's
    minimum-length merge makes it), at the first frame after the black: a fade-out and a fade-in
    with at most `gap` black frames between them, or any two (one of them gradual) at most `gap`
    frames apart between which the picture darkens steadily into a black frame and brightens
    steadily out of it. The second case is a fade through one black frame: the network's output
    dips at the black frame and the frames beside it are not yet black, so neither half borders
    black and each looks like a shot change of its own."""
    black = luma_p95 <= black_level
    merged: list[Boundary] = []
    for boundary in boundaries:
        held = merged[-1] if merged else None
        darkest = _dip_between(held, boundary, luma_p95, black_level, gap) if held is not None else None
        fades = (held is not None and held.kind == "fade_out" and boundary.kind == "fade_in"
                 and boundary.span[0] - held.span[1] - 1 <= gap and black[held.span[1] + 1 : boundary.span[0]].all())
        if fades or darkest is not None:
            probability = max(held.probability or 0.0, boundary.probability or 0.0)
            first, last = _extent(held)[0], _extent(boundary)[1]
            frame = boundary.frame if fades else darkest + 1
            merged[-1] = Boundary(frame, "fade", (first, last), held.score + boundary.score, probability=probability)
            continue
        merged.append(boundary)
    return merged


def _dip_between(before: Boundary, after: Boundary, luma_p95: np.ndarray, black_level: float, gap: int) -> int | None:
    """The darkest frame between two boundaries at most `gap` frames apart (one of them gradual,
    neither a fade already turned the other way) when it is black and the brightness falls
    steadily from the first boundary into it and rises steadily from it into the second; else None."""
    turned_away = before.kind in ("fade_in", "fade") or after.kind in ("fade_out", "fade")
    if (before.span is None and after.span is None) or turned_away:
        return None
    start, stop = _extent(before)[1], _extent(after)[0]
    if not 0 <= stop - start - 1 <= gap:
        return None
    dip = luma_p95[start : stop + 1]
    darkest = int(np.argmin(dip))
    falls = bool(np.all(np.diff(dip[: darkest + 1]) <= 0))
    rises = bool(np.all(np.diff(dip[darkest:]) >= 0))
    return start + darkest if dip[darkest] <= black_level and falls and rises else None


def _extent(boundary: Boundary) -> tuple[int, int]:
    """The frames a boundary covers: a transition's span, or a cut's last old and first new frame."""
    return boundary.span or (boundary.frame - 1, boundary.frame)


def _snap(frame: int, candidates: dict[int, float], reach: int) -> tuple[int, float | None]:
    """The nearest cheap candidate within `reach` frames (ties: the stronger), else `frame` itself."""
    near = [(abs(c - frame), -s, c) for c in range(frame - reach, frame + reach + 1) if (s := candidates.get(c)) is not None]
    if not near:
        return frame, None
    _, negative_score, chosen = min(near)
    return chosen, -negative_score


def _is_flash(frame: int, signatures: np.ndarray, settings: LearnedSettings) -> bool:
    """Whether the picture before the cut at `frame` returns within `flash_frames` (or the
    picture after it was already there shortly before): a flash or a blink, not a new shot."""
    if not 0 < frame < len(signatures):
        return False

    def distance(a: int, b: int) -> float:
        return float(np.abs(signatures[a].astype(np.float32) - signatures[b].astype(np.float32)).mean())

    change = distance(frame - 1, frame)
    limit = settings.flash_ratio * change
    reach = range(1, settings.flash_frames + 1)
    returns = any(frame + k < len(signatures) and distance(frame - 1, frame + k) <= limit for k in reach)
    was_there = any(frame - 1 - k >= 0 and distance(frame - 1 - k, frame) <= limit for k in reach)
    return change > 0 and (returns or was_there)


def _inside(frame: int, spans: list[tuple[int, int]]) -> bool:
    return any(first < frame <= last for first, last in spans)


def _one_per_frame(boundaries: list[Boundary]) -> list[Boundary]:
    """Sorted, never frame 0, one per frame (the more probable)."""
    by_frame: dict[int, Boundary] = {}
    for boundary in boundaries:
        held = by_frame.get(boundary.frame)
        if boundary.frame > 0 and (held is None or (boundary.probability or 0) > (held.probability or 0)):
            by_frame[boundary.frame] = boundary
    return [by_frame[f] for f in sorted(by_frame)]

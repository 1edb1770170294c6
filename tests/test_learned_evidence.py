"""The evidence TransNetV2's boundaries are checked against: camera moves and blends."""

from __future__ import annotations

import numpy as np
import torch

from filmline.engine.stages.blend_evidence import LAGS, BlendProbe
from filmline.engine.stages.cheap_pass import CheapFeatures
from filmline.engine.stages.gradual import GradualSettings, GradualTransition
from filmline.engine.stages.learned_cuts import LearnedSettings, learned_boundaries
from filmline.engine.stages.learned_scores import LearnedScores
from filmline.engine.stages.motion_evidence import shift_residual
from filmline.engine.stages.shots import EmbeddingTable

SETTINGS = LearnedSettings.from_config()
GRADUAL = GradualSettings(black_level=20.0, min_frames=6, max_frames=90, min_change=8.0,
                          max_mix_residual=(0.2, 0.15, 0.3), max_wipe_residual=0.15, cut_ratio=3.0)


def _texture(seed: int, height: int, width: int) -> np.ndarray:
    """Smooth random colour picture, wrapping so it can slide."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft2(rng.standard_normal((height, width, 3)), axes=(0, 1))
    fy, fx = np.fft.fftfreq(height)[:, None, None], np.fft.rfftfreq(width)[None, :, None]
    smooth = np.fft.irfft2(spectrum * np.exp(-(fx**2 + fy**2) / (2 * 0.08**2)), s=(height, width), axes=(0, 1))
    return np.clip(128 + 50 * smooth / smooth.std(), 0, 250).astype(np.uint8)  # 255 marks a proposed cut


def test_a_camera_move_explains_a_whip_pan_step_but_no_cut() -> None:
    picture, other = _texture(1, 27, 48), _texture(2, 27, 48)
    panned = np.roll(picture, (-2, 5), axis=(0, 1))  # a tenth of the width in one frame, and a little down
    assert shift_residual(picture, panned) < SETTINGS.camera_move_residual
    assert shift_residual(picture, other) > 2 * SETTINGS.camera_move_residual
    assert shift_residual(picture, picture) == 1.0  # no change: nothing for a move to explain


def _features(n: int, mix: np.ndarray | None = None) -> CheapFeatures:
    p95 = np.full(n, 120.0, dtype=np.float32)
    zeros = np.zeros(n, dtype=np.float32)
    blends = np.ones((n, len(LAGS)), dtype=np.float32) if mix is None else mix
    return CheapFeatures(luma_mean=p95.copy(), luma_p95=p95, diff=zeros, hist_diff=zeros, slow_diff=zeros, lag=8,
                         colour_weight=50.0, mix_residual=blends, wipe_residual=np.ones_like(blends))


def test_a_confident_cut_the_cheap_pass_missed_is_dropped_when_a_camera_move_explains_it() -> None:
    p = np.zeros((200, 2), dtype=np.float32)
    p[[49, 99, 149], 0] = 0.6  # peaks on the outgoing frames of boundaries 50, 100 and 150
    motion = {50: 0.1, 100: 0.8, 150: 0.1}  # 50 and 150: the frame after is the frame before moved
    kept, _ = learned_boundaries(p, {150: 40.0}, _features(200), 20.0, SETTINGS, motion=motion)
    assert [b.frame for b in kept] == [100, 150]  # 150: the cheap pass saw a change stand out there
    kept_without_evidence, _ = learned_boundaries(p, {150: 40.0}, _features(200), 20.0, SETTINGS)
    assert [b.frame for b in kept_without_evidence] == [50, 100, 150]


def _pan_step_model(windows: np.ndarray) -> np.ndarray:
    """A cut probability of 1 on frames whose top-left red value is 255, else 0."""
    cut = (windows[..., 0, 0, 0] == 255).astype(np.float32)
    return np.stack([cut, np.zeros_like(cut)], axis=-1)


def test_motion_is_measured_where_the_network_proposes_a_cut() -> None:
    first, second = _texture(3, 27, 48), _texture(4, 27, 48)
    frames = [np.roll(first, k, axis=1) for k in range(60)] + [np.roll(second, k, axis=1) for k in range(60)]
    frames[30] = np.roll(first, 30 + 6, axis=1)  # a whip-pan step into frame 30 ...
    frames = [np.roll(f, 6, axis=1) if 30 < k < 60 else f for k, f in enumerate(frames)]  # ... the pan goes on
    for k in (29, 59):  # the network proposes cuts into 30 (the pan step) and 60 (the new shot)
        frames[k] = frames[k].copy()
        frames[k][0, 0, 0] = 255
    scores = LearnedScores(_pan_step_model, batch=2, measure_motion_from=SETTINGS.cut_threshold)
    for frame in frames:
        scores.push(frame)
    scores.finish()
    motion = scores.motion()
    assert sorted(motion) == [30, 60]
    assert motion[30] < SETTINGS.camera_move_residual < motion[60]


def _blend_evidence(frames: list[np.ndarray]) -> np.ndarray:
    probe = BlendProbe()
    probe.push(torch.from_numpy(np.stack(frames)).float())
    return probe.evidence()[0]


def _slide(picture: np.ndarray, pixels: float) -> np.ndarray:
    """`picture` moved right by a fractional number of pixels (linear interpolation, wrapping)."""
    whole = int(np.floor(pixels))
    part = pixels - whole
    return (1 - part) * np.roll(picture, whole, axis=1) + part * np.roll(picture, whole + 1, axis=1)


def test_a_weak_long_transition_is_a_dissolve_only_when_its_frames_are_blends() -> None:
    """The network's all-frames output stays high over a slow dissolve between moving pictures
    while no single frame stands out; the same output over a camera move is no boundary."""
    a, b = (_texture(seed, 36, 64).mean(axis=2) for seed in (5, 6))
    n, first, last = 100, 40, 74
    alpha = np.clip((np.arange(n) - first + 1) / (last - first + 2), 0, 1)
    dissolve = [(1 - t) * _slide(a, 0.1 * k) + t * _slide(b, -0.1 * k) for k, t in enumerate(alpha)]
    pan = [_slide(a, k) for k in range(n)]  # a sixty-fourth of the width per frame
    p = np.zeros((n, 2), dtype=np.float32)
    p[first : last + 1, 1] = 0.8
    p[(first + last) // 2, 0] = 0.4  # below the cut threshold
    found, _ = learned_boundaries(p, {}, _features(n, _blend_evidence(dissolve)), 20.0, SETTINGS, gradual=GRADUAL)
    assert [(b.kind, b.span) for b in found] == [("dissolve", (first, last))]
    moving, _ = learned_boundaries(p, {}, _features(n, _blend_evidence(pan)), 20.0, SETTINGS, gradual=GRADUAL)
    assert moving == []


def test_a_cut_candidate_the_network_gave_nothing_to_is_a_cut_outside_transitions() -> None:
    """Inside fast pans TransNetV2 can miss a cut between similar-looking shots that the cheap
    pass's luminance and colour change catches; inside a transition such a candidate is the
    transition's own change."""
    p = np.zeros((300, 2), dtype=np.float32)
    p[50:71, 1] = 0.9
    p[60, 0] = 0.8  # a dissolve over 50..70, and a candidate inside it at 65
    p[149, 0] = 0.05  # the network barely reacts at 150
    p[199, 0] = 0.3  # a weak peak at 200: the candidate there is a confirmed cut
    fade = GradualTransition("fade_out", 240, 255)
    candidates = {65: 30.0, 150: 50.0, 200: 40.0, 245: 20.0}
    kept, _ = learned_boundaries(p, candidates, _features(300), 20.0, SETTINGS, blends=[fade])
    assert [(b.frame, b.kind) for b in kept] == [(60, "dissolve"), (150, "cut"), (200, "cut")]  # 245: inside the fade
    vectors = np.array([[1, 0], [1, 0]], dtype=np.float32)  # the encoder sees the same picture either side
    _, rejected = learned_boundaries(p, candidates, _features(300), 20.0, SETTINGS, EmbeddingTable([149, 150], vectors),
                                     0.8, blends=[fade])
    assert [b.frame for b in rejected] == [150]  # such a cut is verified by the encoder when one runs

"""Blend evidence: frames of a dissolve are mixes of the frames around them; motion is not."""

from __future__ import annotations

import numpy as np
import torch

from filmline.engine.stages.blend_evidence import LAGS, BlendProbe, blend_runs, span_evidence


def _texture(seed: int) -> np.ndarray:
    """Smooth random luminance, 36×64, wrapping so it can slide."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft2(rng.standard_normal((36, 64)))
    fy, fx = np.fft.fftfreq(36)[:, None], np.fft.rfftfreq(64)[None, :]
    smooth = np.fft.irfft2(spectrum * np.exp(-(fx**2 + fy**2) / (2 * 0.06**2)), s=(36, 64))
    return 128 + 50 * smooth / smooth.std()


def _evidence(frames: list[np.ndarray], batch: int = 7) -> tuple[np.ndarray, np.ndarray]:
    probe = BlendProbe()
    for start in range(0, len(frames), batch):  # batches that split the windows anywhere
        probe.push(torch.from_numpy(np.stack(frames[start : start + batch])).float())
    return probe.evidence()


def test_dissolve_is_a_mix_at_every_lag_and_a_pan_at_none():
    a, b = _texture(1), _texture(2)
    dissolve = [a] * 10 + [(1 - t) * a + t * b for t in np.linspace(0.05, 0.95, 24)] + [b] * 10
    pan = [np.roll(a, 3 * k, axis=1) for k in range(44)]
    mix_d, wipe_d = _evidence(dissolve)
    mix_p, wipe_p = _evidence(pan)
    assert mix_d.shape == (44, len(LAGS))
    assert np.isnan(mix_d[0]).all() and np.isnan(mix_d[-1]).all()  # no window there
    assert (mix_d[2:8, 0] == 1.0).all()  # a still picture is no evidence of anything
    assert [lag for lag, _, _ in span_evidence(mix_d, wipe_d, 10, 33)] == list(LAGS)
    assert all(mix < 0.05 for _, mix, _ in span_evidence(mix_d, wipe_d, 10, 33))
    assert all(mix > 0.3 and wipe > 0.3 for _, mix, wipe in span_evidence(mix_p, wipe_p, 10, 33))
    assert blend_runs(mix_d, wipe_d, 0, 43, 0.2, 0.2) == [(9, 34)]  # the blend, a frame either side
    assert blend_runs(mix_p, wipe_p, 0, 43, 0.2, 0.2) == []


def test_wipe_keeps_each_pixel_at_one_end():
    a, b = _texture(3), _texture(4)
    wipe = [a] * 10 + [np.where(np.arange(64)[None, :] < 64 * t, b, a) for t in np.linspace(0.05, 0.95, 16)] + [b] * 10
    assert all(residual < 0.2 < mix for _, mix, residual in span_evidence(*_evidence(wipe), 10, 25))

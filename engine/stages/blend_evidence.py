"""Evidence that a frame is a mix of the frames around it: what tells a dissolve from motion.

While two shots dissolve, every frame is `alpha·A + (1 - alpha)·B` of the shots' pictures, so
frame c is explained almost exactly by a least-squares mix of frames c - lag and c + lag (alpha
between 0 and 1, the same for every pixel). During a wipe every pixel is either still the old
picture or already the new one. Camera or subject motion is neither: the picture at c holds
content that is at neither end (measured on real and synthetic clips, lag 8: mix residual
0.02-0.09 inside dissolves, 0.3-0.8 inside pans, zooms and a character moving).

Only a few numbers per frame accumulate, from a ring of the last `2 × max(LAGS)` luminance
thumbnails, like the rest of the cheap pass.
"""

from __future__ import annotations

import numpy as np
import torch

LAGS = (2, 4, 8)  # frames either side of the centre frame
_MIN_CHANGE_PER_FRAME = 1.0  # mean |A - B| (0-255) per frame between the ends below which they are one
# picture drifting, no evidence: the slowest dissolve looked for changes 8 levels in 8 frames (gradual_min_change)


class BlendProbe:
    """Per centre frame c and lag L: the mix residual and the wipe residual of frame c against
    frames c - L and c + L (0: explained exactly; about 1 and above: not at all)."""

    def __init__(self) -> None:
        self._history: torch.Tensor | None = None  # the last 2·max(LAGS) thumbnails, flattened
        self._seen = 0  # frames pushed so far
        self._chunks: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []  # (centres, lag index, mix, wipe)

    def push(self, luma: torch.Tensor) -> None:
        """Luminance thumbnails `[B, H, W]` of the next frames, in order."""
        frames = luma.flatten(1).float()
        history = frames if self._history is None else torch.cat([self._history, frames])
        first_new = history.shape[0] - frames.shape[0]  # row of this batch's first frame in `history`
        for k, lag in enumerate(LAGS):
            start = max(first_new, 2 * lag)  # rows of frames that close a window
            if start >= history.shape[0]:
                continue
            rows = torch.arange(start, history.shape[0])
            mix, wipe = _residuals(history[rows - 2 * lag], history[rows - lag], history[rows], 2 * lag * _MIN_CHANGE_PER_FRAME)
            centres = (rows - lag - first_new + self._seen).numpy()
            self._chunks.append((centres, k, mix.cpu().numpy(), wipe.cpu().numpy()))
        self._seen += frames.shape[0]
        self._history = history[-2 * max(LAGS) :]

    def evidence(self) -> tuple[np.ndarray, np.ndarray]:
        """`(mix, wipe)` residuals, each `[frames, len(LAGS)]`; NaN where a window leaves the video."""
        mix = np.full((self._seen, len(LAGS)), np.nan, np.float32)
        wipe = mix.copy()
        for centres, k, mixes, wipes in self._chunks:
            mix[centres, k], wipe[centres, k] = mixes, wipes
        return mix, wipe


def _residuals(
    before: torch.Tensor, centre: torch.Tensor, after: torch.Tensor, min_change: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows are frames: least-squares mix residual and wipe residual of `centre` between the ends
    (1 where the ends differ by less than `min_change`)."""
    span = before - after
    energy = (span * span).sum(dim=1)
    alpha = (((centre - after) * span).sum(dim=1) / energy.clamp_min(1e-6)).clamp(0.0, 1.0)
    error = centre - after - alpha[:, None] * span
    nearer_end = torch.minimum(((centre - before) ** 2).sum(dim=1), ((centre - after) ** 2).sum(dim=1))
    mix = (error * error).sum(dim=1) / nearer_end.clamp_min(1e-6)
    stays = torch.minimum((centre - before).abs(), (centre - after).abs()).sum(dim=1)
    wipe = stays / span.abs().sum(dim=1).clamp_min(1e-6)
    still = span.abs().mean(dim=1) < min_change
    return mix.masked_fill(still, 1.0), wipe.masked_fill(still, 1.0)


def blend_runs(mix: np.ndarray, wipe: np.ndarray, first: int, last: int, max_mix: float, max_wipe: float) -> list[tuple[int, int]]:
    """The runs of frames in `first..last` that are a mix (or a wipe) of the frames two before
    and two after them: the blends inside a stretch of change that may also hold the motion or
    the cut next to them."""
    mixes, wipes = mix[first : last + 1, 0], wipe[first : last + 1, 0]
    blended = np.nan_to_num(mixes, nan=np.inf) <= max_mix
    blended |= np.nan_to_num(wipes, nan=np.inf) <= max_wipe
    padded = np.concatenate([[False], blended, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(first + int(a), first + int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def span_evidence(mix: np.ndarray, wipe: np.ndarray, first: int, last: int) -> list[tuple[int, float, float]]:
    """(lag, median mix residual, median wipe residual) over span `first..last` for every lag
    whose windows fit inside it; the longer the lag, the further motion strays from a mix."""
    evidence = []
    for k, lag in enumerate(LAGS):
        centres = slice(first + lag, last - lag + 1)
        mixes, wipes = mix[centres, k], wipe[centres, k]
        if mixes.size and not np.isnan(mixes).all():
            evidence.append((lag, float(np.nanmedian(mixes)), float(np.nanmedian(wipes))))
    return evidence

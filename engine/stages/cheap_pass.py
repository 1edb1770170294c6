"""The cheap full-rate pass: a few numbers per decoded frame, from tiny luminance thumbnails.

Every frame of a film has to be decoded anyway, so a statistic on a 64×36 thumbnail of each one
costs little and finds cut candidates at the exact frame, also inside shots shorter than the
encoder's sampling interval. Only these per-frame numbers accumulate (a few floats per frame),
never frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from filmline import kernels
from filmline.engine.stages.blend_evidence import BlendProbe

THUMB_SIZE = (36, 64)  # (height, width) of the luminance thumbnail the statistics use


@contextmanager
def _single_threaded_torch() -> Iterator[None]:
    """Tiny tensors gain nothing from torch's worker threads, whose spin-waiting takes CPU from
    the decoder's threads (measured: +15 % frames/s on 2 cores); the setting is restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class CheapFeatures:
    """Per-frame statistics of a whole video, index = frame index."""

    luma_mean: np.ndarray  # mean luminance, 0-255
    luma_p95: np.ndarray  # 95th percentile of the thumbnail cells, 0-255 (a black frame is dark
    # almost everywhere; a channel logo or subtitle may stay lit)
    diff: np.ndarray  # mean |luma - previous luma| over the thumbnail (0 for frame 0)
    hist_diff: np.ndarray  # half the L1 distance of colour histograms to the previous frame, 0-1
    slow_diff: np.ndarray  # mean |luma - luma `lag` frames earlier| (0 for the first `lag`)
    lag: int
    colour_weight: float  # change score = diff + colour_weight × hist_diff
    mix_residual: np.ndarray  # [frames, len(blend_evidence.LAGS)]: frame as a mix of the frames around it
    wipe_residual: np.ndarray  # [frames, len(blend_evidence.LAGS)]: frame as a wipe between them

    @property
    def change(self) -> np.ndarray:
        """Each frame's change score, as `CheapPass.push` returned it."""
        return self.diff + self.colour_weight * self.hist_diff

    @property
    def frame_count(self) -> int:
        return int(self.luma_mean.shape[0])


@dataclass(frozen=True)
class FrameChanges:
    """What the cut detector needs of a batch of frames, index = frame in the batch."""

    score: np.ndarray  # [B] change score: diff + colour_weight × hist_diff
    colour: np.ndarray  # [B] hist_diff, 0-1
    returns: np.ndarray  # [B, R]: mean |luma - luma k frames earlier| for k = 1..R (0 before the video)


class CheapPass:
    """Accumulates `CheapFeatures` from batches of thumbnails, in frame order."""

    def __init__(self, lag: int, colour_weight: float, return_lags: int = 1) -> None:
        if not 1 <= return_lags <= lag:
            raise ValueError(f"need 1 <= return_lags <= lag, got {return_lags} and {lag}")
        self.lag = lag
        self.colour_weight = colour_weight
        self.return_lags = return_lags
        self._prev_luma: torch.Tensor | None = None
        self._prev_hist: torch.Tensor | None = None
        self._recent_luma: list[torch.Tensor] = []  # one tensor: the last `lag` luma thumbnails
        self._blend = BlendProbe()
        self._columns: dict[str, list[np.ndarray]] = {
            "luma_mean": [], "luma_p95": [], "diff": [], "hist_diff": [], "slow_diff": []
        }

    def push(self, thumbnails: np.ndarray | torch.Tensor) -> FrameChanges:
        """Add a batch of uint8 RGB thumbnails `[B, 36, 64, 3]`; returns how much each frame
        changed since the previous ones, so callers can detect cuts online.

        Thumbnails on a GPU (made there from NVDEC frames) are measured there, by the Triton
        kernel: only the batch's few numbers per frame come to the host, in one copy."""
        if isinstance(thumbnails, np.ndarray):
            thumbnails = torch.from_numpy(np.ascontiguousarray(thumbnails))
        with _single_threaded_torch():
            columns, returns = self._statistics(thumbnails)
            score = columns["diff"] + self.colour_weight * columns["hist_diff"]
            packed = torch.cat([torch.stack([*columns.values(), score], dim=1), returns], dim=1).cpu().numpy()
        for k, name in enumerate(columns):
            self._columns[name].append(packed[:, k].astype(np.float32))
        hist_diff = packed[:, list(columns).index("hist_diff")]
        return FrameChanges(packed[:, len(columns)], hist_diff, packed[:, len(columns) + 1 :])

    def _statistics(self, frames: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        stats = kernels.frame_stats_rgb(frames, self._prev_luma, thumb_size=THUMB_SIZE)
        luma, hist = stats.luma, stats.hist
        self._blend.push(luma)
        previous_hist = torch.cat([hist[:1] if self._prev_hist is None else self._prev_hist, hist[:-1]])
        history = torch.cat([*self._recent_luma, luma]) if self._recent_luma else luma
        self._recent_luma = [history[-self.lag :]]
        self._prev_luma = luma[-1]
        self._prev_hist = hist[-1:]
        flat = luma.flatten(1)
        returns = torch.stack([_lagged_change(history, luma.shape[0], k) for k in range(1, self.return_lags + 1)], dim=1)
        return {
            "luma_mean": flat.mean(dim=1),
            "luma_p95": flat.kthvalue(int(0.95 * (flat.shape[1] - 1)) + 1, dim=1).values,
            "diff": stats.diff,
            "hist_diff": 0.5 * (hist - previous_hist).abs().sum(dim=1),
            "slow_diff": _lagged_change(history, luma.shape[0], self.lag),
        }, returns

    def features(self) -> CheapFeatures:
        """Everything pushed so far."""
        arrays = {
            name: np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
            for name, chunks in self._columns.items()
        }
        mix, wipe = self._blend.evidence()
        return CheapFeatures(lag=self.lag, colour_weight=self.colour_weight, mix_residual=mix, wipe_residual=wipe, **arrays)


def _lagged_change(history: torch.Tensor, count: int, k: int) -> torch.Tensor:
    """mean |luma_f - luma_(f-k)| for the last `count` rows of `history` (the batch); 0 where
    frame f-k is not in `history` (before the video: `history` keeps enough rows otherwise)."""
    change = torch.zeros(count, device=history.device)
    start = history.shape[0] - count  # row of the batch's first frame
    first = max(k - start, 0)  # batch frames with a row k earlier
    if first < count:
        rows = torch.arange(start + first, history.shape[0])
        change[first:] = (history[rows] - history[rows - k]).abs().mean(dim=(1, 2))
    return change

"""Plain PyTorch implementations that define what every kernel computes.

These are the semantics: the Triton kernels are tested against them, and they run wherever
Triton does not (CPU tensors under ``FILMLINE_KERNELS=auto``). They favour obviousness over
speed but stay memory-sane for a few thousand rows. Inputs are assumed already validated; call
them through the `kernels` functions, which check arguments and pick an implementation.

Shared conventions: arithmetic in fp32 whatever the input dtype; a row is normalised as
``x / max(||x||, EPS)``, so a zero row has cosine 0 with everything, never NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from filmline.kernels._types import FrameStats

EPS = 1e-12
KEY_TIE_TOL = 1e-5  # shot_centroids: cosines this close to the best are ties
BT601 = (0.299, 0.587, 0.114)
_MATCH_CHUNK_ELEMENTS = 1 << 22  # similarity entries held at once by match_runs


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows of `x` in fp32 scaled to unit L2 norm; zero rows stay zero."""
    return F.normalize(x.float(), dim=1, eps=EPS)


def adjacent_similarity(emb: torch.Tensor, max_lag: int = 1) -> torch.Tensor:
    """out[k-1, i] = cos(emb[i], emb[i+k]) for k in 1..max_lag; 0 where i+k is past the end."""
    unit = unit_rows(emb)
    n = unit.shape[0]
    out = torch.zeros(max_lag, n, dtype=torch.float32, device=emb.device)
    for k in range(1, min(max_lag, n - 1) + 1):
        out[k - 1, : n - k] = (unit[:-k] * unit[k:]).sum(dim=1)
    return out


def shot_centroids(emb: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per shot (rows offsets[s]:offsets[s+1]): mean of unit rows, and the row closest to it.

    The key row maximises cos(row, centroid), lowest index on ties, where cosines within
    KEY_TIE_TOL of the best count as tied: exact ties are common (in a two-row shot both rows
    are equally close to the mean) and rounding would otherwise break them differently in each
    implementation. An empty shot has a zero centroid and key -1; when every row of a shot is
    zero, all cosines are 0 and the key is the shot's first row.
    """
    n_shots = max(offsets.numel() - 1, 0)
    dim = emb.shape[1]
    device = emb.device
    if n_shots == 0:
        return (
            torch.zeros(0, dim, dtype=torch.float32, device=device),
            torch.zeros(0, dtype=torch.int64, device=device),
        )
    offsets = offsets.to(torch.int64)
    counts = offsets[1:] - offsets[:-1]
    rows = torch.arange(int(offsets[0]), int(offsets[-1]), device=device)
    shot_of_row = torch.repeat_interleave(torch.arange(n_shots, device=device), counts)
    unit = unit_rows(emb[rows])
    sums = torch.zeros(n_shots, dim, dtype=torch.float32, device=device)
    sums.index_add_(0, shot_of_row, unit)
    centroids = sums / counts.clamp_min(1).to(torch.float32)[:, None]
    cosine = (unit * unit_rows(centroids)[shot_of_row]).sum(dim=1)
    best = torch.full((n_shots,), -torch.inf, device=device)
    best.scatter_reduce_(0, shot_of_row, cosine, reduce="amax")
    is_best = cosine >= best[shot_of_row] - KEY_TIE_TOL
    keys = torch.full((n_shots,), -1, dtype=torch.int64, device=device)
    keys.scatter_reduce_(0, shot_of_row[is_best], rows[is_best], reduce="amin", include_self=False)
    return centroids, keys


def match_runs(
    a: torch.Tensor, b: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Longest run of matching pairs along every diagonal of the a-by-b cosine matrix.

    Diagonal d = j - i (d in [-(N-1), M-1]) is reported at index d + N - 1: the run length of
    consecutive pairs (i, i+d), (i+1, i+d+1), ... with cos >= threshold, and the row i of the
    run's first pair (earliest run on ties; -1 when the length is 0). With N or M zero there are
    no pairs and no diagonals, so both outputs are empty.

    Walks the rows of `a` in order; the rows i of one diagonal are consecutive, so each diagonal
    keeps the length of the run that ends at the current row. The cosine matrix is built a few
    million entries at a time.
    """
    n, m = a.shape[0], b.shape[0]
    device = a.device
    n_diag = n + m - 1 if n and m else 0
    best_len = torch.zeros(n_diag, dtype=torch.int64, device=device)
    best_start = torch.full((n_diag,), -1, dtype=torch.int64, device=device)
    if n_diag == 0:
        return best_len, best_start
    current = torch.zeros(n_diag, dtype=torch.int64, device=device)
    unit_a, unit_b = unit_rows(a), unit_rows(b)
    chunk = max(1, _MATCH_CHUNK_ELEMENTS // m)
    for i0 in range(0, n, chunk):
        hits = (unit_a[i0 : i0 + chunk] @ unit_b.T) >= threshold
        for row, hit in enumerate(hits, start=i0):
            lo = n - 1 - row  # diagonal index of the pair (row, 0)
            run = current[lo : lo + m]
            run.add_(1).mul_(hit)
            longer = run > best_len[lo : lo + m]
            best_len[lo : lo + m] = torch.where(longer, run, best_len[lo : lo + m])
            best_start[lo : lo + m] = torch.where(longer, row - run + 1, best_start[lo : lo + m])
    return best_len, best_start


def thumbnail_diff(luma: torch.Tensor, prev_luma: torch.Tensor | None) -> torch.Tensor:
    """diff[b] = mean |luma[b] - luma[b-1]| with luma[-1] = prev_luma (diff[0] = 0 without one).

    Works on the tiny thumbnails, so both implementations share it.
    """
    if luma.shape[0] == 0:
        return torch.zeros(0, dtype=torch.float32, device=luma.device)
    first = luma[:1] if prev_luma is None else prev_luma.to(torch.float32)[None]
    previous = torch.cat([first, luma[:-1]])
    return (luma - previous).abs().mean(dim=(1, 2))


def _joint_histogram(
    c0: torch.Tensor, c1: torch.Tensor, c2: torch.Tensor, bins: int
) -> torch.Tensor:
    """[B, bins**3] fraction of pixels per bin; channel values quantised as c * bins // 256."""
    batch = c0.shape[0]
    q0, q1, q2 = ((c.to(torch.int32) * bins) // 256 for c in (c0, c1, c2))
    n_bins = bins**3
    index = (q0 * bins + q1) * bins + q2
    index = index.reshape(batch, c0.shape[1] * c0.shape[2]).to(torch.int64)
    index += torch.arange(batch, device=index.device)[:, None] * n_bins
    counts = torch.bincount(index.reshape(-1), minlength=batch * n_bins).reshape(batch, n_bins)
    return counts.to(torch.float32) / (c0.shape[1] * c0.shape[2])


def _frame_stats(
    luma: torch.Tensor,
    channels: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    prev_luma: torch.Tensor | None,
    thumb_size: tuple[int, int],
    bins: int,
) -> FrameStats:
    if luma.shape[0] == 0:
        thumbs = torch.zeros(0, *thumb_size, dtype=torch.float32, device=luma.device)
    else:
        thumbs = F.adaptive_avg_pool2d(luma[:, None], thumb_size)[:, 0]
    return FrameStats(thumbs, _joint_histogram(*channels, bins), thumbnail_diff(thumbs, prev_luma))


def frame_stats_rgb(
    frames: torch.Tensor,
    prev_luma: torch.Tensor | None,
    thumb_size: tuple[int, int],
    bins_per_channel: int,
) -> FrameStats:
    """Stats of uint8 RGB frames [B, H, W, 3]; luminance is BT.601 Y = .299 R + .587 G + .114 B."""
    rgb = frames.to(torch.float32)
    luma = rgb[..., 0] * BT601[0] + rgb[..., 1] * BT601[1] + rgb[..., 2] * BT601[2]
    channels = (frames[..., 0], frames[..., 1], frames[..., 2])
    return _frame_stats(luma, channels, prev_luma, thumb_size, bins_per_channel)


def chroma_index(size: int, chroma_size: int, device: torch.device) -> torch.Tensor:
    """Chroma row (or column) of each luma row (or column): p // 2, clamped to the last sample.

    The clamp covers odd frame sizes, where the chroma plane holds size // 2 samples and the last
    luma row or column borrows the chroma of its neighbour.
    """
    return (torch.arange(size, device=device) // 2).clamp_max(chroma_size - 1)


def frame_stats_nv12(
    y: torch.Tensor,
    uv: torch.Tensor,
    prev_luma: torch.Tensor | None,
    thumb_size: tuple[int, int],
    bins_per_channel: int,
) -> FrameStats:
    """Stats of NV12 frames: Y [B, H, W], interleaved UV [B, Hc, Wc, 2] at half resolution.

    Luminance is the Y plane as is. The histogram is over luma pixels: each chroma sample is
    counted once for each of the (up to) 4 luma pixels it covers.
    """
    height, width = y.shape[1], y.shape[2]
    rows = chroma_index(height, uv.shape[1], y.device)
    cols = chroma_index(width, uv.shape[2], y.device)
    full_uv = uv[:, rows][:, :, cols]
    channels = (y, full_uv[..., 0], full_uv[..., 1])
    return _frame_stats(y.to(torch.float32), channels, prev_luma, thumb_size, bins_per_channel)

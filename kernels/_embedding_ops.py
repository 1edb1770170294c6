"""Public similarity operations on embedding sequences: argument checks, then dispatch.

Each function validates its inputs once (clear `ValueError`s naming the valid values), asks the
dispatcher which implementation to use, and calls it. Both implementations take the same,
already validated arguments.
"""

from __future__ import annotations

import math
import numbers

import torch

from filmline.kernels import reference
from filmline.kernels._dispatch import resolve_impl, triton_module

FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
MAX_LAG_LIMIT = 8


def check_embeddings(name: str, x: object) -> None:
    """Raises `ValueError` unless `x` is a 2-D tensor [N, D] in a supported floating dtype."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor [N, D]; got {type(x).__name__}.")
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D tensor [N, D]; got shape {tuple(x.shape)}.")
    if x.dtype not in FLOAT_DTYPES:
        raise ValueError(
            f"{name} has dtype {x.dtype}; supported dtypes are float32, float16 and bfloat16."
        )


def adjacent_similarity(
    emb: torch.Tensor, max_lag: int = 1, *, impl: str | None = None
) -> torch.Tensor:
    """Cosine similarity of every row with the next `max_lag` rows: fp32 [max_lag, N].

    out[k-1, i] = cos(emb[i], emb[i+k]) for k = 1..max_lag; 0 where i + k >= N, and 0 for a
    zero row. Multi-lag similarity lets a shot detector see gradual transitions and flashes.
    """
    check_embeddings("emb", emb)
    if isinstance(max_lag, bool) or not isinstance(max_lag, numbers.Integral):
        raise ValueError(f"max_lag must be an int in 1..{MAX_LAG_LIMIT}; got {max_lag!r}.")
    if not 1 <= max_lag <= MAX_LAG_LIMIT:
        raise ValueError(f"max_lag must be in 1..{MAX_LAG_LIMIT}; got {max_lag}.")
    if resolve_impl(impl, emb) == "reference":
        return reference.adjacent_similarity(emb, int(max_lag))
    return triton_module("similarity").adjacent_similarity(emb, int(max_lag))


def shot_centroids(
    emb: torch.Tensor, offsets: torch.Tensor, *, impl: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-shot mean of L2-normalised rows (fp32 [S, D]) and key row (int64 [S]).

    Shot s is rows offsets[s]:offsets[s+1]. The key is the absolute index of the row most similar
    to the centroid, the lowest index among rows whose cosine is within
    `reference.KEY_TIE_TOL` (1e-5) of the best; an empty shot gives a zero centroid and key -1.
    `offsets` may live on the CPU; it is moved to emb's device.
    """
    check_embeddings("emb", emb)
    if not isinstance(offsets, torch.Tensor):
        raise ValueError(f"offsets must be a torch.Tensor [S+1]; got {type(offsets).__name__}.")
    if offsets.ndim != 1:
        raise ValueError(f"offsets must be a 1-D tensor [S+1]; got shape {tuple(offsets.shape)}.")
    if offsets.dtype.is_floating_point or offsets.dtype.is_complex or offsets.dtype == torch.bool:
        raise ValueError(f"offsets must be an integer tensor (int64); got dtype {offsets.dtype}.")
    offsets = offsets.to(device=emb.device, dtype=torch.int64)
    n = emb.shape[0]
    if offsets.numel() and bool(
        (offsets[0] < 0) | (offsets[-1] > n) | (offsets[1:] < offsets[:-1]).any()
    ):
        raise ValueError(
            f"offsets must be non-decreasing with values in [0, N] = [0, {n}]; "
            f"got {offsets.tolist() if offsets.numel() <= 16 else 'a violating tensor'}."
        )
    if resolve_impl(impl, emb) == "reference":
        return reference.shot_centroids(emb, offsets)
    return triton_module("centroids").shot_centroids(emb, offsets)


def match_runs(
    a: torch.Tensor, b: torch.Tensor, threshold: float, *, impl: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Longest run of matching pairs along each diagonal of cos(a, b): int64 lengths and starts.

    For d = j - i in [-(N-1), M-1], index d + N - 1 holds the length of the longest run of
    consecutive pairs (i, i+d), (i+1, i+d+1), ... with cosine >= threshold, and the row i of its
    first pair (earliest run on ties, -1 when the length is 0). A long run is a shared passage,
    e.g. the intro two episodes have in common. With N or M zero both outputs are empty.
    """
    check_embeddings("a", a)
    check_embeddings("b", b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"a and b must have the same embedding width D; got {a.shape[1]} and {b.shape[1]}."
        )
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueError(f"threshold must be a real number; got {threshold!r}.")
    if math.isnan(threshold):
        raise ValueError("threshold must be a real number; got nan.")
    if resolve_impl(impl, a, b) == "reference":
        return reference.match_runs(a, b, float(threshold))
    return triton_module("match").match_runs(a, b, float(threshold))

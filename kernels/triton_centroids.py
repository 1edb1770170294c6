"""Triton kernel for `shot_centroids`: every shot in one launch, one program per shot.

A program keeps its shot's centroid in registers as one fp32 vector of the padded width, so a
whole row is one tile of BLOCK_D = next_pow2(D) columns and no partial sums go through global
memory. It reads the shot three times: to sum the unit rows, to find the largest cosine to the
finished centroid, and to pick the lowest row tied with it (the later reads are mostly cache
hits for the short shots of a film). Long shots are walked BLOCK_R rows at a time.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from filmline.kernels._dispatch import KernelUnavailableError
from filmline.kernels.reference import EPS, KEY_TIE_TOL

_TILE_ELEMENTS = 8192  # BLOCK_R * BLOCK_D: 32 fp32 registers per thread at 8 warps
_MAX_D = 16384
_NUM_WARPS = 8


@triton.jit
def _cosine_to(x_ptr, rows, end, col_off, col_ok, stride_n, centroid, inv_centroid, eps):
    """cos(row, centroid) for a block of rows; -inf for rows past the shot's end."""
    ok = rows < end
    x = tl.load(
        x_ptr + rows[:, None] * stride_n + col_off, mask=ok[:, None] & col_ok[None, :], other=0.0
    ).to(tl.float32)
    inv = 1.0 / tl.maximum(tl.sqrt(tl.sum(x * x, axis=1)), eps)
    cosine = tl.sum(x * centroid[None, :], axis=1) * inv * inv_centroid
    return tl.where(ok, cosine, -float("inf"))


@triton.jit
def _shot_centroid_kernel(
    x_ptr,
    offsets_ptr,
    centroid_ptr,
    key_ptr,
    D,
    stride_n,
    stride_d,
    eps,
    tie_tol,
    BLOCK_R: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    shot = tl.program_id(0)
    start = tl.load(offsets_ptr + shot)
    end = tl.load(offsets_ptr + shot + 1)
    cols = tl.arange(0, BLOCK_D)
    col_ok = cols < D
    col_off = cols.to(tl.int64)[None, :] * stride_d
    local = tl.arange(0, BLOCK_R)

    total = tl.zeros([BLOCK_D], dtype=tl.float32)
    for r0 in range(start, end, BLOCK_R):
        rows = r0 + local
        ok = rows < end
        x = tl.load(
            x_ptr + rows[:, None] * stride_n + col_off, mask=ok[:, None] & col_ok[None, :], other=0.0
        ).to(tl.float32)
        inv = 1.0 / tl.maximum(tl.sqrt(tl.sum(x * x, axis=1)), eps)
        total += tl.sum(x * inv[:, None], axis=0)
    centroid = total / tl.maximum(end - start, 1).to(tl.float32)
    tl.store(centroid_ptr + shot.to(tl.int64) * D + cols, centroid, mask=col_ok)

    # Two more reads: the best cosine, then the lowest row within tie_tol of it (see the
    # reference for why ties have a tolerance). Both compute the cosines identically.
    inv_centroid = 1.0 / tl.maximum(tl.sqrt(tl.sum(centroid * centroid, axis=0)), eps)
    best = tl.full([], -float("inf"), dtype=tl.float32)
    for r0 in range(start, end, BLOCK_R):
        rows = r0 + local
        cosine = _cosine_to(x_ptr, rows, end, col_off, col_ok, stride_n, centroid, inv_centroid, eps)
        best = tl.maximum(best, tl.max(cosine, axis=0))
    key = tl.full([], -1, dtype=tl.int64)
    for r0 in range(start, end, BLOCK_R):
        rows = r0 + local
        cosine = _cosine_to(x_ptr, rows, end, col_off, col_ok, stride_n, centroid, inv_centroid, eps)
        tied = tl.min(tl.where(cosine >= best - tie_tol, rows, end), axis=0)
        key = tl.where((key < 0) & (tied < end), tied, key)
    tl.store(key_ptr + shot, key)


def shot_centroids(emb: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Triton `shot_centroids` on validated inputs (offsets int64 on emb's device)."""
    dim = emb.shape[1]
    n_shots = max(offsets.numel() - 1, 0)
    centroids = torch.empty(n_shots, dim, dtype=torch.float32, device=emb.device)
    keys = torch.empty(n_shots, dtype=torch.int64, device=emb.device)
    if n_shots == 0:
        return centroids, keys
    if dim > _MAX_D:
        raise KernelUnavailableError(
            f"The Triton shot_centroids holds whole rows in registers and supports D <= {_MAX_D}; "
            f"got D = {dim}. Use impl='reference'."
        )
    block_d = max(16, triton.next_power_of_2(dim))
    block_r = max(1, min(16, _TILE_ELEMENTS // block_d))
    with torch.cuda.device_of(emb):
        _shot_centroid_kernel[(n_shots,)](
            emb,
            offsets.contiguous(),
            centroids,
            keys,
            dim,
            emb.stride(0),
            emb.stride(1),
            EPS,
            KEY_TIE_TOL,
            BLOCK_R=block_r,
            BLOCK_D=block_d,
            num_warps=_NUM_WARPS,
        )
    return centroids, keys

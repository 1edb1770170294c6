"""Triton kernels for `match_runs`: diagonal run lengths without the N x M matrix.

A program owns BLOCK_DIAG consecutive diagonals d0 .. d0+BLOCK_DIAG-1 and walks down them
BLOCK_T rows of `a` at a time. For rows i0 .. i0+BLOCK_T-1 its pairs (i, i+d) touch the rows
i0+d0 .. i0+d0+W-1 of `b` (W = BLOCK_T + BLOCK_DIAG), so one tensor-core product
a[i0 : i0+BLOCK_T] @ b[i0+d0 : i0+d0+W].T holds them all, and `tl.gather` skews that band into a
[row, diagonal] tile. Along each diagonal, log2(BLOCK_T) pointer-jumping steps give the length
of the run of hits ending at every row (a scan would do too, but Triton's interpreter runs
custom scans element by element, which the CPU tests cannot afford). The run still open at the
bottom of the tile is carried into the next step, and the best run so far is kept per diagonal.
Extra memory is the two outputs and the row norms: O(N + M).

fp32 inputs use 3xTF32 tensor-core products, about as accurate as fp32 (plain TF32 could flip
pairs near the threshold); fp16/bf16 inputs use their native tensor-core path. Accumulation is
fp32 throughout.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from filmline.kernels._dispatch import triton_interpreted
from filmline.kernels.reference import EPS

_BLOCK_T = 64
_BLOCK_DIAG = 64
_BLOCK_K = 32
_NUM_WARPS = 8
_NORM_BLOCK_N = 32
_NORM_BLOCK_D = 128


@triton.jit
def _row_inv_norm_kernel(
    x_ptr, out_ptr, N, D, stride_n, stride_d, eps, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr
):
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.arange(0, BLOCK_D)
    row_ok = rows < N
    row_off = rows.to(tl.int64)[:, None] * stride_n
    sq = tl.zeros([BLOCK_N], dtype=tl.float32)
    for d0 in range(0, D, BLOCK_D):
        d = d0 + cols
        x = tl.load(
            x_ptr + row_off + d.to(tl.int64)[None, :] * stride_d,
            mask=row_ok[:, None] & (d < D)[None, :],
            other=0.0,
        ).to(tl.float32)
        sq += tl.sum(x * x, axis=1)
    tl.store(out_ptr + rows, 1.0 / tl.maximum(tl.sqrt(sq), eps), mask=row_ok)


@triton.jit
def _match_runs_kernel(
    a_ptr,
    b_ptr,
    inv_a_ptr,
    inv_b_ptr,
    length_ptr,
    start_ptr,
    N,
    M,
    D,
    stride_an,
    stride_ad,
    stride_bn,
    stride_bd,
    threshold,
    DOT_FP32: tl.constexpr,
    BLOCK_T: tl.constexpr,
    BLOCK_DIAG: tl.constexpr,
    BLOCK_K: tl.constexpr,
    LOG_T: tl.constexpr,
):
    W: tl.constexpr = BLOCK_T + BLOCK_DIAG
    first = tl.program_id(0) * BLOCK_DIAG  # output index of this program's first diagonal
    d0 = first - (N - 1)
    t = tl.arange(0, BLOCK_T)
    k = tl.arange(0, BLOCK_DIAG)
    w = tl.arange(0, W)
    kk = tl.arange(0, BLOCK_K)
    diag = d0 + k
    band = t[:, None] + k[None, :]  # column of the product holding pair (row t, diagonal k)
    carry = tl.zeros([BLOCK_DIAG], dtype=tl.int32)
    best_len = tl.zeros([BLOCK_DIAG], dtype=tl.int32)
    best_start = tl.full([BLOCK_DIAG], -1, dtype=tl.int32)
    i_lo = tl.maximum(0, -(d0 + BLOCK_DIAG - 1))
    i_hi = tl.minimum(N, M - d0)
    for i0 in range(i_lo, i_hi, BLOCK_T):
        i = i0 + t
        jw = i0 + d0 + w
        a_ok = i < N
        b_ok = (jw >= 0) & (jw < M)
        a_off = i.to(tl.int64)[:, None] * stride_an
        b_off = jw.to(tl.int64)[None, :] * stride_bn
        product = tl.zeros([BLOCK_T, W], dtype=tl.float32)
        for c0 in range(0, D, BLOCK_K):
            c = c0 + kk
            c_ok = c < D
            a_tile = tl.load(
                a_ptr + a_off + c.to(tl.int64)[None, :] * stride_ad,
                mask=a_ok[:, None] & c_ok[None, :],
                other=0.0,
            )
            b_tile = tl.load(
                b_ptr + b_off + c.to(tl.int64)[:, None] * stride_bd,
                mask=c_ok[:, None] & b_ok[None, :],
                other=0.0,
            )
            if DOT_FP32:
                product = tl.dot(
                    a_tile.to(tl.float32), b_tile.to(tl.float32), product, input_precision="tf32x3"
                )
            else:
                product = tl.dot(a_tile, b_tile, product)
        dots = tl.gather(product, band, axis=1)
        j = i[:, None] + diag[None, :]
        ok = a_ok[:, None] & (j >= 0) & (j < M)
        inv_a = tl.load(inv_a_ptr + i, mask=a_ok, other=0.0)
        inv_b = tl.load(inv_b_ptr + j, mask=ok, other=0.0)
        hit = ok & (dots * inv_a[:, None] * inv_b >= threshold)
        # Pointer jumping: after the step of width w, run = min(hits ending at t, 2w).
        run = hit.to(tl.int32)
        for level in tl.static_range(LOG_T):
            back = tl.broadcast_to(t[:, None] - (1 << level), [BLOCK_T, BLOCK_DIAG])
            before = tl.gather(run, tl.maximum(back, 0), axis=0)
            run = tl.where(run == (1 << level), (1 << level) + tl.where(back >= 0, before, 0), run)
        run = tl.where(run == t[:, None] + 1, run + carry[None, :], run)
        tile_best = tl.max(run, axis=0)
        end_t = tl.min(tl.where(run == tile_best[None, :], t[:, None], BLOCK_T), axis=0)
        better = tile_best > best_len
        best_start = tl.where(better, i0 + end_t - tile_best + 1, best_start)
        best_len = tl.where(better, tile_best, best_len)
        carry = tl.max(tl.where(t[:, None] == BLOCK_T - 1, run, 0), axis=0)
    out_ok = first + k < N + M - 1
    tl.store(length_ptr + first + k, best_len.to(tl.int64), mask=out_ok)
    tl.store(start_ptr + first + k, best_start.to(tl.int64), mask=out_ok)


def _row_inv_norms(x: torch.Tensor) -> torch.Tensor:
    """1 / max(||row||, eps) in fp32 for every row of `x`."""
    out = torch.empty(x.shape[0], dtype=torch.float32, device=x.device)
    _row_inv_norm_kernel[(triton.cdiv(x.shape[0], _NORM_BLOCK_N),)](
        x, out, x.shape[0], x.shape[1], x.stride(0), x.stride(1), EPS,
        BLOCK_N=_NORM_BLOCK_N, BLOCK_D=_NORM_BLOCK_D,
    )
    return out


def match_runs(
    a: torch.Tensor, b: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Triton `match_runs` on validated inputs; a and b are brought to one dtype for tl.dot."""
    n, m = a.shape[0], b.shape[0]
    n_diag = n + m - 1 if n and m else 0
    lengths = torch.empty(n_diag, dtype=torch.int64, device=a.device)
    starts = torch.empty(n_diag, dtype=torch.int64, device=a.device)
    if n_diag == 0:
        return lengths, starts
    dtype = torch.promote_types(a.dtype, b.dtype)
    a, b = a.to(dtype), b.to(dtype)
    # Triton's interpreter multiplies bf16 tiles as raw integers in tl.dot; there (CPU tests
    # only) bf16 tiles are widened to fp32 before the product, which is exact.
    dot_fp32 = dtype == torch.float32 or (triton_interpreted() and dtype == torch.bfloat16)
    with torch.cuda.device_of(a):
        inv_a, inv_b = _row_inv_norms(a), _row_inv_norms(b)
        _match_runs_kernel[(triton.cdiv(n_diag, _BLOCK_DIAG),)](
            a,
            b,
            inv_a,
            inv_b,
            lengths,
            starts,
            n,
            m,
            a.shape[1],
            a.stride(0),
            a.stride(1),
            b.stride(0),
            b.stride(1),
            threshold,
            DOT_FP32=dot_fp32,
            BLOCK_T=_BLOCK_T,
            BLOCK_DIAG=_BLOCK_DIAG,
            BLOCK_K=_BLOCK_K,
            LOG_T=_BLOCK_T.bit_length() - 1,
            num_warps=_NUM_WARPS,
        )
    return lengths, starts

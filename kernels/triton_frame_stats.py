"""Triton kernel for `frame_stats_rgb` / `frame_stats_nv12`: thumbnail and histogram in one pass.

A program covers one thumbnail row and CELLS adjacent thumbnail cells of one frame: the pixel
rectangle of those adaptive-average-pool cells (floor/ceil boundaries, so neighbouring cells may
share one row or column). From the same loads it sums luminance per pixel column (then per
cell) and histograms the quantised colours. Shared rows and columns are histogrammed only by the
program that owns them (floor-boundary partition), so every pixel is counted exactly once;
counts from all programs of a frame meet through integer atomics, which keeps the result exact
and deterministic. The frame-to-frame `diff` is computed afterwards on the tiny thumbnails.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from filmline.kernels._types import FrameStats
from filmline.kernels.reference import BT601, thumbnail_diff

_MAX_CELLS = 16  # thumbnail cells per program along the width
_MAX_BLOCK_R = 16
_MAX_BLOCK_W = 128
_NUM_WARPS = 4


@triton.jit
def _frame_stats_kernel(
    px_ptr,
    s_pb,
    s_ph,
    s_pw,
    s_pc,
    uv_ptr,
    s_ub,
    s_uh,
    s_uw,
    s_uc,
    HC,
    WC,
    luma_ptr,
    count_ptr,
    H,
    W,
    TH,
    TW,
    KR: tl.constexpr,
    KG: tl.constexpr,
    KB: tl.constexpr,
    NV12: tl.constexpr,
    BINS: tl.constexpr,
    NB_P2: tl.constexpr,
    CELLS: tl.constexpr,
    BLOCK_R: tl.constexpr,
    BLOCK_W: tl.constexpr,
):
    frame = tl.program_id(0)
    ti = tl.program_id(1)
    tj0 = tl.program_id(2) * CELLS
    tj_end = tl.minimum(tj0 + CELLS, TW)
    # Rows of this thumbnail row's cells, and the rows it histograms.
    h0 = (ti * H) // TH
    h1 = ((ti + 1) * H + TH - 1) // TH
    h_own = ((ti + 1) * H) // TH
    # Columns of this program's cells, and the columns it histograms.
    tj = tj0 + tl.arange(0, CELLS)
    w_start = (tj * W) // TW
    w_end = ((tj + 1) * W + TW - 1) // TW
    c_lo = (tj0 * W) // TW
    c_hi = (tj_end * W + TW - 1) // TW
    c_own = (tj_end * W) // TW

    r_local = tl.arange(0, BLOCK_R)
    w_local = tl.arange(0, BLOCK_W)
    px_frame = px_ptr + frame.to(tl.int64) * s_pb
    uv_frame = uv_ptr + frame.to(tl.int64) * s_ub
    cells = tl.zeros([CELLS], dtype=tl.float32)
    hist = tl.zeros([NB_P2], dtype=tl.int32)
    for c0 in range(c_lo, c_hi, BLOCK_W):
        cols = c0 + w_local
        col_ok = cols < c_hi
        col_sum = tl.zeros([BLOCK_W], dtype=tl.float32)
        for r0 in range(h0, h1, BLOCK_R):
            rows = r0 + r_local
            ok = (rows < h1)[:, None] & col_ok[None, :]
            pix = px_frame + rows.to(tl.int64)[:, None] * s_ph + cols.to(tl.int64)[None, :] * s_pw
            if NV12:
                ch_row = tl.minimum(rows // 2, HC - 1).to(tl.int64)
                ch_col = tl.minimum(cols // 2, WC - 1).to(tl.int64)
                ch = uv_frame + ch_row[:, None] * s_uh + ch_col[None, :] * s_uw
                v0 = tl.load(pix, mask=ok, other=0).to(tl.float32)
                v1 = tl.load(ch, mask=ok, other=0).to(tl.float32)
                v2 = tl.load(ch + s_uc, mask=ok, other=0).to(tl.float32)
                luma = v0
            else:
                v0 = tl.load(pix, mask=ok, other=0).to(tl.float32)
                v1 = tl.load(pix + s_pc, mask=ok, other=0).to(tl.float32)
                v2 = tl.load(pix + 2 * s_pc, mask=ok, other=0).to(tl.float32)
                luma = v0 * KR + v1 * KG + v2 * KB
            col_sum += tl.sum(luma, axis=0)  # masked pixels loaded as 0
            # c * BINS // 256 in fp32 is exact: 8-bit values times BINS / 256 (a short binary
            # fraction), then small integers.
            q0 = tl.floor(v0 * (BINS / 256))
            q1 = tl.floor(v1 * (BINS / 256))
            q2 = tl.floor(v2 * (BINS / 256))
            index = ((q0 * BINS + q1) * BINS + q2).to(tl.int32)
            own = ok & (rows < h_own)[:, None] & (cols < c_own)[None, :]
            hist += tl.histogram(
                tl.reshape(index, [BLOCK_R * BLOCK_W]),
                NB_P2,
                mask=tl.reshape(own, [BLOCK_R * BLOCK_W]),
            )
        inside = (cols[:, None] >= w_start[None, :]) & (cols[:, None] < w_end[None, :])
        cells += tl.sum(tl.where(inside, col_sum[:, None], 0.0), axis=0)
    area = tl.maximum((h1 - h0) * (w_end - w_start), 1).to(tl.float32)
    luma_off = (frame.to(tl.int64) * TH + ti) * TW + tj
    tl.store(luma_ptr + luma_off, cells / area, mask=tj < tj_end)
    bins = tl.arange(0, NB_P2)
    tl.atomic_add(
        count_ptr + frame.to(tl.int64) * (BINS * BINS * BINS) + bins,
        hist,
        mask=bins < BINS * BINS * BINS,
    )


def _run(
    pixels: torch.Tensor,
    pixel_strides: tuple[int, int, int, int],
    uv: torch.Tensor | None,
    prev_luma: torch.Tensor | None,
    thumb_size: tuple[int, int],
    bins: int,
) -> FrameStats:
    batch, height, width = pixels.shape[:3]
    th, tw = thumb_size
    n_bins = bins**3
    luma = torch.empty(batch, th, tw, dtype=torch.float32, device=pixels.device)
    counts = torch.zeros(batch, n_bins, dtype=torch.int32, device=pixels.device)
    if batch:
        cells = min(_MAX_CELLS, triton.next_power_of_2(tw))
        block_r = min(_MAX_BLOCK_R, triton.next_power_of_2(triton.cdiv(height, th) + 1))
        span = triton.cdiv(cells * width, tw) + 1  # widest column range of one program
        block_w = max(16, min(_MAX_BLOCK_W, triton.next_power_of_2(span)))
        if uv is None:  # RGB: the chroma arguments are unused
            uv_args = (pixels, 0, 0, 0, 0, 1, 1)
        else:
            uv_args = (uv, *uv.stride(), uv.shape[1], uv.shape[2])
        grid = (batch, th, triton.cdiv(tw, cells))
        with torch.cuda.device_of(pixels):
            _frame_stats_kernel[grid](
                pixels,
                *pixel_strides,
                *uv_args,
                luma,
                counts,
                height,
                width,
                th,
                tw,
                KR=BT601[0],
                KG=BT601[1],
                KB=BT601[2],
                NV12=uv is not None,
                BINS=bins,
                NB_P2=triton.next_power_of_2(n_bins),
                CELLS=cells,
                BLOCK_R=block_r,
                BLOCK_W=block_w,
                num_warps=_NUM_WARPS,
            )
    hist = counts.to(torch.float32) / (height * width)
    return FrameStats(luma, hist, thumbnail_diff(luma, prev_luma))


def frame_stats_rgb(
    frames: torch.Tensor,
    prev_luma: torch.Tensor | None,
    thumb_size: tuple[int, int],
    bins_per_channel: int,
) -> FrameStats:
    """Triton `frame_stats_rgb` on validated uint8 frames [B, H, W, 3] (any strides)."""
    return _run(frames, tuple(frames.stride()), None, prev_luma, thumb_size, bins_per_channel)


def frame_stats_nv12(
    y: torch.Tensor,
    uv: torch.Tensor,
    prev_luma: torch.Tensor | None,
    thumb_size: tuple[int, int],
    bins_per_channel: int,
) -> FrameStats:
    """Triton `frame_stats_nv12` on validated Y [B, H, W] and UV [B, Hc, Wc, 2] planes."""
    strides = (*y.stride(), 0)
    return _run(y, strides, uv, prev_luma, thumb_size, bins_per_channel)

"""Public per-frame statistics for the cheap full-rate pass: argument checks, then dispatch."""

from __future__ import annotations

import numbers

import torch

from filmline.kernels import reference
from filmline.kernels._dispatch import resolve_impl, triton_module
from filmline.kernels._types import FrameStats

MAX_BINS_PER_CHANNEL = 8


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_uint8(name: str, x: object, ndim: int, layout: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor {layout}; got {type(x).__name__}.")
    if x.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D tensor {layout}; got shape {tuple(x.shape)}.")
    if x.dtype != torch.uint8:
        raise ValueError(f"{name} must have dtype torch.uint8; got {x.dtype}.")


def _check_options(
    height: int,
    width: int,
    prev_luma: torch.Tensor | None,
    thumb_size: tuple[int, int],
    bins_per_channel: int,
    device: torch.device,
) -> tuple[torch.Tensor | None, tuple[int, int]]:
    """Validates the shared options; returns prev_luma as fp32 on `device` and the thumb size."""
    if (
        not isinstance(thumb_size, (tuple, list))
        or len(thumb_size) != 2
        or not all(_is_int(s) and s >= 1 for s in thumb_size)
    ):
        raise ValueError(f"thumb_size must be two positive ints (th, tw); got {thumb_size!r}.")
    th, tw = int(thumb_size[0]), int(thumb_size[1])
    if th > height or tw > width:
        raise ValueError(
            f"thumb_size {(th, tw)} is larger than the frame ({height}x{width}); "
            "use a thumbnail no larger than the frame in either axis."
        )
    if not _is_int(bins_per_channel):
        raise ValueError(f"bins_per_channel must be an int; got {bins_per_channel!r}.")
    if not 1 <= bins_per_channel <= MAX_BINS_PER_CHANNEL:
        raise ValueError(
            f"bins_per_channel must be in 1..{MAX_BINS_PER_CHANNEL}; got {bins_per_channel}."
        )
    if prev_luma is None:
        return None, (th, tw)
    if not isinstance(prev_luma, torch.Tensor) or not prev_luma.dtype.is_floating_point:
        raise ValueError("prev_luma must be a floating-point tensor [th, tw] or None.")
    if tuple(prev_luma.shape) != (th, tw):
        raise ValueError(
            f"prev_luma must have shape thumb_size {(th, tw)}; got {tuple(prev_luma.shape)}."
        )
    return prev_luma.to(device=device, dtype=torch.float32), (th, tw)


def frame_stats_rgb(
    frames: torch.Tensor,
    prev_luma: torch.Tensor | None = None,
    *,
    thumb_size: tuple[int, int] = (36, 64),
    bins_per_channel: int = 4,
    impl: str | None = None,
) -> FrameStats:
    """Luma thumbnails, RGB histograms and thumbnail differences of uint8 frames [B, H, W, 3].

    Luminance is BT.601 Y = 0.299 R + 0.587 G + 0.114 B, area-averaged into thumbnails with
    `adaptive_avg_pool2d`'s cells. `prev_luma` is the last thumbnail of the previous batch, so a
    stream can be processed in batches with the same `diff` as in one piece.
    """
    _check_uint8("frames", frames, 4, "[B, H, W, 3]")
    if frames.shape[3] != 3:
        raise ValueError(f"frames must have 3 channels (RGB) last; got shape {tuple(frames.shape)}.")
    prev, thumb = _check_options(
        frames.shape[1], frames.shape[2], prev_luma, thumb_size, bins_per_channel, frames.device
    )
    bins = int(bins_per_channel)
    if resolve_impl(impl, frames) == "reference":
        return reference.frame_stats_rgb(frames, prev, thumb, bins)
    return triton_module("frame_stats").frame_stats_rgb(frames, prev, thumb, bins)


def frame_stats_nv12(
    y: torch.Tensor,
    uv: torch.Tensor,
    prev_luma: torch.Tensor | None = None,
    *,
    thumb_size: tuple[int, int] = (36, 64),
    bins_per_channel: int = 4,
    impl: str | None = None,
) -> FrameStats:
    """The same statistics straight from NV12 planes, as NVDEC delivers them: no RGB conversion.

    `y` is uint8 [B, H, W]; `uv` is the interleaved chroma plane [B, H//2, W//2, 2] (ceil sizes
    for odd frames are accepted too). Luminance is the Y plane; the histogram is over (Y, U, V)
    per luma pixel, each chroma sample counting for the (up to) 4 luma pixels it covers.
    """
    _check_uint8("y", y, 3, "[B, H, W]")
    _check_uint8("uv", uv, 4, "[B, H//2, W//2, 2]")
    batch, height, width = y.shape
    if (
        uv.shape[0] != batch
        or uv.shape[3] != 2
        or uv.shape[1] not in (height // 2, (height + 1) // 2)
        or uv.shape[2] not in (width // 2, (width + 1) // 2)
        or uv.shape[1] == 0
        or uv.shape[2] == 0
    ):
        raise ValueError(
            f"uv must have shape [B, H//2, W//2, 2] = {[batch, height // 2, width // 2, 2]} "
            f"(ceil sizes allowed, at least one chroma sample) for y of shape {tuple(y.shape)}; "
            f"got {tuple(uv.shape)}."
        )
    prev, thumb = _check_options(height, width, prev_luma, thumb_size, bins_per_channel, y.device)
    bins = int(bins_per_channel)
    if resolve_impl(impl, y, uv) == "reference":
        return reference.frame_stats_nv12(y, uv, prev, thumb, bins)
    return triton_module("frame_stats").frame_stats_nv12(y, uv, prev, thumb, bins)

"""Fused similarity kernels: Triton on the GPU, a PyTorch reference that defines the semantics.

Every function takes ``impl=None | "auto" | "triton" | "reference"``; None reads the
``FILMLINE_KERNELS`` environment variable (default "auto": Triton for CUDA tensors when Triton
imports, the reference otherwise). See `kernels._dispatch` for the rule.
"""

from filmline.kernels._dispatch import KernelUnavailableError, resolve_impl
from filmline.kernels._embedding_ops import adjacent_similarity, match_runs, shot_centroids
from filmline.kernels._frame_ops import frame_stats_nv12, frame_stats_rgb
from filmline.kernels._types import FrameStats

__all__ = [
    "FrameStats",
    "KernelUnavailableError",
    "adjacent_similarity",
    "frame_stats_nv12",
    "frame_stats_rgb",
    "match_runs",
    "resolve_impl",
    "shot_centroids",
]

"""Encoder input: uint8 RGB images to normalised float32 `[B, 3, S, S]` pixels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def to_pixels(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """`images` uint8 `[B, S, S, 3]` (already resized) → `(x / 255 - mean) / std`, channels first."""
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 [B, S, S, 3] images, got {images.dtype} {images.shape}")
    scale = 1.0 / (255.0 * np.asarray(std, dtype=np.float32))
    shift = np.asarray(mean, dtype=np.float32) / np.asarray(std, dtype=np.float32)
    pixels = images.astype(np.float32) * scale - shift
    return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))

"""The cheap per-second feature: a W×H luminance thumbnail, standardised per frame.

Needs no weights, so intros can be matched across episodes, learned and tested on any machine.
An intro model trained on it names its embedder `luma-WxH`.
"""

from __future__ import annotations

import re

import numpy as np

BT601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_LUMA = re.compile(r"^luma-(\d+)x(\d+)$")


def luma_size(embedder: str) -> tuple[int, int] | None:
    """(width, height) of a `luma-WxH` embedder; None for an image encoder's name."""
    match = _LUMA.match(embedder)
    return (int(match.group(1)), int(match.group(2))) if match else None


def luminance(images: np.ndarray) -> np.ndarray:
    """BT.601 luminance of uint8 RGB images `[..., h, w, 3]`, flattened per image: float32 `[..., h * w]`."""
    luma = images.astype(np.float32) @ BT601
    return luma.reshape(*luma.shape[:-2], -1)


def standardise(luma: np.ndarray) -> np.ndarray:
    """Zero mean and unit spread per row; a flat frame (spread ≤ 1 grey level) is all zeros."""
    luma = luma.astype(np.float32) - luma.mean(axis=1, keepdims=True)
    spread = luma.std(axis=1, keepdims=True)
    return np.where(spread > 1.0, luma / np.maximum(spread, 1.0), 0.0).astype(np.float32)


def luma_embeddings(images: np.ndarray) -> np.ndarray:
    """Standardised luminance thumbnails, flattened: float32 `[T, h * w]`."""
    return standardise(luminance(images).reshape(len(images), -1))

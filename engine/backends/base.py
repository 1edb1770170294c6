"""The one interface every inference runtime keeps, and what it must know about the model.

A runner maps normalised pixels float32 [B, 3, S, S] to embeddings float32 [B, D]. The output
type follows the input: a NumPy array in gives a NumPy array out; a torch tensor in gives a torch
tensor out, left on the runner's device (TensorRT and PyTorch on CUDA never copy to the host).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:
    import torch

Pixels = Union[np.ndarray, "torch.Tensor"]
BACKENDS = ("tensorrt", "onnxruntime", "torch")


@dataclass(frozen=True)
class EncoderInfo:
    """What a caller needs to prepare input for one built encoder and to cite it."""

    model: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    embedding_dim: int
    manifest_hash: str | None  # None when running weights that no artifact describes

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], manifest_hash: str) -> "EncoderInfo":
        source = manifest["input"]
        return cls(
            model=manifest["model"],
            image_size=int(source["image_size"]),
            mean=tuple(source["mean"]),
            std=tuple(source["std"]),
            embedding_dim=int(manifest["embedding_dim"]),
            manifest_hash=manifest_hash,
        )


class Runner(ABC):
    """An image encoder on one runtime. `name` says which runtime ran, for the result file."""

    name: str  # "tensorrt", "onnxruntime" or "torch"
    device: str  # "cuda" or "cpu"
    precision: str  # the precision the runtime computes in: "fp32", "fp16" or "bf16"

    def __init__(self, info: EncoderInfo) -> None:
        self.model = info.model
        self.image_size = info.image_size
        self.mean = info.mean
        self.std = info.std
        self.embedding_dim = info.embedding_dim
        self.manifest_hash = info.manifest_hash

    @abstractmethod
    def run(self, pixels: Pixels) -> Pixels:
        """Embeddings float32 [B, D] of normalised pixels float32 [B, 3, S, S]."""

    def _check_shape(self, pixels: Pixels) -> None:
        """A wrong shape is a caller bug, so a `ValueError`, not an `EngineError`."""
        shape = tuple(pixels.shape)
        size = self.image_size
        if len(shape) != 4 or shape[1:] != (3, size, size) or shape[0] < 1:
            raise ValueError(f"{self.model} expects pixels [B, 3, {size}, {size}], got {shape}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, device={self.device!r}, "
            f"precision={self.precision!r}, dim={self.embedding_dim}, "
            f"manifest={self.manifest_hash!r})"
        )

"""The one interface every inference runtime keeps, and what it must know about the model.

A runner maps a batch float32 [B, *item_shape] to float32 outputs; the artifact's manifest says
what an item is: normalised pixels [3, S, S] for an image encoder (embeddings [B, D] out), a
window of embeddings [W, D] (intro), a window of small frames [100, 27, 48, 3] (TransNetV2).
The output type follows the input: a NumPy array in gives a NumPy array out; a torch tensor in gives a torch
tensor out, left on the runner's device (TensorRT and PyTorch on CUDA never copy to the host).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from filmline.engine import registry

if TYPE_CHECKING:
    import torch

Pixels = Union[np.ndarray, "torch.Tensor"]
BACKENDS = registry.names("runtime")  # fastest first


@dataclass(frozen=True)
class ModelInput:
    """What a runner's input is, for a model that is not an image encoder."""

    model: str
    item_shape: tuple[int, ...]  # one item of the batch
    manifest_hash: str | None = None


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
    """A built model on one runtime. `name` says which runtime ran, for the result file."""

    name: str  # "tensorrt", "onnxruntime" or "torch"
    device: str  # "cuda" or "cpu"
    precision: str  # the precision the runtime computes in: "fp32", "fp16" or "bf16"

    def __init__(self, info: EncoderInfo | ModelInput) -> None:
        self.model = info.model
        self.manifest_hash = info.manifest_hash
        if isinstance(info, ModelInput):
            self.item_shape, self._input_kind = info.item_shape, "items"
            return
        self.image_size = info.image_size
        self.mean = info.mean
        self.std = info.std
        self.embedding_dim = info.embedding_dim
        self.item_shape, self._input_kind = (3, info.image_size, info.image_size), "pixels"

    @abstractmethod
    def run(self, pixels: Pixels) -> Pixels:
        """Outputs float32 [B, ...] of a batch float32 [B, *item_shape] (embeddings of pixels)."""

    def _check_shape(self, pixels: Pixels) -> None:
        """A wrong shape is a caller bug, so a `ValueError`, not an `EngineError`."""
        shape = tuple(pixels.shape)
        if shape[1:] != self.item_shape or shape[0] < 1:
            dims = ", ".join(map(str, self.item_shape))
            raise ValueError(f"{self.model} expects {self._input_kind} [B, {dims}], got {shape}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, device={self.device!r}, "
            f"precision={self.precision!r}, item_shape={self.item_shape}, "
            f"manifest={self.manifest_hash!r})"
        )

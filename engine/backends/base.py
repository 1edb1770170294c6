"""The one interface every inference runtime keeps, and the description of what a model reads.

A runner maps a batch float32 [B, *item_shape] to float32 outputs; the artifact's manifest says
what an item is (`ModelInput.kind`): normalised pixels [3, S, S] for an image encoder or the
trigger CNN's frame encoder, a window of embeddings [W, D] (the intro transformer), a window of
small frames [100, 27, 48, 3] (TransNetV2). The output type follows the input: a NumPy array in
gives a NumPy array out; a torch tensor in gives a torch tensor out, left on the runner's device
(TensorRT and PyTorch on CUDA never copy to the host).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from filmline.engine import registry

if TYPE_CHECKING:
    import torch

Pixels = Union[np.ndarray, "torch.Tensor"]
BACKENDS = registry.names("runtime")  # fastest first
PIXELS = "pixels"
FEATURE_WINDOWS = "feature windows"
FRAME_WINDOWS = "frame windows"


@dataclass(frozen=True)
class PixelFormat:
    """How frames become a pixel model's input: square size and per-channel normalisation."""

    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass(frozen=True)
class ModelInput:
    """What one model reads and which build it is, as its artifact (or loaded weights) says."""

    model: str
    kind: str  # PIXELS, FEATURE_WINDOWS or FRAME_WINDOWS
    item_shape: tuple[int, ...]  # one item of the batch
    manifest_hash: str | None = None  # None when running weights that no artifact describes
    pixels: PixelFormat | None = None  # for kind PIXELS
    output_dim: int | None = None  # an embedding model's output width
    manifest: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def for_pixels(cls, model: str, image_size: int, mean: tuple[float, ...], std: tuple[float, ...],
                   embedding_dim: int | None, manifest_hash: str | None = None,
                   manifest: dict[str, Any] | None = None) -> "ModelInput":
        """A pixel model's input; `embedding_dim` None for one that outputs no embedding (a detector)."""
        return cls(model, PIXELS, (3, image_size, image_size), manifest_hash,
                   PixelFormat(int(image_size), tuple(mean), tuple(std)),
                   None if embedding_dim is None else int(embedding_dim), manifest)

    @classmethod
    def from_manifest(cls, kind: str, manifest: dict[str, Any], manifest_hash: str) -> "ModelInput":
        """The input the manifest's `input.shape` (["batch", *item]) describes."""
        source = manifest["input"]
        if kind == PIXELS:
            return cls.for_pixels(manifest["model"], int(source["image_size"]), source["mean"], source["std"],
                                  manifest.get("embedding_dim"), manifest_hash, manifest)
        item_shape = tuple(int(size) for size in source["shape"][1:])
        return cls(manifest["model"], kind, item_shape, manifest_hash, manifest=manifest)


class Runner(ABC):
    """A built model on one runtime. `name` says which runtime ran, for the result file."""

    name: str  # one of BACKENDS
    device: str  # "cuda" or "cpu"
    precision: str  # the precision the runtime computes in: "fp32", "fp16" or "bf16"

    def __init__(self, model_input: ModelInput) -> None:
        self.input = model_input
        self.model = model_input.model
        self.manifest_hash = model_input.manifest_hash
        self.manifest = model_input.manifest
        self.item_shape = model_input.item_shape

    # What a pixel model's caller prepares frames with (an AttributeError for other kinds).
    @property
    def image_size(self) -> int:
        return self._pixels().image_size

    @property
    def mean(self) -> tuple[float, float, float]:
        return self._pixels().mean

    @property
    def std(self) -> tuple[float, float, float]:
        return self._pixels().std

    @property
    def embedding_dim(self) -> int:
        if self.input.output_dim is None:
            raise AttributeError(f"{self.model} does not output embeddings")
        return self.input.output_dim

    def _pixels(self) -> PixelFormat:
        if self.input.pixels is None:
            raise AttributeError(f"{self.model} reads {self.input.kind}, not pixels")
        return self.input.pixels

    @abstractmethod
    def run(self, items: Pixels) -> Pixels:
        """Outputs float32 [B, ...] of a batch float32 [B, *item_shape]."""

    def _check_shape(self, items: Pixels) -> None:
        """A wrong shape is a caller bug, so a `ValueError`, not an `EngineError`."""
        shape = tuple(items.shape)
        if shape[1:] != self.item_shape or shape[0] < 1:
            dims = ", ".join(map(str, self.item_shape))
            raise ValueError(f"{self.model} expects {self.input.kind} [B, {dims}], got {shape}")

    def describe(self) -> dict[str, Any]:
        """What the result document says about the runtime that ran."""
        return {"backend": self.name, "device": self.device, "precision": self.precision,
                "manifest_hash": self.manifest_hash}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, device={self.device!r}, "
            f"precision={self.precision!r}, input={self.input.kind} {self.item_shape}, "
            f"manifest={self.manifest_hash!r})"
        )

"""What the model layer must know about one model to open it: its `ModelEntry`.

Adding a model to the engine's runtime is one entry (here, in a model's own module) plus one
line in the registry's `model` table; the opener (`open_model`) does the rest the same way for
every model: manifest, runtime choice, runner. Light on purpose: no torch here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from filmline.engine.backends.base import ModelInput

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Artifact:
    """An artifact folder under ENGINE_HOME, and its manifest when one is there."""

    name: str
    folder: Path
    manifest: dict[str, Any] | None
    hash: str | None  # of the manifest, for result files

    def file(self, kind: str) -> Path | None:
        """The manifest's `files[kind]`, when it exists on disk."""
        name = (self.manifest or {}).get("files", {}).get(kind)
        return self.folder / name if name and (self.folder / name).is_file() else None


# (artifact, weights or None) → the fp32 module on the CPU and the input it reads
TorchLoader = Callable[[Artifact, "str | None"], "tuple[torch.nn.Module, ModelInput]"]


@dataclass(frozen=True)
class ModelEntry:
    """How the model layer opens one model (an image encoder family, the trigger CNN, ...)."""

    kind: str  # what an item is: base.PIXELS, FEATURE_WINDOWS or FRAME_WINDOWS
    build_fix: str  # the command that builds the artifact ("{name}" is filled in), without --force
    load_torch: TorchLoader  # PyTorch's module: from the artifact's `torch_file`, or its own source
    torch_file: str | None = None  # the manifest `files` entry PyTorch needs; None: none
    needs_manifest: bool = True  # False: PyTorch runs without any artifact
    noun: str = "model"  # how messages name it: "no siglip encoder in ..."
    missing_fix: str = ""  # said after the build command when nothing can run
    torch_precision: str | None = None  # None: fp16 on CUDA, fp32 on the CPU
    cuda_graphs: bool = True  # PyTorch on CUDA replays captured graphs (fixed input shapes)
    # (artifact, weights) → whether the artifact was built from `weights` (models that take --weights)
    built_from: Callable[[Artifact, str], bool] | None = None

"""The object detectors on trigger frames (DETR, RT-DETR) as models of the model layer.

One `ModelEntry` per family (the registry's `model` table names them), so `open_model` opens a
detector like any other model: TensorRT ▸ ONNX Runtime ▸ PyTorch, which reloads the weights the
manifest names. The graph is pixels in, `[1, Q, C + 4]` out (`engine.models.detector`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from filmline.engine.backends.base import PIXELS, ModelInput
from filmline.engine.backends.entry import Artifact, ModelEntry

if TYPE_CHECKING:
    import torch

AUTO_ORDER = ("rtdetr", "detr")  # what `auto` takes, the faster first
BUILD_FIX = "engine-build --model rtdetr --weights FOLDER_OR_HUB_ID (or --model detr)"


def _load_torch(artifact: Artifact, weights: str | None) -> tuple["torch.nn.Module", ModelInput]:
    """The manifest's weights as the same graph the artifact holds (score activation inside)."""
    from filmline.engine.models.detector import DetectorFamily, detection_graph, load_detector

    family = DetectorFamily.named(artifact.manifest["family"])
    graph = detection_graph(load_detector(family, artifact.manifest["weights"]["source"]), family)
    return graph, ModelInput.from_manifest(PIXELS, artifact.manifest, artifact.hash)


def _entry(family: str) -> ModelEntry:
    # PyTorch in fp32 on every device (fp16 is checked on tiny models only), without CUDA graphs
    # (one frame at a time, a few per film: nothing to replay)
    return ModelEntry(kind=PIXELS, build_fix=f"engine-build --model {family} --weights FOLDER_OR_HUB_ID",
                      load_torch=_load_torch, noun="object detector", torch_precision="fp32", cuda_graphs=False)


DETR = _entry("detr")
RTDETR = _entry("rtdetr")

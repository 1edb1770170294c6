"""DETR-family object detectors (DETR, RT-DETR) from Hugging Face weights, as one graph.

`DetectionGraph` wraps a transformers detector so every runtime sees the same thing: pixels
float32 `[B, 3, S, S]` (normalised as `configs/objects.yaml` says) → `[B, Q, C + 4]`: per query,
the score of each of the C labels (softmax without "no object" for DETR, sigmoid for RT-DETR)
and its box as (cx, cy, w, h) relative to the image. The family's score activation lives inside
the graph, so post-processing (`engine.stages.objects`) is one function for both.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filmline.engine.config import read_config
from filmline.engine.errors import BadInputError, MissingModelError, first_line



@dataclass(frozen=True)
class DetectorFamily:
    name: str
    model_class: str  # a `transformers` class name
    model_types: tuple[str, ...]  # config.json `model_type`s it loads
    source: str  # the default weights (hub id)
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    scores: str  # "softmax" (last class is "no object") or "sigmoid"

    def with_processor_of(self, location: str) -> "DetectorFamily":
        """This family with the input size and normalisation that the weights folder's image
        processor (`preprocessor_config.json`, as save_pretrained writes it) states, where it does."""
        path = Path(location) / "preprocessor_config.json"
        if not path.is_file():
            return self
        processor = json.loads(path.read_text(encoding="utf-8"))
        size = processor.get("size") or {}
        side = size.get("height") or size.get("shortest_edge") or self.image_size
        mean, std = tuple(processor.get("image_mean", self.mean)), tuple(processor.get("image_std", self.std))
        if processor.get("do_normalize") is False:
            mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        return dataclasses.replace(self, image_size=int(side), mean=mean, std=std)

    @classmethod
    def named(cls, name: str) -> "DetectorFamily":
        families = read_config("objects.yaml")["families"]
        if name not in families:
            raise BadInputError(f"unknown object detector '{name}': choose one of {', '.join(families)}")
        entry = families[name]
        return cls(name, entry["model_class"], tuple(entry["model_types"]), entry["source"], int(entry["image_size"]),
                   tuple(entry["mean"]), tuple(entry["std"]), entry["scores"])


def detection_graph(model: Any, family: DetectorFamily) -> Any:
    """`model` (a transformers detector) as a `DetectionGraph` module in eval mode."""
    import torch

    class DetectionGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            output = self.model(pixel_values=pixels)
            if family.scores == "softmax":
                scores = output.logits.softmax(-1)[..., :-1]
            else:
                scores = output.logits.sigmoid()
            return torch.cat([scores, output.pred_boxes.to(scores.dtype)], dim=-1)

    return DetectionGraph().eval()


def load_detector(family: DetectorFamily, location: str) -> Any:
    """The transformers detector at `location` (a Hugging Face folder or hub id), fp32, eval mode,
    on the CPU. Weights of another family, a missing folder or a missing timm give one line."""
    import transformers

    folder = Path(location).expanduser()
    if folder.exists() and not (folder / "config.json").is_file():
        raise MissingModelError(f"'{location}' is not a Hugging Face model folder (no config.json): "
                                "save the detector with save_pretrained() or pass a hub id")
    try:
        config = transformers.AutoConfig.from_pretrained(str(folder) if folder.exists() else location)
    except OSError as err:
        raise MissingModelError(f"cannot load detector weights '{location}' ({first_line(err)}): pass --weights "
                                "with a Hugging Face folder (config.json + model.safetensors) or a cached hub id") from err
    if config.model_type not in family.model_types:
        raise BadInputError(f"'{location}' holds a {config.model_type} model, not {family.name}: "
                            f"use --model {_family_of(config.model_type) or family.name} or other --weights")
    if getattr(config, "use_timm_backbone", False):
        import importlib.util

        if importlib.util.find_spec("timm") is None:
            raise MissingModelError(f"'{location}' uses a timm backbone and timm is not installed: pip install timm")
    model_class = getattr(transformers, family.model_class)
    try:
        model = model_class.from_pretrained(str(folder) if folder.exists() else location, config=config)
    except OSError as err:
        raise MissingModelError(f"cannot load detector weights '{location}' ({first_line(err)})") from err
    return model.float().eval()


def label_names(model: Any) -> list[str]:
    """The model's class names in output order (`config.id2label`)."""
    id2label = model.config.id2label
    return [str(id2label.get(i, id2label.get(str(i), f"class_{i}"))) for i in range(model.config.num_labels)]


def _family_of(model_type: str) -> str | None:
    families = read_config("objects.yaml")["families"]
    return next((name for name in families if model_type in DetectorFamily.named(name).model_types), None)

"""`engine-build --model detr|rtdetr --weights FOLDER_OR_HUB_ID`: an object detector of the DETR
family from Hugging Face weights, on the shared export path (`export.pipeline`).

The graph is built for batch 1: trigger frames are few and come one at a time, and transformers'
RT-DETR takes `len()` of a batch tensor, which fixes the batch when exported (torch.export
specialises it), so a dynamic batch axis is not possible for it. Parity compares each image's
queries as a set (`in_query_order`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from filmline.engine.backends.base import ModelInput
from filmline.engine.backends.weights import folder_content_hash
from filmline.engine.config import parity_tolerance, read_config
from filmline.engine.models.detector import DetectorFamily, detection_graph, label_names, load_detector
from filmline.export.pipeline import (BatchProfile, BuildRequest, BuildResult, ExportConfig, ModelBuild, Progress,
                                      build_artifact, check_sources)
from filmline.export.validate import random_pixels

INPUT_NAME, OUTPUT_NAME = "pixels", "detections"
BATCH = BatchProfile(1, 1, 1)
_PARITY_DRAWS = (1, 1)  # two random images, one at a time


def build(request: BuildRequest, progress: Progress = lambda line: None) -> BuildResult:
    """Build (or reuse) the artifact of detector `request.model` (detr, rtdetr) from
    `request.weights` (default: the family's hub source)."""
    check_sources(request, "weights", required=False)
    family = DetectorFamily.named(request.model)
    location, revision = _locate(request.weights or family.source)
    family = family.with_processor_of(location)
    request = dataclasses.replace(request, batch=BATCH)
    key_inputs = {"model": family.name, "family": vars(family), "weights": location, "revision": revision}

    def load() -> ModelBuild:
        progress(f"loading {family.name} weights from {location} ...")
        model = load_detector(family, location)
        known = revision or getattr(model.config, "_commit_hash", None)
        return ModelBuild(export_config(detection_graph(model, family), family), {**key_inputs, "revision": known},
                          _manifest(family, location, known, label_names(model)),
                          export_note=f", {family.image_size}x{family.image_size}")

    # a hub id's revision is known once loaded, so a build is never reused on the id alone
    forced = request if revision is not None else dataclasses.replace(request, force=True)
    return build_artifact(forced, key_inputs, load, progress)


def export_config(graph: Any, family: DetectorFamily) -> ExportConfig:
    """Normalised pixels `[1, 3, S, S]` → detections `[1, Q, C + 4]`, tolerances from configs/objects.yaml."""
    tolerance = read_config("objects.yaml")["parity"]
    size = family.image_size
    return ExportConfig(
        module=graph,
        model_input=ModelInput.for_pixels(family.name, size, family.mean, family.std, None),
        input_name=INPUT_NAME,
        output_name=OUTPUT_NAME,
        dummy=lambda batch, rng: random_pixels(size, family.mean, family.std, batch, rng),
        tolerance=lambda precision: parity_tolerance(tolerance, precision),
        label=f"the {family.name} object detector",
        parity_batches=_PARITY_DRAWS,
        fixed_batch=1,
        canonical=in_query_order,
    )


def in_query_order(detections: np.ndarray) -> np.ndarray:
    """The queries `[Q, C + 4]` sorted by their box, then scores: a DETR decoder's queries are a
    set, and RT-DETR's top-k selection hands the same ones over in another order on another
    runtime (seen with ONNX Runtime), which is no difference in what it detects."""
    labels = detections.shape[1] - 4
    priority = np.concatenate([detections[:, labels:], detections[:, :labels]], axis=1)  # cx, cy, w, h, scores
    return detections[np.lexsort(np.round(priority, 3).T[::-1])]  # lexsort's last key is the primary one


def _manifest(family: DetectorFamily, location: str, revision: str | None, labels: list[str]) -> dict[str, Any]:
    size = family.image_size
    return {
        "model": family.name,
        "family": family.name,
        "weights": {"kind": "local" if Path(location).is_dir() else "hub", "source": location, "revision": revision},
        "input": {"name": INPUT_NAME, "shape": [1, 3, size, size], "image_size": size, "mean": list(family.mean),
                  "std": list(family.std)},
        "output": {"name": OUTPUT_NAME, "shape": [1, "queries", "labels + 4"],
                   "layout": f"{family.scores} class scores, then box cx, cy, w, h relative to the image"},
        "labels": labels,
    }


def _locate(weights: str) -> tuple[str, str | None]:
    """(location, revision): a folder by absolute path and content hash; a hub id as given, its
    revision known once loaded (None: not yet)."""
    folder = Path(weights).expanduser()
    if folder.is_dir():
        return str(folder.resolve()), folder_content_hash(folder.resolve())
    return weights, None

"""`engine-build --model trigger --checkpoint FILE`: the original video-trigger project's model as a
deployable artifact.

The per-frame part (backbone + projection to 512) is an image encoder's export config on the shared
export path (`export.pipeline`): ONNX with a dynamic batch, parity against PyTorch (plus the
confidences the head computes from the exported features), TensorRT where installed. The temporal head stays in PyTorch
(`trigger.pt`, with the encoder's weights for backend torch): torch 2.13's dynamo exporter fixes
the LSTM's sequence length to the example's, so an exported head fails on any other video length,
and the TorchScript exporter that gets it right is deprecated. The head is ~1 M parameters run
once per video, so this costs nothing measurable. The manifest records where each part runs.
"""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from filmline.engine.backends.catalog import TRIGGER_TORCH_FILE
from filmline.engine.config import parity_tolerance, read_config
from filmline.engine.errors import MissingModelError
from filmline.engine.models.trigger import TriggerModel, trigger_confidence
from filmline.engine.models.trigger_checkpoint import file_sha256, load_trigger_checkpoint
from filmline.export.build import image_export, pixel_input
from filmline.export.models import OUTPUT_NAME
from filmline.export.pipeline import BuildRequest, BuildResult, ModelBuild, Progress, build_artifact, check_sources
from filmline.export.validate import ParityError, Run

MODEL_NAME = "trigger"
TORCH_FILE = "trigger.pt"
_PARITY_FRAMES = 6
_HEAD_WHY = "torch.onnx (dynamo) fixes the LSTM's sequence length; the head runs once per video"


class FrameEncoder(nn.Module):
    """The exported graph: normalised pixels [B, 3, S, S] → frame features [B, 512], with what
    an image encoder's export config reads (size, mean/std, feature width)."""

    def __init__(self, model: TriggerModel, defaults: dict[str, Any]) -> None:
        super().__init__()
        self.visual_encoder = model.visual_encoder
        self.image_size = model.config.image_size
        self.mean = tuple(defaults["mean"])
        self.std = tuple(defaults["std"])
        self.embedding_dim = model.config.feature_dim

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.visual_encoder(pixel_values)


def build(request: BuildRequest, progress: Progress = lambda line: None) -> BuildResult:
    """Build (or reuse) the trigger artifact from a trigger-model checkpoint file."""
    check_sources(request, "checkpoint")
    strict = request.strict
    path = Path(request.checkpoint).expanduser().resolve()
    if not path.is_file():
        raise MissingModelError(f"checkpoint {path} does not exist: pass --checkpoint with a trigger-model checkpoint file (its train.py's, or engine-train trigger's)")
    defaults = read_config("trigger.yaml")["model"]
    digest = file_sha256(path)
    key_inputs = {"checkpoint": digest, "model": defaults}

    def check_reused(manifest: dict[str, Any]) -> None:
        if strict and (manifest["checkpoint"]["missing"] or manifest["checkpoint"]["unexpected"]):
            load_trigger_checkpoint(path, strict=True, sha256=digest)  # raises, naming what does not fit

    def load() -> ModelBuild:
        progress(f"loading {path} ...")
        model, report = load_trigger_checkpoint(path, strict=strict, sha256=digest)
        if report.skipped:
            progress(f"skipped {report.skipped} language-model tensors (temporal_llm.*): the trigger stage does not use them")
        if not report.exact:
            progress(f"warning: {report.problem()}; missing ones keep their initial values (--strict refuses such a file)")
        encoder = FrameEncoder(model, defaults).eval()
        config = image_export(encoder, lambda precision: parity_tolerance(defaults, precision), MODEL_NAME)
        torch_config = dataclasses.replace(model.config, time_aware=None)

        def save(folder: Path) -> dict[str, str]:
            kept = {k: v for k, v in model.state_dict().items() if not k.startswith("time_aware_encoder.")}
            torch.save({"config": torch_config.as_dict(), "state_dict": kept}, folder / TORCH_FILE)
            return {TRIGGER_TORCH_FILE: TORCH_FILE}

        def confidence(run: Run, say: Progress) -> dict[str, Any]:
            figures = _confidence_parity(run, model, config, defaults)
            say(f"trigger confidence from ONNX features vs PyTorch: max abs error {figures['max_abs_error']:.2e}")
            return {"onnxruntime-confidence": figures}

        manifest = {
            "model": MODEL_NAME,
            "family": "trigger-cnn",
            "weights": {"kind": "checkpoint", "source": str(path), "revision": report.sha256},
            "checkpoint": report.as_dict(),
            "architecture": torch_config.as_dict(),
            "input": pixel_input(encoder),
            "output": {"name": OUTPUT_NAME, "from": "visual_encoder (backbone + projection)"},
            "embedding_dim": encoder.embedding_dim,
            "head": {"runtime": "torch", "file": TORCH_FILE, "why": _HEAD_WHY},
        }
        return ModelBuild(config, key_inputs, manifest, save=save, extra_parity=confidence,
                          export_note=f", the {model.config.encoder} frame encoder")

    return build_artifact(request, key_inputs, load, progress, check_reused)


def _confidence_parity(run: Run, model: TriggerModel, config: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """The number a trigger decision rests on: head(deployed features) against head(PyTorch features)."""
    seed = secrets.randbits(31)
    pixels = config.dummy(_PARITY_FRAMES, np.random.default_rng(seed))
    with torch.inference_mode():
        reference = model.trigger_detector(config.module(torch.from_numpy(pixels)).unsqueeze(0))
        deployed = model.trigger_detector(torch.from_numpy(np.asarray(run(pixels), dtype=np.float32)).unsqueeze(0))
    error = float((trigger_confidence(reference) - trigger_confidence(deployed)).abs().max())
    tolerance = float(defaults["confidence_max_abs_error"])
    if error > tolerance:
        raise ParityError(
            f"trigger confidences from the exported encoder differ from PyTorch by {error:.2e} (tolerance "
            f"{tolerance}, seed {seed}): the exported graph is wrong; rerun with --debug and report it"
        )
    return {"frames": _PARITY_FRAMES, "seed": seed, "max_abs_error": error, "tolerance": tolerance, "passed": True}

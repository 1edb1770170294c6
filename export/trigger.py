"""`engine-build --model trigger --checkpoint FILE`: the original video-trigger project's model as a
deployable artifact.

The per-frame part (backbone + projection to 512) is exported to ONNX with a dynamic batch, checked
against PyTorch, and built into a TensorRT engine where TensorRT is installed, exactly like the
image encoders (same staging, manifest and reuse rules). The temporal head stays in PyTorch
(`trigger.pt`, with the encoder's weights for backend torch): torch 2.13's dynamo exporter fixes
the LSTM's sequence length to the example's, so an exported head fails on any other video length,
and the TorchScript exporter that gets it right is deprecated. The head is ~1 M parameters run
once per video, so this costs nothing measurable. The manifest records where each part runs.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from filmline.engine.backends.base import EncoderInfo
from filmline.engine.backends.onnxruntime_runner import OnnxRuntimeRunner
from filmline.engine.config import ModelSpec, read_config
from filmline.engine.errors import BadInputError, MissingModelError
from filmline.engine.home import artifact_dir
from filmline.engine.models.trigger import TriggerModel, trigger_confidence
from filmline.engine.models.trigger_checkpoint import file_sha256, load_trigger_checkpoint
from filmline.export import manifest as mf
from filmline.export.build import PRECISIONS, BatchProfile, BuildResult, Progress, check_writable, image_export, staging, tensorrt_module
from filmline.export.graph_build import build_tensorrt
from filmline.export.models import INPUT_NAME, OPSET, OUTPUT_NAME
from filmline.export.onnx_export import export_onnx
from filmline.export.validate import Parity, ParityError, check_parity, random_pixels

MODEL_NAME = "trigger"
TORCH_FILE = "trigger.pt"
_PARITY_FRAMES = 6
_HEAD_WHY = "torch.onnx (dynamo) fixes the LSTM's sequence length; the head runs once per video"


class FrameEncoder(nn.Module):
    """The exported graph: normalised pixels [B, 3, S, S] → frame features [B, 512].

    Carries what `export_onnx` and `check_parity` read from an encoder (spec, size, mean/std).
    """

    def __init__(self, model: TriggerModel, spec: ModelSpec) -> None:
        super().__init__()
        self.visual_encoder = model.visual_encoder
        self.spec = spec
        self.image_size = spec.image_size
        self.mean = spec.mean
        self.std = spec.std
        self.embedding_dim = spec.embedding_dim

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.visual_encoder(pixel_values)


def build_from_checkpoint(
    checkpoint: Path,
    *,
    precision: str = "fp32",
    batch: BatchProfile = BatchProfile(),
    out: Path | None = None,
    force: bool = False,
    strict: bool = False,
    progress: Progress = lambda line: None,
) -> BuildResult:
    """Build (or reuse) the trigger artifact from a trigger-model checkpoint file."""
    if precision not in PRECISIONS:
        raise BadInputError(f"invalid precision '{precision}': choose one of {', '.join(PRECISIONS)}")
    path = Path(checkpoint).expanduser().resolve()
    if not path.is_file():
        raise MissingModelError(f"checkpoint {path} does not exist: pass --checkpoint with a trigger-model checkpoint file (its train.py's, or engine-train trigger's)")
    target = (out or artifact_dir(MODEL_NAME)).expanduser().absolute()
    check_writable(target)
    trt_build, trt_problem = tensorrt_module()
    defaults = read_config("trigger.yaml")["model"]
    digest = file_sha256(path)
    key = mf.build_key({"checkpoint": digest, "model": defaults}, precision=precision, batch=batch, trt_build=trt_build)
    if not force and mf.is_current(target, key):
        manifest = mf.read_manifest(target)
        if strict and (manifest["checkpoint"]["missing"] or manifest["checkpoint"]["unexpected"]):
            load_trigger_checkpoint(path, strict=True, sha256=digest)  # raises, naming what does not fit
        progress(f"trigger is up to date in {target} (--force rebuilds)")
        return BuildResult(target, manifest, reused=True)

    started = time.monotonic()
    progress(f"loading {path} ...")
    model, report = load_trigger_checkpoint(path, strict=strict, sha256=digest)
    if report.skipped:
        progress(f"skipped {report.skipped} language-model tensors (temporal_llm.*): the trigger stage does not use them")
    if not report.exact:
        progress(f"warning: {report.problem()}; missing ones keep their initial values (--strict refuses such a file)")
    config = model.config
    spec = ModelSpec(
        name=MODEL_NAME,
        family="trigger-cnn",
        source=str(path),
        image_size=config.image_size,
        mean=tuple(defaults["mean"]),
        std=tuple(defaults["std"]),
        embedding_dim=config.feature_dim,
        output="features",
        parity_min_cosine=defaults["parity_min_cosine"],
        parity_max_abs_error=defaults["parity_max_abs_error"],
    )
    encoder = FrameEncoder(model, spec).eval()
    with staging(target) as work:
        progress(f"exporting the {config.encoder} frame encoder to ONNX (opset {OPSET}, dynamic batch) ...")
        export_onnx(encoder, work / mf.ONNX_FILE)
        runner = OnnxRuntimeRunner(work / mf.ONNX_FILE, _info(spec))
        parity: dict[str, Any] = {"onnxruntime": _feature_parity(runner.run, encoder, "onnxruntime", "fp32", defaults)}
        progress(parity["onnxruntime"].summary())
        parity["onnxruntime-confidence"] = _confidence_parity(runner.run, model, encoder, defaults)
        progress(f"trigger confidence from ONNX features vs PyTorch: max abs error {parity['onnxruntime-confidence']['max_abs_error']:.2e}")
        files = {"onnx": mf.ONNX_FILE, "torch": TORCH_FILE}
        torch_config = dataclasses.replace(config, time_aware=None)
        kept = {k: v for k, v in model.state_dict().items() if not k.startswith("time_aware_encoder.")}
        torch.save({"config": torch_config.as_dict(), "state_dict": kept}, work / TORCH_FILE)
        if trt_build is None:
            progress(f"TensorRT {trt_problem}: stopped at the fp32 ONNX (ONNX Runtime runs it)")
        else:
            config = image_export(encoder, _info(spec), batch, lambda precision: _tolerance(defaults, precision))
            build_tensorrt(config, trt_build, precision, batch, work, target, files, parity, progress)
        manifest = {
            "model": MODEL_NAME,
            "family": spec.family,
            "weights": {"kind": "checkpoint", "source": str(path), "revision": report.sha256},
            "checkpoint": report.as_dict(),
            "architecture": torch_config.as_dict(),
            "input": {
                "name": INPUT_NAME,
                "shape": ["batch", 3, spec.image_size, spec.image_size],
                "image_size": spec.image_size,
                "mean": list(spec.mean),
                "std": list(spec.std),
            },
            "output": {"name": OUTPUT_NAME, "from": "visual_encoder (backbone + projection)"},
            "embedding_dim": spec.embedding_dim,
            "head": {"runtime": "torch", "file": TORCH_FILE, "why": _HEAD_WHY},
            **mf.build_record(precision=precision, batch=batch, files=files, parity=parity, key=key,
                              tensorrt=trt_build.VERSION if trt_build else None),
        }
        mf.write_manifest(work, manifest)
    progress(f"built trigger ({', '.join(manifest['built'])}) in {target} in {time.monotonic() - started:.1f} s")
    return BuildResult(target, manifest, reused=False)


def _info(spec: ModelSpec) -> EncoderInfo:
    return EncoderInfo(MODEL_NAME, spec.image_size, spec.mean, spec.std, spec.embedding_dim, manifest_hash=None)


def _tolerance(defaults: dict[str, Any], precision: str) -> tuple[float, float]:
    """(min cosine, max abs error) of exported frame features, from configs/trigger.yaml."""
    prefix = "fp16_" if precision == "fp16" else "parity_"
    return defaults[f"{prefix}min_cosine"], defaults[f"{prefix}max_abs_error"]


def _feature_parity(run: Any, encoder: FrameEncoder, backend: str, precision: str, defaults: dict[str, Any]) -> Parity:
    return check_parity(run, encoder, backend=backend, precision=precision, tolerance=_tolerance(defaults, precision))


def _confidence_parity(run: Any, model: TriggerModel, encoder: FrameEncoder, defaults: dict[str, Any]) -> dict[str, Any]:
    """The number a trigger decision rests on: head(deployed features) against head(PyTorch features)."""
    seed = secrets.randbits(31)
    pixels = random_pixels(encoder, _PARITY_FRAMES, np.random.default_rng(seed))
    with torch.inference_mode():
        reference = model.trigger_detector(encoder(torch.from_numpy(pixels)).unsqueeze(0))
        deployed = model.trigger_detector(torch.from_numpy(np.asarray(run(pixels), dtype=np.float32)).unsqueeze(0))
    error = float((trigger_confidence(reference) - trigger_confidence(deployed)).abs().max())
    tolerance = float(defaults["confidence_max_abs_error"])
    if error > tolerance:
        raise ParityError(
            f"trigger confidences from the exported encoder differ from PyTorch by {error:.2e} (tolerance "
            f"{tolerance}, seed {seed}): the exported graph is wrong; rerun with --debug and report it"
        )
    return {"frames": _PARITY_FRAMES, "seed": seed, "max_abs_error": error, "tolerance": tolerance, "passed": True}



"""The TensorRT step every model's build shares, driven by a small per-model config.

Optimum-style: a model names its input (name, one item's shape, what a runner reads) and gives
two functions, its ONNX export and its parity check against PyTorch (with its own tolerance);
the steps here are the same for the image encoders, the trigger CNN, the intro transformer and
TransNetV2. UNVERIFIED: TensorRT cannot be installed where this project is tested (docs/NVIDIA.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from filmline.engine.backends.base import EncoderInfo, ModelInput
from filmline.engine.backends.factory import graph_runner
from filmline.export import manifest as mf

Run = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class GraphExport:
    """What the shared steps need to know about one model."""

    model_input: EncoderInfo | ModelInput  # what a runner of the built graph reads
    input_name: str  # the ONNX graph's input
    item_shape: tuple[int, ...]  # one item of the dynamic batch
    export: Callable[[Path, torch.dtype], None]  # writes the ONNX graph at a path, in a dtype
    parity: Callable[[Run, str, str], Any]  # (run, runtime, precision) → Parity; raises ParityError

    def run(self, runtime: str, path: Path, precision: str = "fp32") -> Run:
        """The graph at `path` on `runtime` (tensorrt or onnxruntime)."""
        return graph_runner(runtime, path, self.model_input, precision).run


def build_tensorrt(
    config: GraphExport,
    trt_build: Any,
    precision: str,
    batch: Any,
    staging: Path,
    target: Path,
    files: dict[str, str],
    parity: dict[str, Any],
    progress: Callable[[str], None],
) -> None:
    """Engine, timing cache and TensorRT parity into `staging` (the last build's timing cache in
    `target` seeds this one). TensorRT >= 11 takes fp16 from an fp16 ONNX, checked first."""
    onnx_file, fp16 = mf.ONNX_FILE, precision == "fp16"
    if fp16 and not trt_build.HAS_FP16_FLAG:
        progress(f"TensorRT {trt_build.VERSION} is strongly typed: exporting an fp16 ONNX ...")
        onnx_file = files["onnx_fp16"] = mf.ONNX_FP16_FILE
        config.export(staging / onnx_file, torch.float16)
        parity["onnxruntime-fp16"] = config.parity(config.run("onnxruntime", staging / onnx_file), "onnxruntime", "fp16")
        progress(parity["onnxruntime-fp16"].summary())
    progress(
        f"building TensorRT {trt_build.VERSION} engine ({precision}, batch "
        f"{batch.min}:{batch.opt}:{batch.max}); this takes minutes ..."
    )
    trt_build.build_engine(
        staging / onnx_file, staging / mf.ENGINE_FILE, staging / mf.TIMING_CACHE_FILE, input_name=config.input_name,
        item_shape=config.item_shape, batch=(batch.min, batch.opt, batch.max),
        fp16_flag=fp16 and trt_build.HAS_FP16_FLAG, previous_timing_cache=target / mf.TIMING_CACHE_FILE,
    )
    files["tensorrt"], files["timing_cache"] = mf.ENGINE_FILE, mf.TIMING_CACHE_FILE
    parity["tensorrt"] = config.parity(config.run("tensorrt", staging / mf.ENGINE_FILE, precision), "tensorrt", precision)
    progress(parity["tensorrt"].summary())

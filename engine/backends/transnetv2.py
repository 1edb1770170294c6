"""TransNetV2 on the fastest runtime here: its built artifact (TensorRT ▸ ONNX Runtime) or PyTorch.

The call is the same on every runtime: windows float32 `[B, 100, 27, 48, 3]` (0–255) →
probabilities `[B, 100, 2]`. PyTorch needs no artifact (the weights are the installed
distribution's); it runs fp16 on a GPU and fp32 on the CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filmline.engine.backends.windows import WindowModel, WindowModelSpec, open_window_model
from filmline.engine.models.transnetv2 import HEIGHT, WIDTH, WINDOW

MODEL_NAME = "transnetv2"
ITEM_SHAPE = (WINDOW, HEIGHT, WIDTH, 3)
INPUT_NAME = "frames"
OUTPUT_NAME = "probabilities"
BUILD_FIX = f"run `engine-build --model {MODEL_NAME} --force`"


def _load_torch(folder: Path, manifest: dict[str, Any] | None, device: Any) -> tuple[Any, Any]:
    import torch

    from filmline.engine.models.transnetv2 import load_transnetv2

    dtype = torch.float16 if device.type == "cuda" else torch.float32
    return load_transnetv2().to(device, dtype), dtype


SPEC = WindowModelSpec(
    name=MODEL_NAME,
    title="TransNetV2",
    build_fix=f"engine-build --model {MODEL_NAME}",
    item_shape=lambda manifest: ITEM_SHAPE,
    load_torch=_load_torch,
    needs_manifest=False,
)


def open_transnetv2(backend: str = "auto", home: Path | None = None) -> WindowModel:
    """TransNetV2 on `backend` (auto: the shared encoders' order), from `$ENGINE_HOME/transnetv2`."""
    return open_window_model(SPEC, backend, home)

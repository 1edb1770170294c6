"""TransNetV2 on the fastest runtime here: its built artifact (TensorRT ▸ ONNX Runtime) or PyTorch.

The call is the same on every runtime: windows float32 `[B, 100, 27, 48, 3]` (0–255) →
probabilities `[B, 100, 2]`. PyTorch needs no artifact (the weights are the installed
distribution's); it runs fp16 on a GPU and fp32 on the CPU.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from filmline.engine.errors import BackendError, BadInputError
from filmline.engine.home import artifact_dir
from filmline.engine.models.transnetv2 import HEIGHT, WIDTH, WINDOW
from filmline.engine.backends.manifest import MANIFEST, manifest_hash, read_manifest

MODEL_NAME = "transnetv2"
ITEM_SHAPE = (WINDOW, HEIGHT, WIDTH, 3)
INPUT_NAME = "frames"
OUTPUT_NAME = "probabilities"
BACKENDS = ("tensorrt", "onnxruntime", "torch")
BUILD_FIX = f"run `engine-build --model {MODEL_NAME} --force`"
WindowRun = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class DetectorRuntime:
    """One way to run TransNetV2, and what the result document says about it."""

    run: WindowRun
    backend: str
    device: str
    precision: str
    manifest_hash: str | None  # None for PyTorch on the distribution's weights

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "device": self.device, "precision": self.precision,
                "manifest_hash": self.manifest_hash}


def open_transnetv2(backend: str = "auto", home: Path | None = None) -> DetectorRuntime:
    """TransNetV2 on `backend` (auto: the shared encoders' order), from `$ENGINE_HOME/transnetv2`."""
    if backend != "auto" and backend not in BACKENDS:
        raise BadInputError(f"unknown backend '{backend}': choose one of auto, {', '.join(BACKENDS)}")
    folder = artifact_dir(MODEL_NAME, home)
    manifest = read_manifest(folder) if (folder / MANIFEST).is_file() else None
    if backend == "auto":
        from filmline.engine.backends.factory import auto_order

        order = auto_order()
    else:
        order = [backend]
    reasons = []
    for name in order:
        problem = _problem(name, folder, manifest)
        if problem is None:
            return _OPENERS[name](folder, manifest)
        reasons.append(f"{name}: {problem}")
    raise BackendError(f"TransNetV2 cannot run here ({'; '.join(reasons)}): {BUILD_FIX}, or use --detector cheap")


def _problem(name: str, folder: Path, manifest: dict[str, Any] | None) -> str | None:
    if importlib.util.find_spec(name) is None:
        return f"the {name} package is not installed"
    if name == "torch":
        return None
    kind = "tensorrt" if name == "tensorrt" else "onnx"
    file = (manifest or {}).get("files", {}).get(kind)
    if file is None or not (folder / file).is_file():
        return f"no {kind} file in {folder}"
    if name == "tensorrt":
        import torch

        if not torch.cuda.is_available():
            return "no CUDA device is visible"
    return None


def _onnxruntime(folder: Path, manifest: dict[str, Any]) -> DetectorRuntime:
    import onnxruntime as ort

    from filmline.engine.backends.onnxruntime_runner import session_run

    run = session_run(folder / manifest["files"]["onnx"], BUILD_FIX)
    device = "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"  # session_run's choice
    return DetectorRuntime(run, "onnxruntime", device, "fp32", manifest_hash(folder))


def _tensorrt(folder: Path, manifest: dict[str, Any]) -> DetectorRuntime:
    precision = manifest["precision"]
    run = tensorrt_run(folder / manifest["files"]["tensorrt"], precision)
    return DetectorRuntime(run, "tensorrt", "cuda", precision, manifest_hash(folder))


def tensorrt_run(plan: Path, precision: str) -> WindowRun:
    """The shared TensorRT runner told that its input is frame windows. UNVERIFIED: TensorRT
    cannot be installed where this was written."""
    from filmline.engine.backends.base import EncoderInfo
    from filmline.engine.backends.tensorrt_runner import TensorRTRunner

    class _WindowRunner(TensorRTRunner):
        def _check_shape(self, pixels: Any) -> None:
            if tuple(pixels.shape[1:]) != ITEM_SHAPE or len(pixels) < 1:
                raise ValueError(f"TransNetV2 expects windows [B, {', '.join(map(str, ITEM_SHAPE))}], got {tuple(pixels.shape)}")

    info = EncoderInfo(MODEL_NAME, 0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 2, None)  # no image input
    return _WindowRunner(plan, info, precision).run


def _torch(folder: Path, manifest: dict[str, Any] | None) -> DetectorRuntime:
    import torch

    from filmline.engine.models.transnetv2 import load_transnetv2

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    model = load_transnetv2().to(device, dtype)

    def run(windows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            frames = torch.from_numpy(np.ascontiguousarray(windows)).to(device, dtype)
            return model(frames).float().cpu().numpy()

    return DetectorRuntime(run, "torch", device.type, "fp16" if dtype == torch.float16 else "fp32", None)


_OPENERS = {"tensorrt": _tensorrt, "onnxruntime": _onnxruntime, "torch": _torch}

"""Models whose input is a window, not an image: the intro transformer (windows of embeddings)
and TransNetV2 (windows of small frames), opened from their artifact on the fastest runtime.

One opener for both: the manifest says what an item is; `auto` takes the image encoders' order
(`factory.auto_order`); each runtime that cannot run says why. PyTorch loads the model through the
model's own loader (`WindowModelSpec.load_torch`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from filmline.engine import registry
from filmline.engine.backends.base import ModelInput
from filmline.engine.backends.factory import GRAPH_FILES, auto_order, graph_runner
from filmline.engine.backends.manifest import MANIFEST, manifest_hash, read_manifest
from filmline.engine.errors import BackendError, BadInputError, MissingModelError
from filmline.engine.home import artifact_dir

# float32 [B, *item_shape] → float32 [B, ...]; a torch tensor in (on a GPU) gives a tensor back there
WindowRun = Callable[[Any], Any]


@dataclass(frozen=True)
class WindowModelSpec:
    """What the opener needs to know about one window model."""

    name: str  # artifact folder under ENGINE_HOME, and the name in messages
    title: str  # how messages name it, e.g. "the intro model"
    build_fix: str  # the command that builds the artifact, without --force
    item_shape: Callable[[dict[str, Any]], tuple[int, ...]]  # from the manifest
    # (folder, manifest or None, torch device) → (module, dtype) for the torch runtime
    load_torch: Callable[[Path, dict[str, Any] | None, Any], tuple[Any, Any]]
    torch_file: str | None = None  # the manifest `files` entry PyTorch needs (None: none)
    needs_manifest: bool = True  # False: PyTorch runs without any artifact


@dataclass(frozen=True)
class WindowModel:
    """A window model on one runtime, and what the result document says about it."""

    run: WindowRun
    backend: str
    device: str
    precision: str
    manifest_hash: str | None  # None when no artifact describes what runs
    manifest: dict[str, Any] | None

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "device": self.device, "precision": self.precision,
                "manifest_hash": self.manifest_hash}


def open_window_model(spec: WindowModelSpec, backend: str = "auto", home: Path | None = None) -> WindowModel:
    """`spec`'s model from `home` (default ENGINE_HOME)/`spec.name` on `backend` (auto: the
    fastest runtime that can run it here)."""
    runtimes = registry.names("runtime")
    if backend != "auto" and backend not in runtimes:
        raise BadInputError(f"unknown backend '{backend}': choose one of auto, {', '.join(runtimes)}")
    folder = artifact_dir(spec.name, home)
    has_manifest = (folder / MANIFEST).is_file()
    if spec.needs_manifest and not has_manifest:
        raise MissingModelError(f"no {spec.name} model in {folder}: run `{spec.build_fix}`")
    manifest = read_manifest(folder) if has_manifest else None
    if backend == "auto":
        order = auto_order()
    else:
        order = [backend]
    reasons = []
    for name in order:
        problem = _problem(spec, name, folder, manifest)
        if problem is None:
            return _open(spec, name, folder, manifest)
        reasons.append(f"{name}: {problem}")
    raise BackendError(f"{spec.title} in {folder} cannot run here ({'; '.join(reasons)}): run `{spec.build_fix} --force`")


def _problem(spec: WindowModelSpec, name: str, folder: Path, manifest: dict[str, Any] | None) -> str | None:
    """Why runtime `name` cannot run this artifact here, or None."""
    kind = GRAPH_FILES.get(name, spec.torch_file)
    if kind is not None:
        file = (manifest or {}).get("files", {}).get(kind)
        if file is None or not (folder / file).is_file():
            return f"no {kind} file in {folder}"
    if importlib.util.find_spec(name) is None:
        return f"the {name} package is not installed"
    if name == "tensorrt":
        import torch

        if not torch.cuda.is_available():
            return "no CUDA device is visible"
    return None


def _open(spec: WindowModelSpec, name: str, folder: Path, manifest: dict[str, Any] | None) -> WindowModel:
    identity = manifest_hash(folder) if manifest is not None else None
    if name == "torch":
        run, device, precision = _torch_run(spec, folder, manifest)
        return WindowModel(run, "torch", device, precision, identity if spec.torch_file else None, manifest)
    assert manifest is not None  # _problem found the runtime's file in it
    runner = graph_runner(name, folder / manifest["files"][GRAPH_FILES[name]],
                          ModelInput(spec.name, spec.item_shape(manifest), identity), manifest.get("precision", "fp32"))
    return WindowModel(runner.run, name, runner.device, runner.precision, identity, manifest)


def _torch_run(spec: WindowModelSpec, folder: Path, manifest: dict[str, Any] | None) -> tuple[WindowRun, str, str]:
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, dtype = spec.load_torch(folder, manifest, device)

    def run(windows: Any) -> Any:
        on_host = isinstance(windows, np.ndarray)
        tensor = torch.from_numpy(np.ascontiguousarray(windows)) if on_host else windows
        with torch.inference_mode():
            output = model(tensor.to(device, dtype)).float()
        return output.cpu().numpy() if on_host else output

    return run, device.type, "fp16" if dtype == torch.float16 else "fp32"

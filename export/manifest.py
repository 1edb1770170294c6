"""Writing `manifest.json`: how an artifact was built and how well it matches PyTorch.

The names and the reading side live in the engine (`filmline.engine.backends.manifest`); the
build package depends on them, never the reverse.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filmline.engine.backends.manifest import (  # noqa: F401 (the file names, for builders)
    ENGINE_FILE,
    FORMAT,
    MANIFEST,
    ONNX_FILE,
    ONNX_FP16_FILE,
    TIMING_CACHE_FILE,
    manifest_hash,
    read_manifest,
)
from filmline.engine.errors import MissingModelError
from filmline.engine.file_hash import file_sha256


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write `manifest` as sorted, indented JSON (stable bytes, so a stable hash), after adding
    `sha256`: each of its `files`' content hash, which `is_current` checks."""
    manifest["sha256"] = {name: file_sha256(folder / name) for name in manifest.get("files", {}).values()}
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (folder / MANIFEST).write_text(text, encoding="utf-8")


def build_record(
    *, precision: str, batch: Any, files: dict[str, str], parity: dict[str, Any], key: str, tensorrt: str | None
) -> dict[str, Any]:
    """The manifest fields every model's build shares: how it was built, its files, its parity
    figures (`Parity` objects or plain dicts), the tools and the build key. `batch` is a
    `BatchProfile`; `tensorrt` the TensorRT version used, or None."""
    from filmline.export.models import OPSET

    return {
        "format": FORMAT,
        "precision": precision,
        "batch": {"min": batch.min, "opt": batch.opt, "max": batch.max},
        "opset": OPSET,
        "exporter": "torch.onnx.export(dynamo=True)",
        "built": ["onnx", "tensorrt"] if "tensorrt" in files else ["onnx"],
        "files": files,
        "parity": {name: f.as_dict() if hasattr(f, "as_dict") else f for name, f in parity.items()},
        "tools": tool_versions(tensorrt),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_key": key,
    }


def build_key(inputs: dict[str, Any], *, precision: str, batch: Any, trt_build: Any) -> str:
    """A digest of everything that determines a build; equal keys mean the artifact is current.
    `inputs` are the model's own (weights, config); the fields every build shares are added here:
    precision, the `BatchProfile`, the opset, and with TensorRT (`trt_build`, the builder module or
    None) its version and the GPU, since plans are specific to one."""
    from filmline.export.models import OPSET

    gpu = None
    if trt_build:
        import torch

        gpu = torch.cuda.get_device_name()
    shared = {
        "precision": precision,
        "batch": [batch.min, batch.opt, batch.max],
        "opset": OPSET,
        "tensorrt": trt_build.VERSION if trt_build else None,
        "gpu": gpu,
    }
    canonical = json.dumps({"format": FORMAT, **inputs, **shared}, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def tool_versions(tensorrt: str | None) -> dict[str, str]:
    """Versions of the tools that shaped the artifact (tensorrt only when it was used)."""
    versions = {name: _version(name) for name in ("torch", "transformers", "onnx", "onnxruntime")}
    if tensorrt is not None:
        versions["tensorrt"] = tensorrt
    return versions


def is_current(folder: Path, key: str) -> bool:
    """Whether `folder` holds a complete, intact artifact built with `key`: every file the
    manifest lists is there with the content it was built with (a damaged or half-copied
    `model.onnx` is rebuilt, not reused)."""
    try:
        manifest = read_manifest(folder)
    except MissingModelError:
        return False
    if manifest.get("build_key") != key:
        return False
    hashes = manifest.get("sha256", {})
    for name in manifest.get("files", {}).values():
        path = folder / name
        if name not in hashes or not path.is_file() or file_sha256(path) != hashes[name]:
            return False
    return True


def _version(module: str) -> str:
    """The module's own `__version__` (distribution names vary: onnxruntime vs onnxruntime-gpu)."""
    try:
        return str(importlib.import_module(module).__version__)
    except ImportError:
        return "not installed"

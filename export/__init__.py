"""Model export: one path (`pipeline`) from a per-model config to ONNX, parity, TensorRT, manifest.

The manifest helpers are light; the rest imports torch, so it is loaded on first use (keeps
`engine-build --help` and manifest reads instant).
"""

from __future__ import annotations

import importlib
from typing import Any

from filmline.export.manifest import manifest_hash, read_manifest

_LAZY = {
    "BatchProfile": "filmline.export.pipeline",
    "BuildRequest": "filmline.export.pipeline",
    "BuildResult": "filmline.export.pipeline",
    "build": "filmline.export.build",
    "Encoder": "filmline.engine.backends.weights",
    "WeightsSource": "filmline.engine.backends.weights",
    "load_encoder": "filmline.engine.backends.weights",
    "locate_weights": "filmline.engine.backends.weights",
    "ParityError": "filmline.export.validate",
}

__all__ = sorted([*_LAZY, "manifest_hash", "read_manifest"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'export' has no attribute {name!r}")

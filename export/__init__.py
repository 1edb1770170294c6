"""Model export: load encoders, export ONNX, check parity, build TensorRT engines, manifests.

The manifest helpers are light; the rest imports torch, so it is loaded on first use (keeps
`engine-build --help` and manifest reads instant).
"""

from __future__ import annotations

import importlib
from typing import Any

from export.manifest import manifest_hash, read_manifest

_LAZY = {
    "BatchProfile": "export.build",
    "BuildRequest": "export.build",
    "BuildResult": "export.build",
    "build": "export.build",
    "Encoder": "export.loading",
    "WeightsSource": "export.loading",
    "load_encoder": "export.loading",
    "locate_weights": "export.loading",
    "ParityError": "export.validate",
}

__all__ = sorted([*_LAZY, "manifest_hash", "read_manifest"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'export' has no attribute {name!r}")

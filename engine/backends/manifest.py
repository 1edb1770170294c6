"""`manifest.json`: what an artifact folder holds, read before any heavy runtime is imported.

Light on purpose (json and hashlib only). The build package (`filmline.export.manifest`) writes
manifests with these names; the runtime only reads them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from filmline.engine.errors import MissingModelError

MANIFEST = "manifest.json"
ONNX_FILE = "model.onnx"
ONNX_FP16_FILE = "model.fp16.onnx"
ENGINE_FILE = "model.plan"
TIMING_CACHE_FILE = "timing.cache"
FORMAT = 1  # bump when the layout changes; older artifacts are rebuilt


def read_manifest(folder: Path | str) -> dict[str, Any]:
    """The manifest of an artifact folder; a `MissingModelError` naming the fix when absent."""
    path = Path(folder) / MANIFEST
    rebuild = f"run `engine-build --model {Path(folder).name} --force`"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingModelError(f"no built model in {Path(folder)}: {rebuild}") from None
    except (OSError, ValueError) as err:
        raise MissingModelError(f"unreadable manifest {path} ({err}): {rebuild}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise MissingModelError(f"{path} is from another version of the engine: {rebuild}")
    return manifest


def manifest_hash(folder: Path | str) -> str:
    """A short stable id of one build (12 hex digits of the manifest's sha256) for result files."""
    path = Path(folder) / MANIFEST
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except FileNotFoundError:
        raise MissingModelError(f"no built model in {Path(folder)}: run engine-build") from None

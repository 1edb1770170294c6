"""Every named, swappable thing in one table: decoders, runtimes, VLM backends, models, builders.

A name maps to "module:attribute", imported only when looked up, so importing this (and
`engine-run --help`) costs nothing heavy. Builders live in the build package (`filmline.export`):
the engine reaches them by name only, the way a plugin is loaded, so its imports never point at
the build package (the import-graph test holds both to that).
"""

from __future__ import annotations

import importlib
from typing import Any

from filmline.engine.errors import BadInputError

# kind → name → "module:attribute" (a module alone for builders)
TABLE: dict[str, dict[str, str]] = {
    "decoder": {
        "pyav": "filmline.engine.decode.pyav:PyAVDecoder",
        "nvdec": "filmline.engine.decode.nvdec:NvdecDecoder",
    },
    # fastest first: the order `auto` tries them in on a CPU-only machine
    "runtime": {
        "tensorrt": "filmline.engine.backends.tensorrt_runner:TensorRTRunner",
        "onnxruntime": "filmline.engine.backends.onnxruntime_runner:OnnxRuntimeRunner",
        "torch": "filmline.engine.backends.torch_runner:TorchRunner",
    },
    "vlm": {
        "transformers": "filmline.engine.vlm.transformers_backend:TransformersVlm",
        "openai": "filmline.engine.vlm.openai_backend:OpenAIVlm",
        "trtllm": "filmline.engine.vlm.trtllm_backend:TrtLlmVlm",
    },
    # models other than the image encoders (every configs/models/*.yaml is one): how to open each
    "model": {
        "trigger": "filmline.engine.backends.catalog:TRIGGER",
        "intro": "filmline.engine.backends.catalog:INTRO",
        "transnetv2": "filmline.engine.backends.catalog:TRANSNETV2",
        "detr": "filmline.engine.backends.detectors:DETR",
        "rtdetr": "filmline.engine.backends.detectors:RTDETR",
    },
    # engine-build's models other than the image encoders: modules with `build(BuildRequest, progress)`
    "builder": {
        "intro": "filmline.export.intro",
        "trigger": "filmline.export.trigger",
        "transnetv2": "filmline.export.transnetv2",
        "detr": "filmline.export.detr",
        "rtdetr": "filmline.export.detr",
    },
}


def names(kind: str) -> tuple[str, ...]:
    """The names registered for `kind`, in table order."""
    return tuple(TABLE[kind])


def lookup(kind: str, name: str) -> Any:
    """The object (or module) `name` stands for, imported now; a `BadInputError` listing the
    valid names when there is none."""
    target = TABLE[kind].get(name)
    if target is None:
        raise BadInputError(f"unknown {kind} '{name}': choose one of {', '.join(TABLE[kind])}")
    module, _, attribute = target.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded

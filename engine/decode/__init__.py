"""Video decoding: one `Decoder` protocol, one module per backend, chosen by name.

Backends are imported only when asked for, so a machine without a GPU video stack never imports
one. `auto` picks the first backend in `AUTO_ORDER` that imports.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from engine.decode.base import Decoder, Frame, VideoInfo
from engine.decode.sampler import FpsSampler, sample_indices
from engine.errors import BadInputError

# name → (module, class): imported on first use.
AVAILABLE_BACKENDS: dict[str, tuple[str, str]] = {
    "pyav": ("engine.decode.pyav", "PyAVDecoder"),
}
AUTO_ORDER: tuple[str, ...] = ("pyav",)


def open_decoder(path: str | Path, backend: str = "auto") -> Decoder:
    """Open `path` with the named backend ("auto" picks the best one that is installed)."""
    if backend == "auto":
        for name in AUTO_ORDER:
            try:
                decoder_class = _load(name)
            except ImportError:
                continue
            return decoder_class(path)
        raise BadInputError(
            f"no video decoder backend can be imported (tried {', '.join(AUTO_ORDER)}); "
            "install PyAV: pip install av"
        )
    if backend not in AVAILABLE_BACKENDS:
        valid = ", ".join(["auto", *AVAILABLE_BACKENDS])
        raise BadInputError(f"unknown decoder backend {backend!r}; valid values: {valid}")
    try:
        decoder_class = _load(backend)
    except ImportError as err:
        raise BadInputError(
            f"decoder backend {backend!r} cannot be used here ({err}); "
            "install its dependencies or pass backend='pyav'"
        ) from err
    return decoder_class(path)


def _load(name: str) -> type:
    module_name, class_name = AVAILABLE_BACKENDS[name]
    return getattr(importlib.import_module(module_name), class_name)


__all__ = [
    "AVAILABLE_BACKENDS",
    "Decoder",
    "FpsSampler",
    "Frame",
    "VideoInfo",
    "open_decoder",
    "sample_indices",
]

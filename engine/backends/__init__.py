"""Inference runtimes behind one `Runner` interface: TensorRT, ONNX Runtime, PyTorch.

Each runtime lives in its own module and is imported only when a runner for it is created, so
importing this package costs nothing heavy.
"""

from filmline.engine.backends.base import BACKENDS, EncoderInfo, Runner
from filmline.engine.backends.factory import BackendStatus, available_backends, create_runner

__all__ = [
    "BACKENDS",
    "BackendStatus",
    "EncoderInfo",
    "Runner",
    "available_backends",
    "create_runner",
]

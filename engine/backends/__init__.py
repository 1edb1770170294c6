"""The model layer: open an artifact, check its manifest, choose the runtime, return a `Runner`.

`open_model` is the one opener (`opener.py`); each model's `ModelEntry` (`catalog.py`, named in
the registry's `model` table) says how PyTorch loads it and what its input is. Each runtime
lives in its own module and is imported only when a runner for it is created, so importing this
package costs nothing heavy.
"""

from filmline.engine.backends.base import BACKENDS, ModelInput, Runner
from filmline.engine.backends.opener import BackendStatus, available_backends, open_model

__all__ = [
    "BACKENDS",
    "BackendStatus",
    "ModelInput",
    "Runner",
    "available_backends",
    "open_model",
]

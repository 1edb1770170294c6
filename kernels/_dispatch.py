"""Which implementation runs a kernel call: the Triton kernels or the PyTorch reference.

One rule for every operation, so that a whole run can be switched with one setting:

- `impl` argument, else the `FILMLINE_KERNELS` environment variable, else ``"auto"``;
- ``"auto"``: Triton for CUDA tensors when Triton imports (and is not in interpreter mode, which
  would be far slower than the reference on a GPU); the reference otherwise;
- ``"triton"``: Triton, or `KernelUnavailableError` when it cannot run here;
- ``"reference"``: always the reference.

Triton is imported only when the Triton path is chosen, so `import kernels` works without it.
On the CPU, Triton kernels run through Triton's interpreter, which must be switched on
(``TRITON_INTERPRET=1``) before the kernel modules are first imported: `triton.jit` decides at
definition time whether a function is compiled or interpreted.
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass
from types import ModuleType

import torch

ENV_VAR = "FILMLINE_KERNELS"
CHOICES = ("auto", "triton", "reference")
_TRITON_MODULES = ("similarity", "centroids", "match", "frame_stats")


class KernelUnavailableError(RuntimeError):
    """A forced Triton call cannot run here (Triton missing, or CPU tensors without interpreter)."""


@dataclass(frozen=True)
class _TritonState:
    modules: dict[str, ModuleType] | None
    interpreted: bool
    import_error: str


@functools.cache
def _triton_state() -> _TritonState:
    """Imports Triton and the kernel modules once; remembers why that failed, if it did."""
    try:
        import triton
    except Exception as err:  # a broken install fails with more than ImportError
        return _TritonState(None, False, f"{type(err).__name__}: {err}")
    # Read now, right before the kernels are defined: this is the mode they are defined in.
    knobs = getattr(triton, "knobs", None)  # triton >= 3.4; older ones read the variable directly
    if knobs is not None:
        interpreted = bool(knobs.runtime.interpret)
    else:
        interpreted = os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")
    modules = {name: importlib.import_module(f"filmline.kernels.triton_{name}") for name in _TRITON_MODULES}
    return _TritonState(modules, interpreted, "")


def resolve_impl(impl: str | None, *tensors: torch.Tensor) -> str:
    """Returns ``"triton"`` or ``"reference"`` for a call on `tensors`, by the rule above.

    Raises `ValueError` for an unknown name or tensors on different devices, and
    `KernelUnavailableError` when ``"triton"`` is forced but cannot run.
    """
    source = "impl argument"
    if impl is None:
        impl = os.environ.get(ENV_VAR) or "auto"
        source = f"{ENV_VAR} environment variable"
    if impl not in CHOICES:
        raise ValueError(
            f"Invalid kernel implementation {impl!r} (from the {source}). "
            f"Supported values are {', '.join(repr(c) for c in CHOICES)}."
        )
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        names = ", ".join(sorted(str(d) for d in devices))
        raise ValueError(f"Kernel inputs must be on one device; got tensors on {names}.")
    if impl == "reference":
        return "reference"
    on_cuda = bool(tensors) and all(t.is_cuda for t in tensors)
    if impl == "auto":
        if not on_cuda:
            return "reference"
        state = _triton_state()
        return "triton" if state.modules is not None and not state.interpreted else "reference"
    state = _triton_state()
    if state.modules is None:
        raise KernelUnavailableError(
            f"impl='triton' was requested but Triton cannot be imported ({state.import_error}). "
            "Install the 'gpu' or 'test' extra, or use impl='reference'."
        )
    if not on_cuda and not state.interpreted:
        device = next(iter(devices)).type if devices else "none"
        raise KernelUnavailableError(
            f"impl='triton' needs CUDA tensors (got device {device}); to run Triton on the CPU set "
            "TRITON_INTERPRET=1 before the kernels are first used, or use impl='reference'."
        )
    return "triton"


def triton_interpreted() -> bool:
    """Whether the Triton kernels were defined for Triton's CPU interpreter."""
    return _triton_state().interpreted


def triton_module(name: str) -> ModuleType:
    """The Triton kernel module for one operation; call only after `resolve_impl` chose Triton."""
    modules = _triton_state().modules
    assert modules is not None, "resolve_impl must choose 'triton' before Triton modules are used"
    return modules[name]

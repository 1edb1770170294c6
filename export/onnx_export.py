"""Export a module (one input `[batch, *item]`, one output) to ONNX with a dynamic batch axis.

Uses the dynamo exporter (`torch.onnx.export(..., dynamo=True)`): since torch 2.9 it is the
default and the TorchScript exporter is deprecated (it warns on every call and is slated for
removal). With torch 2.13 it exports SigLIP and CLIP (eager attention) at opset 18 with the batch
axis symbolic and matches PyTorch to ~1e-6; it is slower than TorchScript (seconds, not tenths),
which only matters in tests. Its console chatter is captured and shown only on failure.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import logging
import warnings
from pathlib import Path
from typing import Iterator

import torch

from filmline.engine.errors import BackendError
from filmline.export.models import OPSET

_EXAMPLE_BATCH = 2  # not 0 or 1, which torch.export would specialise instead of keeping symbolic


def export_dynamic_batch(
    module: torch.nn.Module,
    item_shape: tuple[int, ...],
    path: Path,
    *,
    input_name: str,
    output_name: str,
    label: str,
    dtype: torch.dtype = torch.float32,
    fixed_batch: int | None = None,
) -> None:
    """Export `module` (one input `[batch, *item_shape]`, one output) with a symbolic batch axis,
    or with the batch fixed at `fixed_batch` (a model whose code fixes it when traced).

    A non-fp32 `dtype` exports a cast copy. Any exporter failure becomes one `BackendError`
    line naming `label`, with the exporter's output attached as a note for --debug.
    """
    module = module if dtype == torch.float32 else copy.deepcopy(module).to(dtype)
    example = torch.zeros(fixed_batch or _EXAMPLE_BATCH, *item_shape, dtype=dtype)
    dynamic = None if fixed_batch else {_forward_argument(module): {0: torch.export.Dim("batch", min=1)}}
    chatter = io.StringIO()
    try:
        with quiet_exporter(chatter):
            torch.onnx.export(
                module.eval(),
                (example,),
                str(path),
                input_names=[input_name],
                output_names=[output_name],
                opset_version=OPSET,
                dynamo=True,
                dynamic_shapes=dynamic,
                external_data=False,
            )
    except Exception as err:  # the exporter raises many types; all mean "this graph did not export"
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        failure = BackendError(f"ONNX export of {label} failed ({first}): rerun with --debug for details")
        failure.add_note("exporter output:\n" + chatter.getvalue())
        raise failure from err


def _forward_argument(module: torch.nn.Module) -> str:
    """The name of `module.forward`'s one tensor argument (dynamo's dynamic_shapes key)."""
    return next(iter(inspect.signature(module.forward).parameters))


@contextlib.contextmanager
def quiet_exporter(sink: io.StringIO) -> Iterator[None]:
    """Send the exporter's progress prints, warnings and log lines to `sink`."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
            with contextlib.redirect_stderr(sink):
                warnings.simplefilter("ignore")
                yield
    finally:
        logger.setLevel(level)

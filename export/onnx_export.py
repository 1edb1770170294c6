"""Export an `Encoder` to ONNX with a dynamic batch axis.

Uses the dynamo exporter (`torch.onnx.export(..., dynamo=True)`): since torch 2.9 it is the
default and the TorchScript exporter is deprecated (it warns on every call and is slated for
removal). With torch 2.13 it exports SigLIP and CLIP (eager attention) at opset 18 with the batch
axis symbolic and matches PyTorch to ~1e-6; it is slower than TorchScript (seconds, not tenths),
which only matters in tests. Its console chatter is captured and shown only on failure.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from pathlib import Path
from typing import Iterator

import torch

from engine.errors import BackendError
from export.loading import Encoder
from export.models import INPUT_NAME, OPSET, OUTPUT_NAME

_EXAMPLE_BATCH = 2  # not 0 or 1, which torch.export would specialise instead of keeping symbolic


def export_onnx(encoder: Encoder, path: Path, dtype: torch.dtype = torch.float32) -> None:
    """Write `encoder` as one self-contained ONNX file at `path`, computing in `dtype`.

    fp16 exports (for TensorRT >= 11, whose strongly typed networks take precision from the
    graph) cast a copy of the encoder, so the fp32 original stays usable as the reference.
    """
    module = encoder if dtype == torch.float32 else copy.deepcopy(encoder).to(dtype)
    size = encoder.image_size
    example = torch.zeros(_EXAMPLE_BATCH, 3, size, size, dtype=dtype)
    batch = torch.export.Dim("batch", min=1)
    chatter = io.StringIO()
    try:
        with quiet_exporter(chatter):
            torch.onnx.export(
                module.eval(),
                (example,),
                str(path),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                opset_version=OPSET,
                dynamo=True,
                dynamic_shapes={"pixel_values": {0: batch}},
                external_data=False,
            )
    except Exception as err:  # the exporter raises many types; all mean "this graph did not export"
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        failure = BackendError(
            f"ONNX export of {encoder.spec.name} failed ({first}): rerun with --debug for details"
        )
        failure.add_note("exporter output:\n" + chatter.getvalue())
        raise failure from err


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

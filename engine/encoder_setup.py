"""Choosing the image encoder for a run, or saying clearly why there is none."""

from __future__ import annotations

from filmline.engine.config import model_spec
from filmline.engine.encoder_queue import EncoderQueue
from filmline.engine.errors import MissingModelError, first_line, problem_part
from filmline.engine.sections import ModelReport, Skipped


def open_encoder(model: str, backend: str, weights: str | None, batch_size: int,
                 precision: str | None = None) -> tuple[EncoderQueue | None, ModelReport]:
    """The encoder queue (None when no encoder can run) and its part of the result's `models`.

    Without weights on this machine and with `--backend auto`, the run goes on with the cheap pass
    alone and the section says why and how to enable the encoder. An encoder the user asked for
    explicitly (`--weights`, or a named backend) that cannot load is an error instead.
    """
    spec = model_spec(model)
    if backend == "none":
        return None, ModelReport({"encoder": None}, (Skipped(
            "encoder",
            "disabled with --backend none; shots come from the cheap full-rate pass alone",
            "drop --backend none to verify cuts and pick key frames with an image encoder",
        ),))
    from filmline.engine.backends import create_runner

    try:
        runner = create_runner(spec.name, backend, weights=weights, precision=precision)
    except MissingModelError as err:
        if weights is not None or backend != "auto":
            raise
        return None, ModelReport({"encoder": None}, (Skipped(
            "encoder",
            problem_part(err),  # shot_detection.method says the cheap pass alone found the shots
            f"engine-build --model {spec.name} --weights HUB_ID_OR_FOLDER, or engine-run --weights HUB_ID_OR_FOLDER",
            first_line(err),
        ),))
    facts = {
        "name": spec.name,
        "backend": runner.name,
        "manifest_hash": runner.manifest_hash,
        "embedding_dim": runner.embedding_dim,
        "image_size": runner.image_size,
        "device": runner.device,
        "precision": runner.precision,
    }
    return EncoderQueue(runner, batch_size), ModelReport({"encoder": facts})

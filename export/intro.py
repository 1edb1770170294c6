"""`engine-build --model intro --checkpoint FILE`: the intro transformer as a deployable artifact.

Its export config (windows of embeddings in, logits out, tolerances from `configs/intro.yaml`
`export`) on the shared export path (`export.pipeline`). The artifact also keeps the weights
(`model.pt`, engine-train's format) so PyTorch can run it without the original file. The
manifest records the embedder the model reads (the paper: `clip-b32`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from filmline.engine.backends.base import FEATURE_WINDOWS, ModelInput
from filmline.engine.backends.catalog import INTRO_WEIGHTS_FILE
from filmline.engine.config import parity_tolerance, read_config
from filmline.engine.models.intro import IntroTransformer, LoadedIntro, load_checkpoint, save_checkpoint
from filmline.export.pipeline import BuildRequest, BuildResult, ExportConfig, ModelBuild, Progress, build_artifact, check_sources

MODEL_NAME = "intro"
FAMILY = "intro_transformer"
WINDOW_INPUT = "embeddings"
WINDOW_OUTPUT = "logits"
WEIGHTS_FILE = "model.pt"  # the artifact's own copy of the checkpoint, for the torch backend


def build(request: BuildRequest, progress: Progress = lambda line: None) -> BuildResult:
    """Build (or reuse) the intro artifact from a published or engine-train checkpoint."""
    check_sources(request, "checkpoint")
    loaded = load_checkpoint(request.checkpoint, strict=request.strict)
    for note in loaded.notes:
        progress(f"{loaded.source.name}: {note}")
    key_inputs = {
        "model": MODEL_NAME,
        "checkpoint": loaded.sha256,
        "config": loaded.model.config.as_dict(),
        "embedder": loaded.embedder,
    }

    def save(folder: Path) -> dict[str, str]:
        save_checkpoint(loaded.model, folder / WEIGHTS_FILE, embedder=loaded.embedder, metrics=loaded.metrics)
        return {INTRO_WEIGHTS_FILE: WEIGHTS_FILE}

    def load() -> ModelBuild:
        return ModelBuild(export_config(loaded.model), key_inputs, _manifest(loaded), save=save,
                          export_note=f", windows of {loaded.model.config.window}")

    return build_artifact(request, key_inputs, load, progress)


def export_config(model: IntroTransformer) -> ExportConfig:
    """Windows [batch, W, D] of random embeddings in, logits [batch, W, K] out."""
    config = model.config
    item_shape = (config.window, config.dim)
    tolerance = read_config("intro.yaml")["export"]
    return ExportConfig(
        module=model.eval(),
        model_input=ModelInput(MODEL_NAME, FEATURE_WINDOWS, item_shape),
        input_name=WINDOW_INPUT,
        output_name=WINDOW_OUTPUT,
        dummy=lambda batch, rng: rng.standard_normal((batch, *item_shape), dtype=np.float32),
        tolerance=lambda precision: parity_tolerance(tolerance, precision),
        label="intro",
        parity_batches=(1, 3),
    )


def _manifest(loaded: LoadedIntro) -> dict[str, Any]:
    config = loaded.model.config
    return {
        "model": MODEL_NAME,
        "family": FAMILY,
        "weights": {"kind": "checkpoint", "source": str(loaded.source), "revision": f"sha256:{loaded.sha256}"},
        "checkpoint_notes": list(loaded.notes),
        "embedder": loaded.embedder,
        "input": {"name": WINDOW_INPUT, "shape": ["batch", config.window, config.dim], "window": config.window,
                  "embedding_dim": config.dim, "fps": 1.0},
        "output": {
            "name": WINDOW_OUTPUT,
            "shape": ["batch", config.window, len(config.outputs)],
            "heads": list(config.outputs),
        },
        "config": config.as_dict(),
        "training_metrics": loaded.metrics,
    }

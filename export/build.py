"""`engine-build --model siglip|clip-b32`: an image encoder from Hugging Face weights as an artifact.

The encoder's `ExportConfig` (normalised pixels in, embeddings out, its family's tolerances from
`configs/models/*.yaml`) on the shared export path (`export.pipeline`). A build whose weights
(and their revision), precision, batch profile, model config and tools match the existing
manifest is reused.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from filmline.engine.backends.base import ModelInput
from filmline.engine.backends.families import encoder_family
from filmline.engine.backends.weights import Encoder, WeightsSource, load_encoder, locate_weights
from filmline.engine.config import ModelSpec, model_spec
from filmline.export.models import INPUT_NAME, OUTPUT_NAME
from filmline.export.pipeline import BuildRequest, BuildResult, ExportConfig, ModelBuild, Progress, build_artifact, check_sources
from filmline.export.validate import random_pixels


def build(request: BuildRequest, progress: Progress = lambda line: None) -> BuildResult:
    """Build (or reuse) the artifact `request` describes; typed `EngineError`s on failure."""
    check_sources(request, "weights", required=False)
    spec = model_spec(request.model)
    encoder_family(spec)  # an unexportable family fails before anything slow
    source = locate_weights(spec, request.weights)

    def load() -> ModelBuild:
        progress(f"loading {spec.name} weights from {source.location} ...")
        encoder = load_encoder(spec, source)
        return ModelBuild(image_export(encoder, spec.tolerance, spec.name), _key_inputs(spec, encoder.source),
                          _manifest(spec, encoder))

    return build_artifact(request, _key_inputs(spec, source), load, progress)


def image_export(encoder: Any, tolerance: Any, label: str) -> ExportConfig:
    """The export config of a pixels-in encoder (the image encoders, the trigger CNN's frame
    encoder: `image_size`, `mean`, `std`, `embedding_dim`). `tolerance(precision)` gives
    (min cosine, max abs error)."""
    size = encoder.image_size
    return ExportConfig(
        module=encoder,
        model_input=ModelInput.for_pixels(label, size, encoder.mean, encoder.std, encoder.embedding_dim),
        input_name=INPUT_NAME,
        output_name=OUTPUT_NAME,
        dummy=lambda batch, rng: random_pixels(size, encoder.mean, encoder.std, batch, rng),
        tolerance=tolerance,
        label=label,
    )


def _key_inputs(spec: ModelSpec, source: WeightsSource) -> dict[str, Any]:
    return {
        "spec": dataclasses.asdict(spec),
        "weights": source.location,
        "revision": source.revision,
    }


def _manifest(spec: ModelSpec, encoder: Encoder) -> dict[str, Any]:
    source = encoder.source
    return {
        "model": spec.name,
        "family": spec.family,
        "weights": {"kind": source.kind, "source": source.location, "revision": source.revision},
        "input": pixel_input(encoder),
        "output": {"name": OUTPUT_NAME, "from": encoder_family(spec).output},
        "embedding_dim": encoder.embedding_dim,
    }


def pixel_input(encoder: Encoder) -> dict[str, Any]:
    """The manifest's `input` of a model that reads normalised pixels `[batch, 3, S, S]`."""
    return {
        "name": INPUT_NAME,
        "shape": ["batch", 3, encoder.image_size, encoder.image_size],
        "image_size": encoder.image_size,
        "mean": list(encoder.mean),
        "std": list(encoder.std),
    }

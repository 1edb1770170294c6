"""Image-encoder families: the Hugging Face class, embedding output and checkpoint types of each.

The only place SigLIP and CLIP differ, when loading weights (`weights.py`) and when exporting
them. The tolerances, source id and preprocessing live in `configs/models/*.yaml`
(`engine.config.ModelSpec`).
"""

from __future__ import annotations

from dataclasses import dataclass

from filmline.engine.config import ModelSpec
from filmline.engine.errors import BadInputError


@dataclass(frozen=True)
class EncoderFamily:
    """How one encoder family is loaded, exported and validated."""

    family: str
    model_class: str  # a `transformers` class name, imported when loading
    output: str  # field of the model output holding the pooled image embedding
    model_types: tuple[str, ...]  # config.json `model_type`s this class can load from


_CONFIGS = {
    "siglip": EncoderFamily(
        family="siglip",
        model_class="SiglipVisionModel",
        output="pooler_output",
        model_types=("siglip", "siglip_vision_model"),
    ),
    "clip": EncoderFamily(
        family="clip",
        model_class="CLIPVisionModelWithProjection",
        output="image_embeds",
        model_types=("clip", "clip_vision_model"),
    ),
}


def encoder_family(spec: ModelSpec) -> EncoderFamily:
    """The family of `spec`'s family; the YAML's `output` must agree with it."""
    config = _CONFIGS.get(spec.family)
    if config is None:
        raise BadInputError(
            f"model '{spec.name}' has family '{spec.family}', which cannot be exported: "
            f"supported families are {', '.join(sorted(_CONFIGS))}"
        )
    if spec.output != config.output:
        raise BadInputError(
            f"configs/models/{spec.name}.yaml says output '{spec.output}' but {spec.family} "
            f"exports '{config.output}': fix the YAML"
        )
    return config

"""The YAML files of `configs/`, read the same way from a checkout and from an install."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from filmline.engine.errors import BadInputError


def _config_root() -> Traversable:
    """`configs/` of a checkout (also an editable install), else the installed `engine.configs`."""
    checkout = Path(__file__).resolve().parent.parent / "configs"
    if (checkout / "pipeline.yaml").is_file():
        return checkout
    return resources.files("filmline.engine.configs")


def read_config(relative: str) -> dict[str, Any]:
    """A YAML file of `configs/` by relative path, e.g. `read_config("trigger.yaml")`."""
    path = _config_root().joinpath(relative)
    with path.open("r", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@lru_cache(maxsize=None)
def pipeline_defaults() -> dict[str, Any]:
    """`configs/pipeline.yaml`: the defaults of `engine-run`."""
    return read_config("pipeline.yaml")


@dataclass(frozen=True)
class ModelSpec:
    """One image encoder: where its weights come from and how it expects its input."""

    name: str
    family: str
    source: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    embedding_dim: int
    output: str
    parity_min_cosine: float
    parity_max_abs_error: float


def encoder_names() -> list[str]:
    """The encoders `configs/models/` describes, e.g. `['clip-b32', 'siglip']`."""
    folder = _config_root().joinpath("models")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def model_spec(name: str) -> ModelSpec:
    """The spec of encoder `name`; an unknown name is a `BadInputError` listing the valid ones."""
    known = encoder_names()
    if name not in known:
        raise BadInputError(f"unknown model '{name}': choose one of {', '.join(known)}")
    raw = read_config(f"models/{name}.yaml")
    raw["mean"] = tuple(raw["mean"])
    raw["std"] = tuple(raw["std"])
    return ModelSpec(**raw)

"""The YAML files of `configs/`, read the same way from a checkout and from an install."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Sequence

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
    """`configs/pipeline.yaml`: the defaults of `engine-run`. Cached and shared: never mutate it."""
    return read_config("pipeline.yaml")


CONFIG_VARIABLE = "ENGINE_CONFIG"


def config_overlays(flag: Path | None) -> list[tuple[Path, str]]:
    """This run's overlays of the defaults, in order, each with how messages name it: the file
    `$ENGINE_CONFIG` names (standing settings: a shared setup, a test suite), then `--config FILE`."""
    overlays = []
    named = os.environ.get(CONFIG_VARIABLE)
    if named:
        overlays.append((Path(named), f"{CONFIG_VARIABLE}={named}"))
    if flag is not None:
        overlays.append((flag, f"--config {flag}"))
    return overlays


def pipeline_config(overlays: Sequence[tuple[Path, str]] = ()) -> dict[str, Any]:
    """`configs/pipeline.yaml` with the values of each overlay (`config_overlays`) in place of its own.

    An overlay is a YAML file in the same shape holding any subset of the keys. A key the defaults
    do not have, or a value of the wrong kind, is a `BadInputError` naming the key and the file.
    The result is a fresh dict: the cached defaults stay as they are.
    """
    merged = copy.deepcopy(pipeline_defaults())
    for path, named in overlays:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise BadInputError(f"{named}: {err.strerror}; pass a YAML file shaped like configs/pipeline.yaml") from err
        except yaml.YAMLError as err:
            where = getattr(err, "problem_mark", None)
            line = f" (line {where.line + 1})" if where is not None else ""
            raise BadInputError(f"{named} is not valid YAML{line}; fix the file") from err
        if raw is not None:
            _overlay(merged, raw, named, "")
    return merged


def _overlay(target: dict[str, Any], values: Any, named: str, prefix: str) -> None:
    """Put `values` over `target` key by key, recursing into sections; checks names and kinds."""
    if not isinstance(values, dict):
        what = f"section '{prefix.rstrip('.')}'" if prefix else "the top level"
        raise BadInputError(f"{named}: {what} must be a mapping of keys to values, as in configs/pipeline.yaml")
    for key, value in values.items():
        name = f"{prefix}{key}"
        if key not in target:
            known = ", ".join(f"{prefix}{k}" for k in target)
            raise BadInputError(f"{named}: unknown key '{name}'; the keys here are {known}")
        default = target[key]
        if isinstance(default, dict):
            _overlay(default, value, named, f"{name}.")
        elif not _same_kind(default, value):
            raise BadInputError(f"{named}: '{name}' must be {_kind(default)}, got {value!r}")
        else:
            target[key] = float(value) if isinstance(default, float) else value


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(value, bool) or isinstance(default, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def _kind(default: Any) -> str:
    kinds = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    return kinds.get(type(default), type(default).__name__)


def parity_tolerance(section: dict[str, Any], precision: str) -> tuple[float, float]:
    """(min cosine, max absolute error) an exported graph of `precision` must meet against
    PyTorch fp32, from a config section's `parity_*` (fp32) or `fp16_*` keys."""
    prefix = "fp16_" if precision == "fp16" else "parity_"
    return float(section[f"{prefix}min_cosine"]), float(section[f"{prefix}max_abs_error"])


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
    parity_min_cosine: float  # exported fp32 graph against PyTorch
    parity_max_abs_error: float
    fp16_min_cosine: float  # fp16 graph (TensorRT) against PyTorch fp32
    fp16_max_abs_error: float

    def tolerance(self, precision: str) -> tuple[float, float]:
        """(min cosine, max absolute error) a deployed graph of `precision` must meet."""
        return parity_tolerance(vars(self), precision)


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

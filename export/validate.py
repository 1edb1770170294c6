"""Parity of a deployed graph with PyTorch on fresh random input: the figures the manifest keeps.

One check for every model: the model's dummy input (`ExportConfig.dummy`: normalised random
images, random embedding windows, random frames) at more than one batch size (the batch axis is
dynamic, so each size is a different shape the runtime must handle), each item's output flattened
and compared by cosine and by the largest absolute difference, against the model's own tolerance.
The seed is recorded so a failure can be reproduced.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from filmline.engine.errors import BackendError

if TYPE_CHECKING:
    from filmline.export.pipeline import ExportConfig

Run = Callable[[np.ndarray], np.ndarray]


class ParityError(BackendError):
    """A deployed graph disagrees with PyTorch beyond the model's tolerance (or in shape)."""


@dataclass(frozen=True)
class Parity:
    """How closely one runtime reproduces the PyTorch outputs."""

    backend: str
    precision: str
    batches: tuple[int, ...]
    seed: int
    min_cosine: float
    mean_cosine: float
    max_abs_error: float
    tolerance_min_cosine: float
    tolerance_max_abs_error: float

    @property
    def passed(self) -> bool:
        return (
            self.min_cosine >= self.tolerance_min_cosine
            and self.max_abs_error <= self.tolerance_max_abs_error
        )

    def summary(self) -> str:
        return (
            f"{self.backend} ({self.precision}) vs PyTorch: cosine min {self.min_cosine:.6f} "
            f"mean {self.mean_cosine:.6f}, max abs error {self.max_abs_error:.2e} "
            f"(tolerance: cosine >= {self.tolerance_min_cosine}, "
            f"abs <= {self.tolerance_max_abs_error})"
        )

    def as_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["batches"] = list(self.batches)
        record["passed"] = self.passed
        return record


def check_parity(
    run: Run,
    config: "ExportConfig",
    *,
    backend: str,
    precision: str,
    batches: tuple[int, ...] | None = None,
    seed: int | None = None,
) -> Parity:
    """Compare `run` with `config`'s fp32 PyTorch module on its dummy input; a `ParityError` when
    a shape differs or the figures are out of the model's tolerance for `precision`."""
    seed = secrets.randbits(31) if seed is None else seed
    batches = batches or config.parity_batches
    rng = np.random.default_rng(seed)
    expected, got = [], []
    for batch in batches:
        items = config.dummy(batch, rng)
        with torch.inference_mode():
            reference = config.module.eval()(torch.from_numpy(items)).float().numpy()
        output = np.asarray(run(items), dtype=np.float32)
        if output.shape != reference.shape:
            raise ParityError(
                f"{backend} returns outputs of shape {output.shape} for batch {batch}, PyTorch "
                f"{reference.shape}: rebuild with engine-build --model {config.model_input.model} --force"
            )
        if config.canonical is not None:
            reference = np.stack([config.canonical(item) for item in reference])
            output = np.stack([config.canonical(item) for item in output])
        expected.append(reference.reshape(batch, -1))
        got.append(output.reshape(batch, -1))
    reference, output = np.concatenate(expected), np.concatenate(got)
    cosine = _cosine(reference, output)
    low, high = config.tolerance(precision)
    parity = Parity(
        backend=backend,
        precision=precision,
        batches=tuple(batches),
        seed=seed,
        min_cosine=float(cosine.min()),
        mean_cosine=float(cosine.mean()),
        max_abs_error=float(np.abs(reference.astype(np.float64) - output).max()),
        tolerance_min_cosine=low,
        tolerance_max_abs_error=high,
    )
    if not parity.passed:
        raise ParityError(
            f"{config.label}: {parity.summary()} is out of tolerance (seed {seed}): the "
            "exported graph is wrong; rerun with --debug and report it"
        )
    return parity


def random_pixels(image_size: int, mean: tuple[float, ...], std: tuple[float, ...], batch: int,
                  rng: np.random.Generator) -> np.ndarray:
    """A random image batch in [0, 1], normalised with `mean`/`std`: float32 [B, 3, S, S]."""
    image = rng.random((batch, 3, image_size, image_size), dtype=np.float32)
    mean_ = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std_ = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    return (image - mean_) / std_


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    return (a64 * b64).sum(axis=1) / np.maximum(norms, 1e-12)

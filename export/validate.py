"""Parity of a deployed graph with PyTorch on fresh random input: the figures the manifest keeps.

The input is a random image in [0, 1] normalised like real frames, at more than one batch size
(the batch axis is dynamic, so each size is a different shape the runtime must handle). The seed
is recorded so a failure can be reproduced.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import torch

from filmline.engine.errors import BackendError
from filmline.engine.backends.weights import Encoder


class ParityError(BackendError):
    """A deployed graph disagrees with PyTorch beyond the model's tolerance (or in shape)."""


@dataclass(frozen=True)
class Parity:
    """How closely one runtime reproduces the PyTorch embeddings."""

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


def random_pixels(encoder: Encoder, batch: int, rng: np.random.Generator) -> np.ndarray:
    """A random image batch in [0, 1], normalised with the encoder's mean/std: float32 [B,3,S,S]."""
    size = encoder.image_size
    image = rng.random((batch, 3, size, size), dtype=np.float32)
    mean = np.asarray(encoder.mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(encoder.std, dtype=np.float32).reshape(1, 3, 1, 1)
    return (image - mean) / std


def check_parity(
    run: Callable[[np.ndarray], np.ndarray],
    encoder: Encoder,
    *,
    backend: str,
    precision: str,
    tolerance: tuple[float, float],
    batches: tuple[int, ...] = (1, 4),
    seed: int | None = None,
) -> Parity:
    """Compare `run` with the fp32 PyTorch `encoder`; a `ParityError` when out of tolerance."""
    seed = secrets.randbits(31) if seed is None else seed
    rng = np.random.default_rng(seed)
    expected, got = [], []
    for batch in batches:
        pixels = random_pixels(encoder, batch, rng)
        with torch.inference_mode():
            reference = encoder(torch.from_numpy(pixels)).float().numpy()
        output = np.asarray(run(pixels), dtype=np.float32)
        if output.shape != reference.shape:
            raise ParityError(
                f"{backend} returns embeddings of shape {output.shape} for batch {batch}, PyTorch "
                f"{reference.shape}: rebuild with engine-build --model {encoder.spec.name} --force"
            )
        expected.append(reference)
        got.append(output)
    reference, output = np.concatenate(expected), np.concatenate(got)
    cosine = _cosine(reference, output)
    parity = Parity(
        backend=backend,
        precision=precision,
        batches=tuple(batches),
        seed=seed,
        min_cosine=float(cosine.min()),
        mean_cosine=float(cosine.mean()),
        max_abs_error=float(np.abs(reference - output).max()),
        tolerance_min_cosine=tolerance[0],
        tolerance_max_abs_error=tolerance[1],
    )
    if not parity.passed:
        raise ParityError(
            f"{encoder.spec.name}: {parity.summary()} is out of tolerance (seed {seed}): the "
            "exported graph is wrong; rerun with --debug and report it"
        )
    return parity


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    return (a64 * b64).sum(axis=1) / np.maximum(norms, 1e-12)

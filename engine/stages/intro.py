"""Intro and credits from the intro transformer: windows over 1 frame/s embeddings → segments.

The model sees windows of W embeddings (the paper: 60), started every `stride` seconds, the last
one aligned to the end so every second is seen; each second's probability is the mean over the
windows that saw it. A video shorter than W is padded by repeating its last embedding. Segments
come from hysteresis on those probabilities (a `high` second extends over `low` neighbours),
then small gaps are merged and implausible lengths dropped; the best segment of each kind wins.

Sample t (taken at t seconds) stands for [t - 0.5, t + 0.5): a segment of samples i..j spans
[i - 0.5, j + 0.5] (from 0 at the start; the caller may clip the end to the video's duration).
`engine.stages.series` shares this convention and the entry format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from filmline.engine.config import read_config
from filmline.engine.errors import BadInputError

MODEL_NAME = "intro"
Run = Callable[[np.ndarray], np.ndarray]  # float32 windows [B, W, D] → logits [B, W, K]
_FIX_YAML = "fix configs/intro.yaml"


@dataclass(frozen=True)
class IntroSettings:
    """How windows are cut and probabilities become segments (configs/intro.yaml `inference`,
    the one source of the defaults: `from_config`)."""

    stride: int
    high: float
    low: float
    min_seconds: float
    max_seconds: float
    merge_gap: float
    batch: int
    window: int | None = None  # None: the model's own (not a YAML setting); a number must equal it

    def __post_init__(self) -> None:
        if self.stride < 1 or self.batch < 1:
            raise BadInputError(f"intro stride and batch must be >= 1; got {self.stride}, {self.batch}: {_FIX_YAML}")
        if not 0 < self.low <= self.high < 1:
            raise BadInputError(f"intro thresholds need 0 < low <= high < 1; got {self.low}, {self.high}: {_FIX_YAML}")
        if not 0 <= self.min_seconds <= self.max_seconds:
            raise BadInputError(f"intro min_seconds {self.min_seconds} > max_seconds {self.max_seconds}: {_FIX_YAML}")

    @classmethod
    def from_config(cls, **overrides: Any) -> "IntroSettings":
        return cls(**{**read_config("intro.yaml")["inference"], **overrides})


def window_probabilities(embeddings: np.ndarray, window: int, stride: int, run: Run, batch: int = 32) -> np.ndarray:
    """Per-second probabilities [T, K]: the sigmoid of each window's logits, averaged."""
    total = len(embeddings)
    if total == 0:
        raise BadInputError("no embeddings to look for an intro in: the video has no frame at 1 frame/s")
    padded = np.asarray(embeddings, dtype=np.float32)
    if total < window:
        padded = np.concatenate([padded, np.repeat(padded[-1:], window - total, axis=0)])
    starts = list(range(0, len(padded) - window + 1, stride))
    if starts[-1] != len(padded) - window:
        starts.append(len(padded) - window)
    sums: np.ndarray | None = None
    counts = np.zeros(len(padded), dtype=np.float64)
    for first in range(0, len(starts), batch):
        chunk = starts[first : first + batch]
        logits = np.asarray(run(np.stack([padded[s : s + window] for s in chunk])), dtype=np.float64)
        if sums is None:
            sums = np.zeros((len(padded), logits.shape[-1]))
        for s, row in zip(chunk, 0.5 * (1.0 + np.tanh(0.5 * logits))):  # the sigmoid, overflow-free
            sums[s : s + window] += row
            counts[s : s + window] += 1
    return (sums / counts[:, None])[:total].astype(np.float32)


def sample_span(first: float, last: float) -> tuple[float, float]:
    """Seconds [start, end] covered by samples first..last (halves allowed: medians of samples)."""
    return max(0.0, first - 0.5), last + 0.5


def find_segments(probabilities: np.ndarray, settings: IntroSettings) -> list[tuple[int, int, float]]:
    """(first, last, mean probability) of every segment that passes hysteresis, merge and length."""
    above = probabilities >= settings.low
    runs: list[list[int]] = []
    for t in np.flatnonzero(above):
        if runs and t == runs[-1][1] + 1:
            runs[-1][1] = int(t)
        else:
            runs.append([int(t), int(t)])
    runs = [r for r in runs if (probabilities[r[0] : r[1] + 1] >= settings.high).any()]
    merged: list[list[int]] = []
    for run in runs:
        if merged and run[0] - merged[-1][1] - 1 <= settings.merge_gap:
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    segments = []
    for first, last in merged:
        start, end = sample_span(first, last)
        if settings.min_seconds <= end - start <= settings.max_seconds:
            segments.append((first, last, float(probabilities[first : last + 1].mean())))
    return segments


def best_entries(probabilities: np.ndarray, outputs: tuple[str, ...], settings: IntroSettings, method: str) -> list[dict]:
    """One entry per output (intro, credits) that has a segment: the most confident one."""
    entries = []
    for k, kind in enumerate(outputs):
        segments = find_segments(probabilities[:, k], settings)
        if not segments:
            continue
        first, last, confidence = max(segments, key=lambda s: s[2])
        start, end = sample_span(first, last)
        entries.append(entry(kind, start, end, confidence, method))
    return entries


def entry(kind: str, start: float, end: float, confidence: float, method: str) -> dict:
    """One result entry: what the document's `intro` / `credits` fields hold."""
    return {"kind": kind, "start": round(start, 3), "end": round(end, 3), "confidence": round(confidence, 4), "method": method}


class IntroModel:
    """The intro stage's model around its runner (windows of embeddings → logits, opened by the
    model layer): 1 frame/s embeddings in, intro/credits out. The manifest says what it reads."""

    def __init__(self, runner: Any) -> None:
        manifest = runner.manifest
        self._run = runner.run
        self.backend = runner.name
        self.manifest_hash = runner.manifest_hash
        self.embedder: str = manifest["embedder"]
        self.window = int(manifest["input"]["window"])
        self.dim = int(manifest["input"]["embedding_dim"])
        self.outputs: tuple[str, ...] = tuple(manifest["output"]["heads"])

    def probabilities(self, embeddings: np.ndarray, settings: IntroSettings) -> np.ndarray:
        """[T, K] per-second probabilities of each output."""
        if settings.window is not None and settings.window != self.window:
            raise BadInputError(
                f"intro window {settings.window} differs from the model's {self.window}: "
                "set inference window to null (or the model's) in configs/intro.yaml"
            )
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dim:
            raise BadInputError(
                f"the intro model reads {self.dim}-d {self.embedder} embeddings [T, {self.dim}]; got shape "
                f"{embeddings.shape}: compute {self.embedder} embeddings at 1 frame/s"
            )
        return window_probabilities(embeddings, self.window, settings.stride, self._run, settings.batch)

    def detect(self, embeddings: np.ndarray, settings: IntroSettings) -> list[dict]:
        """`intro`/`credits` entries (start, end, confidence, method) for one video."""
        return best_entries(self.probabilities(embeddings, settings), self.outputs, settings, "intro_transformer")

    def __repr__(self) -> str:
        return (
            f"IntroModel(backend={self.backend!r}, embedder={self.embedder!r}, "
            f"window={self.window}, outputs={self.outputs})"
        )

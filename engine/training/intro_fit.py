"""Fitting the intro transformer: the intro paper's balanced windows, `BCEWithLogitsLoss`, Adam.

An intro is a few percent of an episode, so the intro paper trains on a balanced sequence: each
episode's intro followed by as many seconds of the film right after it, all episodes' pairs
joined into one sequence, cut into windows of 60 with stride 5. The engine keeps that, adds the
mirror for credits (as many seconds of film right before them, then the credits) when the model
has a credits output and, for an episode annotated as having no intro, its opening seconds as
pure negatives; and it joins the pairs in a new order each epoch (see `epoch_windows`).
Validation runs the model like `engine-run` does: over every second of held-out episodes, in
overlapping windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from filmline.engine.errors import BadInputError
from filmline.engine.evaluation.intro import Case, per_second, score, seconds_inside
from filmline.engine.models.intro import IntroTransformer
from filmline.engine.stages.intro import IntroSettings, best_entries, window_probabilities

Span = tuple[float, float]


@dataclass(frozen=True)
class Labelled:
    """One episode's embeddings at 1 frame/s and its annotated spans (None: it has none)."""

    name: str
    embeddings: np.ndarray  # [T, D]
    intro: Span | None
    credits: Span | None  # None: none annotated


@dataclass(frozen=True)
class FitSettings:
    epochs: int = 20
    batch: int = 8
    lr: float = 5e-5
    stride: int = 5
    seed: int = 0
    device: str = "cpu"


def samples_inside(span: Span, total: int) -> np.ndarray:
    """Indices of the 1 frame/s samples inside `span` (start <= t < end)."""
    return np.flatnonzero(seconds_inside(span, total))


Piece = tuple[np.ndarray, np.ndarray]  # embeddings [n, D] and labels [n, K] of consecutive seconds


def balanced_pieces(episodes: list[Labelled], outputs: tuple[str, ...], window: int) -> list[Piece]:
    """The intro paper's pairs: each intro with as many seconds of the film after it (and the mirror for
    credits); an episode annotated as having no intro gives its opening `window` seconds."""
    pieces: list[Piece] = []

    def piece(episode: Labelled, *parts: tuple[np.ndarray, int | None]) -> None:
        indices = np.concatenate([p for p, _ in parts])
        labels = np.zeros((len(indices), len(outputs)), np.float32)
        at = 0
        for part, positive in parts:
            if positive is not None:
                labels[at : at + len(part), positive] = 1.0
            at += len(part)
        if len(indices):
            pieces.append((episode.embeddings[indices], labels))

    for episode in episodes:
        total = len(episode.embeddings)
        credits = samples_inside(episode.credits, total) if episode.credits else np.zeros(0, int)
        film_end = int(credits[0]) if len(credits) else total
        intro = samples_inside(episode.intro, total) if episode.intro else np.zeros(0, int)
        if episode.intro is None:
            piece(episode, (np.arange(min(window, film_end)), None))
        elif len(intro):
            after = np.arange(intro[-1] + 1, min(intro[-1] + 1 + len(intro), film_end))
            piece(episode, (intro, 0), (after, None))
        if "credits" in outputs and len(credits):
            film_start = int(intro[-1]) + 1 if len(intro) else 0
            piece(episode, (np.arange(max(film_start, film_end - len(credits)), film_end), None), (credits, 1))
    seconds = sum(len(x) for x, _ in pieces)
    if seconds < window:
        raise BadInputError(
            f"the annotated intros (and credits) add up to {seconds} s with their film, less than one window "
            f"of {window} s: annotate more episodes"
        )
    return pieces


def cut_windows(x: np.ndarray, y: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows [M, W, D] and labels [M, W, K] every `stride` samples (the last one at the end)."""
    starts = list(range(0, len(x) - window + 1, stride))
    if starts[-1] != len(x) - window:
        starts.append(len(x) - window)
    return np.stack([x[s : s + window] for s in starts]), np.stack([y[s : s + window] for s in starts])


def epoch_windows(pieces: list[Piece], window: int, stride: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The pieces joined in a fresh random order, cut into windows from a random first second.

    The intro paper joins its pairs once; drawn afresh each epoch, no window can learn that an intro
    follows the previous episode's credits, which no real episode shows.
    """
    order = rng.permutation(len(pieces))
    x = np.concatenate([pieces[k][0] for k in order])
    y = np.concatenate([pieces[k][1] for k in order])
    skip = int(rng.integers(0, min(stride, len(x) - window + 1)))
    return cut_windows(x[skip:], y[skip:], window, stride)


def fit(
    model: IntroTransformer,
    pieces: list[Piece],
    settings: FitSettings,
    progress: Callable[[str], None] = lambda line: None,
) -> list[float]:
    """Train `model` in place on `pieces`; the mean loss of each epoch."""
    rng = np.random.default_rng(settings.seed)
    device = torch.device(settings.device)
    window = model.config.window
    model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    loss_fn = nn.BCEWithLogitsLoss()
    losses = []
    for epoch in range(settings.epochs):
        windows, labels = epoch_windows(pieces, window, settings.stride, rng)
        x, y = torch.from_numpy(windows), torch.from_numpy(labels)
        order = torch.from_numpy(rng.permutation(len(x)))
        total = 0.0
        for step in range(math.ceil(len(x) / settings.batch)):
            pick = order[step * settings.batch : (step + 1) * settings.batch]
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[pick].to(device)), y[pick].to(device))
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(pick)
        losses.append(total / len(x))
        progress(f"epoch {epoch + 1}/{settings.epochs}: loss {losses[-1]:.4f}")
    model.eval()
    return losses


def predict(model: IntroTransformer, embeddings: np.ndarray, stride: int, batch: int = 32) -> np.ndarray:
    """Per-second probabilities [T, K] of one episode, windowed as at inference."""
    device = next(model.parameters()).device
    model.eval()

    def run(windows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(windows).to(device)).float().cpu().numpy()

    return window_probabilities(embeddings, model.config.window, stride, run, batch)


def validate(model: IntroTransformer, episodes: list[Labelled], settings: IntroSettings) -> dict[str, dict]:
    """Per output: the intro paper's per-second metrics (probability > 0.5) and the engine's segments
    scored like `engine-eval intro`, over every second of `episodes`."""
    report: dict[str, dict] = {}
    outputs = model.config.outputs
    probabilities = [predict(model, e.embeddings, settings.stride, settings.batch) for e in episodes]
    for k, kind in enumerate(outputs):
        known = [(e, p) for e, p in zip(episodes, probabilities) if kind == "intro" or e.credits is not None]
        if not known:
            continue
        masks = [(seconds_inside(getattr(e, kind), len(p)), p[:, k] > 0.5) for e, p in known]
        cases = []
        for e, p in known:
            found = {x["kind"]: (x["start"], x["end"]) for x in best_entries(p, outputs, settings, "intro_transformer")}
            cases.append(Case(e.name, getattr(e, kind), found.get(kind), float(len(p))))
        report[kind] = {"per_second": per_second(masks), "segments": score(kind, cases).as_dict()}
    return report

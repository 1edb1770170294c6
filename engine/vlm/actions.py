"""Action labels of key shots (asgaard-action-movies-2's categories; several may hold).

With log-probabilities (`backend.gives_logprobs`): one prompt lists the categories, every category
name is scored as the whole answer, and a softmax over those log-likelihoods gives the category
probabilities. A category is a label when its probability reaches the threshold; the labels are
["none"] when none reaches it or when the none category is the most probable. This is the
posterior over the answers the model could give, read at one forward pass per candidate: a
second applicable category shows up as shared mass (two fitting categories near 0.5 each), which
the threshold keeps, where an argmax would drop it.

Without them (or when the backend raises `ScoringUnavailable`): the model is asked for a
comma-separated subset of the exact names, and the answer is parsed strictly; anything else
fails for that shot with the raw answer recorded. Probabilities are then 1 for each chosen
category and 0 for the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from filmline.engine.vlm.base import Failed, Generated, Scored, ScoringUnavailable, VlmBackend, VlmPrompt
from filmline.engine.vlm.config import VlmConfig

SCORED = "logprobs"
CONSTRAINED = "constrained"


class LabelAnswerError(ValueError):
    """A constrained answer that is not a comma-separated subset of the category names."""


@dataclass(frozen=True)
class ShotLabels:
    labels: list[str] | None  # None: failed
    probabilities: dict[str, float] | None
    answer: str | None = None  # the raw constrained answer (None for scored labels)
    error: str | None = None

    def fields(self) -> dict[str, object]:
        return {"labels": self.labels, "label_probabilities": self.probabilities,
                **({"label_answer": self.answer} if self.answer is not None else {})}


def action_question(config: VlmConfig, method: str) -> str:
    instruction = config.scored_instruction if method == SCORED else config.constrained_instruction
    return config.action_prompt.format(categories=config.category_lines) + "\n" + instruction


def softmax(logprobs: Sequence[float]) -> list[float]:
    finite = [x for x in logprobs if math.isfinite(x)]
    if not finite:
        return [1.0 / len(logprobs)] * len(logprobs)
    top = max(finite)
    weights = [math.exp(x - top) if math.isfinite(x) else 0.0 for x in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def labels_from_probabilities(probabilities: dict[str, float], threshold: float, none: str) -> list[str]:
    """Categories at or above `threshold` (most probable first), or [none] (module docstring)."""
    if max(probabilities, key=lambda name: probabilities[name]) == none:
        return [none]
    chosen = sorted((n for n, p in probabilities.items() if n != none and p >= threshold), key=lambda n: -probabilities[n])
    return chosen or [none]


def parse_label_answer(answer: str, categories: Sequence[str], none: str) -> list[str]:
    """The categories a constrained answer names, in the categories' order.

    Accepted: category names (any case) separated by commas, with spaces around them and one
    final full stop; `none` alone. Anything else (other words, empty items, none beside a
    category) raises `LabelAnswerError`.
    """
    by_lower = {name.lower(): name for name in categories}
    text = answer.strip()
    if text.endswith("."):
        text = text[:-1]
    items = [item.strip() for item in text.split(",")]
    unknown = [item for item in items if item.lower() not in by_lower]
    if unknown:
        raise LabelAnswerError(f"{unknown[0]!r} is not one of the categories")
    chosen = {by_lower[item.lower()] for item in items}
    if none in chosen and len(chosen) > 1:
        raise LabelAnswerError(f"'{none}' together with other categories")
    return [name for name in categories if name in chosen]


def label_shots(backend: VlmBackend, config: VlmConfig, images: Sequence[tuple], method: str,
                on_progress=None) -> tuple[list[ShotLabels], str]:
    """Labels for each shot's images, and the method that produced them (`method` unless the
    backend turned out to have no log-probabilities)."""
    names = list(config.categories)
    if method == SCORED:
        prompts = [VlmPrompt(action_question(config, SCORED), shot) for shot in images]
        try:
            answers = backend.score(prompts, names, on_progress)
        except ScoringUnavailable:
            method = CONSTRAINED
        else:
            return [_scored(answer, names, config) for answer in answers], SCORED
    prompts = [VlmPrompt(action_question(config, CONSTRAINED), shot) for shot in images]
    answers = backend.generate(prompts, config.action_generation, on_progress)
    return [_constrained(answer, names, config) for answer in answers], CONSTRAINED


def _scored(answer: Scored | Failed, names: list[str], config: VlmConfig) -> ShotLabels:
    if isinstance(answer, Failed):
        return ShotLabels(None, None, error=answer.error)
    probabilities = dict(zip(names, softmax(answer.logprobs)))
    return ShotLabels(labels_from_probabilities(probabilities, config.label_threshold, config.none_category), probabilities)


def _constrained(answer: Generated | Failed, names: list[str], config: VlmConfig) -> ShotLabels:
    if isinstance(answer, Failed):
        return ShotLabels(None, None, error=answer.error)
    try:
        labels = parse_label_answer(answer.text, names, config.none_category)
    except LabelAnswerError as err:
        return ShotLabels(None, None, answer=answer.text, error=f"unusable answer: {err}")
    return ShotLabels(labels, {name: float(name in labels) for name in names}, answer=answer.text)

"""The vision-language interface every backend keeps (transformers, OpenAI-compatible HTTP, TensorRT-LLM).

Two questions, both over a list of prompts so a backend can batch or run them concurrently:

- `generate`: images + a question → the model's answer text;
- `score`: images + a question + candidate answers → log P(answer | images, question) per answer,
  the summed log-probability of the answer's tokens as the assistant's reply.

A `VlmPrompt` carries the question alone; each backend wraps it in its model family's chat
template and places the images where that family expects them. A request that fails for good
(after the backend's retries) comes back as `Failed` in its slot, so one bad request never costs
the run: the tasks record it in the result.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from filmline.engine.errors import EngineError

Progress = Callable[[int], None]  # called with the number of prompts just finished


@dataclass(frozen=True, eq=False)
class VlmPrompt:
    """One question about some images (uint8 RGB `[H, W, 3]`, in the order the model sees them)."""

    text: str
    images: tuple[np.ndarray, ...] = ()

    def fingerprint(self) -> str:
        """SHA-256 of the question and the images' pixels: the cache key's content part."""
        digest = hashlib.sha256(self.text.encode("utf-8"))
        for image in self.images:
            digest.update(repr(image.shape).encode("ascii"))
            digest.update(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
        return digest.hexdigest()


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 64
    temperature: float = 0.0  # 0 is greedy: the same inputs give the same answer (and cache hits are honest)
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"temperature must be >= 0 and top_p in (0, 1], got {self.temperature}, {self.top_p}")


@dataclass(frozen=True)
class Generated:
    text: str
    tokens: int  # generated tokens (for tokens/s)


@dataclass(frozen=True)
class Scored:
    logprobs: tuple[float, ...]  # one per candidate, in the candidates' order


@dataclass(frozen=True)
class Failed:
    """A request that failed for good; `error` is one line (what, and after how many attempts)."""

    error: str


class ScoringUnavailable(EngineError):
    """The backend (or the server behind it) gives no log-probabilities; answer by generation instead."""

    exit_code = 4


@dataclass
class VlmBackend(ABC):
    """A vision-language model behind one interface. `model` names it in caches and results."""

    name: ClassVar[str]
    model: str
    gives_logprobs: bool = True  # False: `score` raises ScoringUnavailable; tasks ask for a constrained answer
    exact_scores: bool = True  # False: `score` approximates (an OpenAI server's top-k first-token logprobs)
    stats: dict[str, float] = field(default_factory=lambda: {"requests": 0, "generated_tokens": 0, "failed": 0})

    @abstractmethod
    def generate(self, prompts: Sequence[VlmPrompt], settings: GenerationSettings,
                 on_progress: Progress | None = None) -> list[Generated | Failed]:
        """One answer per prompt, in order."""

    @abstractmethod
    def score(self, prompts: Sequence[VlmPrompt], candidates: Sequence[str],
              on_progress: Progress | None = None) -> list[Scored | Failed]:
        """log P(candidate | prompt) for every candidate, per prompt, in order."""

    def describe(self) -> dict[str, Any]:
        """What the result document records about this backend."""
        return {"backend": self.name, "model": self.model, "logprobs": self.gives_logprobs,
                "exact_scores": self.exact_scores}

    def close(self) -> None:
        """Release the model or the connections."""

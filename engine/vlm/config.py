"""The vision-language stage's settings: `configs/vlm.yaml` (or the file given with --vlm-config),
checked once when the run starts so a typo fails before any video is decoded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from filmline.engine.config import read_config
from filmline.engine.errors import BadInputError
from filmline.engine.vlm.base import GenerationSettings

DEFAULT_FILE = "configs/vlm.yaml"


@dataclass(frozen=True)
class VlmConfig:
    source: str  # the file it came from, for error messages
    categories: dict[str, str]  # name → one-line description, in the file's order
    none_category: str
    action_prompt: str
    scored_instruction: str
    constrained_instruction: str
    label_threshold: float
    action_generation: GenerationSettings
    caption_prompt: str
    caption_generation: GenerationSettings
    context_tokens: int
    chunk_prompt: str
    final_prompt: str
    chunk_generation: GenerationSettings
    final_generation: GenerationSettings
    trigger_prompt: str
    trigger_generation: GenerationSettings
    trigger_summary_prompt: str
    image_width: int
    jpeg_quality: int
    neighbours: int
    batch_size: int
    concurrency: int
    timeout_s: float
    max_retries: int
    prompts_per_call: int
    minute_seconds: float
    sequences: int

    @classmethod
    def load(cls, path: Path | None = None) -> "VlmConfig":
        """The packaged `configs/vlm.yaml`, or the YAML file at `path`."""
        if path is None:
            return cls.from_dict(read_config("vlm.yaml"), DEFAULT_FILE)
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as err:
            raise BadInputError(f"--vlm-config {path}: {err.strerror}; pass a readable YAML file like {DEFAULT_FILE}") from err
        except yaml.YAMLError as err:
            raise BadInputError(f"--vlm-config {path} is not valid YAML ({type(err).__name__}); compare it with {DEFAULT_FILE}") from err
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: Any, source: str) -> "VlmConfig":
        def fail(problem: str) -> BadInputError:
            return BadInputError(f"{source}: {problem}; compare it with {DEFAULT_FILE}")

        try:
            actions, captions, summary = raw["actions"], raw["captions"], raw["summary"]
            triggers, images, backend, profile = raw["triggers"], raw["images"], raw["backend"], raw["profile"]
            config = cls(
                source=source,
                categories={str(k): str(v) for k, v in raw["categories"].items()},
                none_category=str(raw["none_category"]),
                action_prompt=actions["prompt"],
                scored_instruction=actions["scored_instruction"],
                constrained_instruction=actions["constrained_instruction"],
                label_threshold=float(actions["threshold"]),
                action_generation=GenerationSettings(**actions["generation"]),
                caption_prompt=captions["prompt"],
                caption_generation=GenerationSettings(**captions["generation"]),
                context_tokens=int(summary["context_tokens"]),
                chunk_prompt=summary["chunk_prompt"],
                final_prompt=summary["final_prompt"],
                chunk_generation=GenerationSettings(**summary["chunk_generation"]),
                final_generation=GenerationSettings(**summary["final_generation"]),
                trigger_prompt=triggers["prompt"],
                trigger_generation=GenerationSettings(**triggers["generation"]),
                trigger_summary_prompt=triggers["summary_prompt"],
                image_width=int(images["width"]),
                jpeg_quality=int(images["jpeg_quality"]),
                neighbours=int(images["neighbours"]),
                batch_size=int(backend["batch_size"]),
                concurrency=int(backend["concurrency"]),
                timeout_s=float(backend["timeout_s"]),
                max_retries=int(backend["max_retries"]),
                prompts_per_call=int(backend["prompts_per_call"]),
                minute_seconds=float(profile["minute_seconds"]),
                sequences=int(profile["sequences"]),
            )
        except (KeyError, TypeError, AttributeError) as err:
            raise fail(f"missing or malformed entry {err}") from None
        except ValueError as err:
            raise fail(str(err)) from None
        config._check(fail)
        return config

    def _check(self, fail: Callable[[str], BadInputError]) -> None:
        names = [name.lower() for name in self.categories]
        if len(set(names)) != len(names) or any(not n.strip() or "," in n for n in names):
            raise fail("category names must be distinct (ignoring case), non-empty and without commas")
        if self.none_category not in self.categories or len(self.categories) < 2:
            raise fail(f"none_category '{self.none_category}' must be one of at least two categories")
        if not 0.0 < self.label_threshold <= 1.0:
            raise fail(f"actions.threshold must be in (0, 1], got {self.label_threshold}")
        for name in ("chunk_prompt", "final_prompt", "trigger_summary_prompt"):
            if "{text}" not in getattr(self, name):
                raise fail(f"{name} must contain {{text}}")
        if "{categories}" not in self.action_prompt:
            raise fail("actions.prompt must contain {categories}")
        biggest = max(self.chunk_generation.max_new_tokens, self.final_generation.max_new_tokens)
        if self.context_tokens < 4 * biggest:  # room for the answer and at least two summaries to merge
            raise fail(f"summary.context_tokens {self.context_tokens} must be at least 4x the longest summary ({biggest} tokens)")
        if self.image_width < 16 or not 1 <= self.jpeg_quality <= 100 or self.neighbours < 0:
            raise fail("images need width >= 16, jpeg_quality in 1..100 and neighbours >= 0")
        if min(self.batch_size, self.concurrency, self.prompts_per_call) < 1 or self.max_retries < 0 or self.timeout_s <= 0:
            raise fail("backend batch_size, concurrency and prompts_per_call must be >= 1, max_retries >= 0, timeout_s > 0")
        if self.minute_seconds <= 0 or self.sequences < 0:
            raise fail("profile minute_seconds must be positive and sequences >= 0")

    @property
    def category_lines(self) -> str:
        return "\n".join(f"- {name}: {description}" for name, description in self.categories.items())

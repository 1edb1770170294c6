"""Descriptions: one question about each item's images (a key shot's caption, Shotluck Holmes; a trigger
frame's analysis, the original trigger model), and the prompts that summarise the timed answers into the video's
summary (captions) or `video_summary` (trigger analyses), chunked by `engine.vlm.summary`."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from filmline.engine.vlm.base import Failed, Generated, GenerationSettings, Progress, VlmBackend, VlmPrompt
from filmline.engine.vlm.config import VlmConfig
from filmline.engine.vlm.summary import SummaryPrompts


def describe(backend: VlmBackend, question: str, settings: GenerationSettings,
             images: Sequence[tuple[np.ndarray, ...]], on_progress: Progress | None = None) -> list[Generated | Failed]:
    return backend.generate([VlmPrompt(question, item) for item in images], settings, on_progress)


def caption_summary_prompts(config: VlmConfig) -> SummaryPrompts:
    return SummaryPrompts(config.chunk_prompt, config.final_prompt, config.chunk_generation,
                          config.final_generation, config.context_tokens)


def trigger_summary_prompts(config: VlmConfig) -> SummaryPrompts:
    return SummaryPrompts(config.chunk_prompt, config.trigger_summary_prompt, config.chunk_generation,
                          config.final_generation, config.context_tokens)

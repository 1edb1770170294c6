"""A summary of many short texts (shot captions, trigger analyses) that may not fit the context.

The items are packed in order into chunks whose prompt fits the token budget (the context less the
answer's tokens); one chunk is summarised at once with the final prompt. Otherwise each chunk gets
a summary, and the chunk summaries are summarised the same way, level by level, until they fit
one prompt. An item longer than half the budget is cut to half, so every chunk holds at least two
items and each level at least halves the count; a context too small for that is reported, not
attempted. Prompts are text only (no images).

Tokens are counted with the backend's tokenizer when it offers one, else estimated at one token
per three characters: above what English takes with the usual tokenizers (about four characters
per token), so a prompt estimated to fit does fit. `TEMPLATE_TOKENS` more are kept free for the
chat template and special tokens the backend wraps around the text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from filmline.engine.timecode import timecode
from filmline.engine.vlm.base import Failed, GenerationSettings, VlmBackend, VlmPrompt

CHARS_PER_TOKEN = 3
TEMPLATE_TOKENS = 32
MIN_ITEM_TOKENS = 16  # a chunk must hold two items of at least this many tokens, or no summary is possible
TokenCounter = Callable[[str], int]


def token_counter(backend: VlmBackend) -> TokenCounter:
    """The backend's own count (`count_tokens`, or its Hugging Face tokenizer), else the estimate."""
    counter = getattr(backend, "count_tokens", None)
    if callable(counter):
        return counter
    tokenizer = getattr(getattr(backend, "processor", None), "tokenizer", None) or getattr(backend, "tokenizer", None)
    if callable(tokenizer):
        return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])
    return estimate_tokens


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass
class Summary:
    text: str | None
    levels: list[int] = field(default_factory=list)  # prompts per level, the last one the final prompt
    failed: int = 0
    error: str | None = None  # why there is no text

    def report(self) -> dict[str, object]:
        return {"prompts_per_level": self.levels, "failed": self.failed, "error": self.error}


@dataclass(frozen=True)
class SummaryPrompts:
    chunk: str  # with {text}
    final: str  # with {text}
    chunk_generation: GenerationSettings
    final_generation: GenerationSettings
    context_tokens: int


def pack(items: list[str], template: str, budget: int, count: TokenCounter) -> list[list[str]]:
    """`items` in order, in as few consecutive chunks as fit: count(template with a chunk) <= budget.

    Items must each fit beside the template alone (`fit_item` makes them).
    """
    chunks: list[list[str]] = []
    current: list[str] = []
    for item in items:
        if current and count(template.format(text="\n".join([*current, item]))) > budget:
            chunks.append(current)
            current = []
        current.append(item)
    if current:
        chunks.append(current)
    return chunks


def fit_item(item: str, template: str, budget: int, count: TokenCounter) -> str:
    """`item`, cut so the template holding it uses at most half the budget."""
    limit = (budget + count(template.format(text=""))) // 2 - 1  # two such items and a newline fit the budget
    if count(template.format(text=item)) <= limit:
        return item
    low, high = 0, len(item)  # the longest prefix that fits
    while low < high:
        middle = (low + high + 1) // 2
        if count(template.format(text=item[:middle] + "…")) <= limit:
            low = middle
        else:
            high = middle - 1
    return item[:low] + "…"


def summarise(backend: VlmBackend, items: list[str], prompts: SummaryPrompts, count: TokenCounter) -> Summary:
    """One summary of `items` (module docstring); failures of chunk prompts are counted and the
    summaries that did come back go on."""
    summary = Summary(None)
    if not items:
        summary.error = "nothing to summarise"
        return summary
    while True:
        final_budget = prompts.context_tokens - prompts.final_generation.max_new_tokens - TEMPLATE_TOKENS
        if count(prompts.final.format(text="\n".join(items))) <= final_budget:
            answer = backend.generate([VlmPrompt(prompts.final.format(text="\n".join(items)))], prompts.final_generation)[0]
            summary.levels.append(1)
            if isinstance(answer, Failed):
                summary.failed += 1
                summary.error = answer.error
            else:
                summary.text = answer.text.strip()
            return summary
        budget = prompts.context_tokens - prompts.chunk_generation.max_new_tokens - TEMPLATE_TOKENS
        if budget - count(prompts.chunk.format(text="")) < 2 * MIN_ITEM_TOKENS:
            summary.error = (f"summary.context_tokens ({prompts.context_tokens}) leaves no room for two items beside "
                             "the chunk prompt and its answer; raise it to the model's context length")
            return summary
        fitted = [fit_item(item, prompts.chunk, budget, count) for item in items]
        chunks = pack(fitted, prompts.chunk, budget, count)
        answers = backend.generate([VlmPrompt(prompts.chunk.format(text="\n".join(c))) for c in chunks],
                                   prompts.chunk_generation)
        summary.levels.append(len(chunks))
        items = [f"Part {k + 1}: {a.text.strip()}" for k, a in enumerate(answers) if not isinstance(a, Failed)]
        summary.failed += len(answers) - len(items)
        if not items:
            summary.error = f"every one of {len(answers)} chunk summaries failed: {answers[0].error}"
            return summary


def timed_item(start: float, end: float | None, text: str) -> str:
    """One line of a summary prompt: `[00:01:20-00:01:31] text` (or one time for a moment)."""
    span = timecode(start)[:8] + (f"-{timecode(end)[:8]}" if end is not None else "")
    return f"[{span}] {' '.join(text.split())}"

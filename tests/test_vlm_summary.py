"""Summaries of many captions: chunks fit the token budget, levels until one prompt holds them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from filmline.engine.vlm.base import GenerationSettings
from filmline.engine.vlm.openai_backend import OpenAIVlm
from filmline.engine.vlm.summary import TEMPLATE_TOKENS, SummaryPrompts, estimate_tokens, fit_item, pack, summarise, timed_item
from tests.chat_server import ChatServer, Received, Reply, chat_server, completion, error  # noqa: F401

TEMPLATE = "Summarise these parts:\n{text}\nIn a few sentences."
words = st.text(st.sampled_from("abcdefgh ,.-"), min_size=1, max_size=300)


@given(st.lists(words, min_size=1, max_size=40), st.integers(120, 600))
def test_packed_chunks_fit_keep_order_and_are_as_full_as_allowed(items: list[str], budget: int) -> None:
    fitted = [fit_item(item, TEMPLATE, budget, estimate_tokens) for item in items]
    assert all(estimate_tokens(TEMPLATE.format(text=f)) <= budget // 2 + estimate_tokens(TEMPLATE) for f in fitted)
    chunks = pack(fitted, TEMPLATE, budget, estimate_tokens)
    assert [f for chunk in chunks for f in chunk] == fitted
    for chunk, following in zip(chunks, chunks[1:] + [None]):
        assert estimate_tokens(TEMPLATE.format(text="\n".join(chunk))) <= budget
        if following:  # greedy: the next item did not fit
            assert estimate_tokens(TEMPLATE.format(text="\n".join([*chunk, following[0]]))) > budget
    assert all(len(chunk) >= 2 for chunk in chunks[:-1])  # so every level at least halves the count


def test_a_short_item_is_kept_whole_and_a_long_one_is_cut_with_a_mark() -> None:
    assert fit_item("a shot", TEMPLATE, 200, estimate_tokens) == "a shot"
    cut = fit_item("x" * 5000, TEMPLATE, 200, estimate_tokens)
    assert cut.startswith("xxx") and cut.endswith("…") and len(cut) < 400


def test_timed_items_read_like_a_timeline() -> None:
    assert timed_item(80.4, 91.0, "A man\n runs.") == "[00:01:20-00:01:31] A man runs."
    assert timed_item(3725.0, None, "A door opens.") == "[01:02:05] A door opens."


SETTINGS = GenerationSettings(max_new_tokens=60)
PROMPTS = SummaryPrompts("PART\n{text}\nSummarise this part.", "WHOLE\n{text}\nSummarise the film.",
                         SETTINGS, SETTINGS, context_tokens=400)


def test_many_captions_are_summarised_in_chunks_then_once(chat_server: ChatServer) -> None:
    chat_server.responder = lambda request, nth: completion(
        "the film ends" if request.text.startswith("WHOLE") else "a part with a chase and a fight " * 3)
    items = [timed_item(10.0 * k, 10.0 * k + 10, f"shot {k}: " + "a long description of what happens " * 2) for k in range(40)]
    summary = summarise(OpenAIVlm(chat_server.url, "m"), items, PROMPTS, estimate_tokens)
    assert summary.text == "the film ends" and summary.failed == 0
    assert len(summary.levels) == 2 and summary.levels[0] > 1 and summary.levels[1] == 1
    sent = chat_server.requests
    assert len(sent) == sum(summary.levels) and all(not r.images for r in sent)
    budget = PROMPTS.context_tokens - SETTINGS.max_new_tokens - TEMPLATE_TOKENS
    assert all(estimate_tokens(r.text) <= budget for r in sent)
    chunks = [[int(line.split("shot ")[1].split(":")[0]) for line in r.text.split("\n") if "shot " in line]
              for r in sent if r.text.startswith("PART")]  # the caption numbers in each chunk (sent concurrently)
    assert sorted(number for chunk in chunks for number in chunk) == list(range(40))  # each caption once
    assert all(chunk == list(range(chunk[0], chunk[-1] + 1)) for chunk in chunks)  # consecutive, in order


def test_few_captions_need_one_prompt(chat_server: ChatServer) -> None:
    chat_server.responder = lambda request, nth: completion("short")
    summary = summarise(OpenAIVlm(chat_server.url, "m"), ["[00:00:00-00:00:05] a dog"], PROMPTS, estimate_tokens)
    assert (summary.text, summary.levels) == ("short", [1])
    assert chat_server.requests[0].text.startswith("WHOLE") and "a dog" in chat_server.requests[0].text


def test_failed_chunks_are_counted_and_the_rest_go_on(chat_server: ChatServer) -> None:
    def responder(request: Received, nth: int) -> Reply:
        if request.text.startswith("WHOLE"):
            return completion("what is left")
        return error(400, "too long") if "shot 0:" in request.text else completion("a part")

    chat_server.responder = responder
    items = [f"shot {k}: " + "words " * 60 for k in range(12)]
    summary = summarise(OpenAIVlm(chat_server.url, "m", max_retries=0), items, PROMPTS, estimate_tokens)
    assert summary.text == "what is left" and summary.failed == 1 and summary.levels[0] > 1


def test_nothing_to_summarise_sends_nothing(chat_server: ChatServer) -> None:
    summary = summarise(OpenAIVlm(chat_server.url, "m"), [], PROMPTS, estimate_tokens)
    assert summary.text is None and summary.error and not chat_server.requests


@pytest.mark.parametrize("broken", ["{text} only once", "no placeholder"])
def test_prompts_without_their_placeholder_are_refused_when_loaded(broken: str, tmp_path) -> None:
    import yaml

    from filmline.engine.errors import BadInputError
    from filmline.engine.vlm.config import VlmConfig, read_config

    raw = read_config("vlm.yaml")
    raw["summary"]["final_prompt"] = broken
    path = tmp_path / "vlm.yaml"
    path.write_text(yaml.safe_dump(raw))
    if "{text}" in broken:
        assert VlmConfig.load(path).final_prompt == broken
    else:
        with pytest.raises(BadInputError, match="final_prompt must contain"):
            VlmConfig.load(path)


def test_a_context_too_small_for_two_items_ends_with_the_fix(chat_server: ChatServer) -> None:
    """No level could shrink the list: the summary says which setting to raise instead of looping."""
    chat_server.responder = lambda request, nth: completion("a part")
    tiny = SummaryPrompts(PROMPTS.chunk, PROMPTS.final, PROMPTS.chunk_generation, PROMPTS.final_generation,
                          context_tokens=PROMPTS.chunk_generation.max_new_tokens + TEMPLATE_TOKENS + 12)
    summary = summarise(OpenAIVlm(chat_server.url, "m"), ["shot: " + "words " * 30] * 3, tiny, estimate_tokens)
    assert summary.text is None and "summary.context_tokens" in summary.error and not chat_server.requests

"""The answer cache: what it keys on, that failures are never stored, and where the file lives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from filmline.engine.vlm.base import Failed, GenerationSettings, Generated, Scored, VlmPrompt
from filmline.engine.vlm.cache import CACHE_FILE, AnswerCache, CachedVlm
from filmline.engine.vlm.openai_backend import OpenAIVlm
from tests.chat_server import ChatServer, chat_server, completion, error  # noqa: F401

IMAGE = np.full((8, 12, 3), 100, dtype=np.uint8)
SETTINGS = GenerationSettings(max_new_tokens=10)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def cached(server: ChatServer, model: str = "m") -> CachedVlm:
    return CachedVlm(OpenAIVlm(server.url, model, max_retries=0), AnswerCache())


def test_the_same_question_is_answered_once(chat_server: ChatServer, home: Path) -> None:
    chat_server.responder = lambda request, nth: completion(f"answer {nth}", completion_tokens=3)
    prompts = [VlmPrompt("what?", (IMAGE,)), VlmPrompt("and?", (IMAGE,))]
    first = cached(chat_server).generate(prompts, SETTINGS)
    again = cached(chat_server)  # a new run: a fresh backend and connection to the file
    assert again.generate(prompts, SETTINGS) == first == [Generated("answer 0", 3)] * 2
    assert len(chat_server.requests) == 2 and again.stats == {"hits": 2, "misses": 0}
    assert (home / CACHE_FILE).is_file()


@pytest.mark.parametrize("change", ["pixels", "text", "settings", "model"])
def test_any_input_that_can_change_the_answer_misses(chat_server: ChatServer, home: Path, change: str) -> None:
    backend = cached(chat_server)
    backend.generate([VlmPrompt("what?", (IMAGE,))], SETTINGS)
    image, text, settings = IMAGE.copy(), "what?", SETTINGS
    if change == "pixels":
        image[0, 0, 0] += 1
    elif change == "text":
        text = "what now?"
    elif change == "settings":
        settings = GenerationSettings(max_new_tokens=11)
    else:
        backend = cached(chat_server, model="other")
    backend.generate([VlmPrompt(text, (image,))], settings)
    assert len(chat_server.requests) == 2


def test_a_throughput_setting_does_not_miss(chat_server: ChatServer, home: Path) -> None:
    """Another --vlm-concurrency changes the speed, not the answers: the rerun is free."""
    prompt = VlmPrompt("what?", (IMAGE,))
    cached(chat_server).generate([prompt], SETTINGS)
    faster = CachedVlm(OpenAIVlm(chat_server.url, "m", max_retries=0, concurrency=2), AnswerCache())
    faster.generate([prompt], SETTINGS)
    assert len(chat_server.requests) == 1 and faster.stats == {"hits": 1, "misses": 0}


def test_failures_are_not_stored_so_a_rerun_asks_again(chat_server: ChatServer, home: Path) -> None:
    chat_server.responder = lambda request, nth: error(400, "no") if nth == 0 else completion("yes")
    prompt = VlmPrompt("what?", (IMAGE,))
    assert isinstance(cached(chat_server).generate([prompt], SETTINGS)[0], Failed)
    assert cached(chat_server).generate([prompt], SETTINGS)[0].text == "yes"
    assert cached(chat_server).generate([prompt], SETTINGS)[0].text == "yes"
    assert len(chat_server.requests) == 2


def test_scores_are_cached_per_candidate_list(chat_server: ChatServer, home: Path) -> None:
    chat_server.responder = lambda request, nth: completion("A", top_logprobs=[("A", -0.1), ("B", -2.5)])
    prompt = VlmPrompt("pick", (IMAGE,))
    first = cached(chat_server).score([prompt], ["A", "B"])
    assert cached(chat_server).score([prompt], ["A", "B"]) == first and isinstance(first[0], Scored)
    cached(chat_server).score([prompt], ["A", "C"])
    assert len(chat_server.requests) == 2


def test_progress_counts_answers_from_the_cache_too(chat_server: ChatServer, home: Path) -> None:
    prompts = [VlmPrompt(f"q{k}") for k in range(3)]
    cached(chat_server).generate(prompts[:2], SETTINGS)
    done: list[int] = []
    cached(chat_server).generate(prompts, SETTINGS, done.append)
    assert sum(done) == 3

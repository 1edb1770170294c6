"""The OpenAI-compatible HTTP backend against a real chat-completions server on localhost."""

from __future__ import annotations

import math

import numpy as np
import pytest

from filmline.engine.errors import BadInputError, MissingModelError
from filmline.engine.vlm.base import Failed, Generated, GenerationSettings, Scored, ScoringUnavailable, VlmPrompt
from filmline.engine.vlm.openai_backend import OpenAIVlm, first_token_scores
from tests.chat_server import ChatServer, Reply, chat_server, closed_port, completion, error  # noqa: F401 (fixture)

SETTINGS = GenerationSettings(max_new_tokens=16, temperature=0.0, top_p=0.9)
LABELS = ["Fight", "Heist", "none"]


def backend(server: ChatServer, **options) -> OpenAIVlm:
    options = {"backoff_s": 0.01, "timeout_s": 5.0, **options}
    return OpenAIVlm(server.url, "test-model", **options)


def prompts(*texts: str) -> list[VlmPrompt]:
    return [VlmPrompt(text) for text in texts]


def split_image(height: int, width: int) -> np.ndarray:
    """Red top half, blue bottom half: a swap of channels or of axes shows."""
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2, :, 0] = 220
    image[height // 2:, :, 2] = 200
    return image


def test_images_arrive_as_jpegs_of_the_sent_size_before_the_question(chat_server: ChatServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    images = (split_image(48, 64), split_image(30, 20))
    results = backend(chat_server).generate([VlmPrompt("what happens?", images)], SETTINGS)

    assert results == [Generated("saw 2 image(s): what happens?", tokens=5)]
    (request,) = chat_server.requests
    assert request.image_formats == ("JPEG", "JPEG")
    for sent, received in zip(images, request.images):
        assert received.shape == sent.shape
        assert np.abs(received.astype(int) - sent).mean() < 6
    body = request.body
    assert [part["type"] for part in body["messages"][0]["content"]] == ["image_url", "image_url", "text"]
    assert (body["model"], body["max_tokens"], body["temperature"], body["top_p"]) == ("test-model", 16, 0.0, 0.9)
    assert request.headers["Authorization"] == "Bearer sk-from-env"


def test_api_key_argument_wins_over_the_environment(chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    backend(chat_server, api_key="sk-arg").generate(prompts("q"), SETTINGS)
    assert chat_server.requests[0].headers["Authorization"] == "Bearer sk-arg"


def test_concurrency_limit_holds_and_answers_keep_the_prompts_order(chat_server: ChatServer) -> None:
    questions = [f"q{i}" for i in range(12)]
    # later questions answer sooner, so completion order differs from the prompts' order
    chat_server.responder = lambda request, nth: Reply(
        body=completion(f"a{request.text}").body, delay_s=0.02 * (12 - int(request.text[1:])))
    finished = []
    vlm = backend(chat_server, concurrency=3)
    results = vlm.generate(prompts(*questions), SETTINGS, on_progress=finished.append)

    assert chat_server.max_in_flight == 3
    assert [result.text for result in results] == [f"aq{i}" for i in range(12)]
    assert finished == [1] * 12
    assert vlm.stats["requests"] == 12 and vlm.stats["generated_tokens"] == 12


def test_retries_recover_from_500s_429_and_a_dropped_connection(chat_server: ChatServer) -> None:
    faults = {"five": [error(500, "boom"), error(503, "busy")],
              "many": [error(429, "slow down", retry_after="0")],
              "drop": [Reply(drop=True)]}

    def responder(request, nth):
        script = faults.get(request.text, [])
        return script[nth] if nth < len(script) else completion("ok")

    chat_server.responder = responder
    vlm = backend(chat_server)
    results = vlm.generate(prompts("five", "many", "drop", "fine"), SETTINGS)

    assert results == [Generated("ok", 1)] * 4
    assert [chat_server.count(text) for text in ("five", "many", "drop", "fine")] == [3, 2, 2, 1]
    assert vlm.stats["retries"] == 4 and vlm.stats["failed"] == 0


def test_retry_after_is_honoured(chat_server: ChatServer) -> None:
    chat_server.responder = lambda request, nth: error(429, "later", retry_after="1") if nth == 0 else completion("ok")
    assert backend(chat_server).generate(prompts("q"), SETTINGS) == [Generated("ok", 1)]
    first, second = chat_server.requests
    assert second.at - first.at >= 0.9  # backoff alone would have waited ~0.01 s


def test_a_request_that_keeps_failing_is_failed_with_its_attempts_while_the_others_answer(chat_server: ChatServer) -> None:
    chat_server.responder = lambda request, nth: error(500, "model crashed") if request.text == "bad" else completion("ok")
    vlm = backend(chat_server, max_retries=2)
    results = vlm.generate(prompts("a", "bad", "b"), SETTINGS)

    assert results[0] == results[2] == Generated("ok", 1)
    assert isinstance(results[1], Failed)
    assert "after 3 attempts: HTTP 500: model crashed" in results[1].error
    assert chat_server.count("bad") == 3
    assert (vlm.stats["requests"], vlm.stats["failed"]) == (3, 1)


def test_client_errors_are_not_retried(chat_server: ChatServer) -> None:
    chat_server.responder = lambda request, nth: error(404, "model 'x' does not exist")
    (result,) = backend(chat_server).generate(prompts("q"), SETTINGS)
    assert isinstance(result, Failed) and "after 1 attempt: HTTP 404: model 'x' does not exist" in result.error
    assert chat_server.count("q") == 1


def test_an_answer_slower_than_the_timeout_is_retried_then_failed(chat_server: ChatServer) -> None:
    slow = Reply(body=completion("late").body, delay_s=1.0)
    chat_server.responder = lambda request, nth: slow if request.text == "always" or nth == 0 else completion("ok")
    results = backend(chat_server, timeout_s=0.2, max_retries=1).generate(prompts("once", "always"), SETTINGS)

    assert results[0] == Generated("ok", 1)
    assert isinstance(results[1], Failed) and "after 2 attempts: no answer within 0.2 s" in results[1].error


def test_an_unreachable_server_fails_the_remaining_requests_fast_and_is_probed_again() -> None:
    port = closed_port()
    vlm = OpenAIVlm(f"http://127.0.0.1:{port}/v1", "test-model", concurrency=4, max_retries=3, backoff_s=0.01)
    results = vlm.generate(prompts(*(f"q{i}" for i in range(40))), SETTINGS)

    assert all(isinstance(result, Failed) for result in results)
    waited = [result for result in results if "after 4 attempts" in result.error]
    not_sent = [result for result in results if "not sent" in result.error]
    assert 1 <= len(waited) <= 4 and len(waited) + len(not_sent) >= 36  # only the first wave waited out its retries
    assert "could not be reached" in not_sent[0].error and "--vlm-url" in not_sent[0].error

    server = ChatServer(port=port).start()  # the server comes up: the next call probes it and goes ahead
    try:
        assert vlm.generate(prompts("again"), SETTINGS) == [Generated("saw 0 image(s): again", 4)]
    finally:
        server.stop()


def test_scores_come_from_the_first_tokens_top_logprobs(chat_server: ChatServer) -> None:
    top = [(" Fight", -0.5), ("fight", -2.0), ("\u2581Heist", -3.0), ("F", -4.0), ("the", -5.0)]
    chat_server.responder = lambda request, nth: completion("Fight", top_logprobs=top)
    vlm = backend(chat_server, top_logprobs=5)
    (scored,) = vlm.score(prompts("which action?"), LABELS)

    body = chat_server.requests[0].body
    assert (body["max_tokens"], body["logprobs"], body["top_logprobs"]) == (1, True, 5)
    listed = [math.exp(logprob) for _, logprob in top]
    assert isinstance(scored, Scored)
    assert scored.logprobs[0] == pytest.approx(math.log(listed[0] + listed[1] + listed[3]))
    assert scored.logprobs[1] == pytest.approx(-3.0)
    assert scored.logprobs[2] == pytest.approx(-5.0)  # "none": no listed token; at most the least likely one
    assert vlm.describe()["exact_scores"] is False


def test_unmatched_candidates_share_the_remaining_mass_when_it_is_smaller() -> None:
    top = [("Yes", -0.01), ("No", -4.7)]
    remaining = 1 - math.exp(-0.01) - math.exp(-4.7)
    assert first_token_scores(top, ["yes", "no", "maybe", "unsure"]) == pytest.approx(
        (-0.01, -4.7, math.log(remaining / 2), math.log(remaining / 2)))


def test_scoring_is_unavailable_when_the_server_gives_no_logprobs(chat_server: ChatServer) -> None:
    chat_server.responder = lambda request, nth: completion("Fight")
    vlm = backend(chat_server)
    with pytest.raises(ScoringUnavailable, match="without top_logprobs"):
        vlm.score(prompts("a", "b", "c"), LABELS)
    sent = len(chat_server.requests)
    with pytest.raises(ScoringUnavailable):  # known now: no second round of requests
        vlm.score(prompts("d"), LABELS)
    assert len(chat_server.requests) == sent and vlm.gives_logprobs is False
    assert vlm.generate(prompts("e"), SETTINGS) == [Generated("Fight", 1)]


def test_scoring_is_unavailable_when_the_server_rejects_logprobs(chat_server: ChatServer) -> None:
    chat_server.responder = lambda request, nth: error(400, "logprobs is not supported for this model")
    with pytest.raises(ScoringUnavailable, match="rejected logprobs"):
        backend(chat_server).score(prompts("a"), LABELS)


def test_candidates_one_first_token_cannot_tell_apart_are_refused(chat_server: ChatServer) -> None:
    with pytest.raises(ValueError, match="'Fight' and 'fire'"):
        backend(chat_server).score(prompts("a"), ["Fight", "Heist", "fire"])
    assert chat_server.requests == []


def test_the_server_is_checked_once_without_sending_work(chat_server: ChatServer) -> None:
    backend(chat_server).check_server()
    assert chat_server.requests == []  # GET /models only: no question was asked
    with pytest.raises(MissingModelError, match=r"does not serve the model 'llava' \(it serves test-model\); .*--vlm-model"):
        OpenAIVlm(chat_server.url, "llava").check_server()


def test_a_server_that_is_down_fails_the_check_in_one_line() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(MissingModelError) as caught:
        OpenAIVlm(url, "test-model").check_server()
    message = str(caught.value)
    assert url in message and "does not answer" in message and "--vlm-url" in message and "\n" not in message


def test_describe_names_the_server_without_credentials() -> None:
    vlm = OpenAIVlm("http://user:secret@127.0.0.1:8000/v1/", "llava", concurrency=5)
    assert vlm.describe() == {"backend": "openai", "model": "llava", "logprobs": True, "exact_scores": False,
                              "url": "http://127.0.0.1:8000/v1", "concurrency": 5}


@pytest.mark.parametrize("url", ["127.0.0.1:8000/v1", "ftp://host/v1", "http://host:port/v1"])
def test_a_url_that_is_not_http_is_a_bad_input(url: str) -> None:
    with pytest.raises(BadInputError, match="--vlm-url"):
        OpenAIVlm(url, "llava")

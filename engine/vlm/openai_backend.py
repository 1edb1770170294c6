"""An OpenAI-compatible chat-completions server as the vision-language model.

trtllm-serve, vLLM and SGLang all expose `POST /v1/chat/completions` with `image_url` content
parts, so one client serves the three (`--vlm openai --vlm-url http://HOST:PORT/v1 --vlm-model NAME`).
Only the standard library speaks HTTP here; Pillow encodes the images as base64 JPEG data URLs.

Opening checks the server with one `GET {url}/models` (`check_server`), so a server that is down,
or does not serve the model, stops the run before any video is decoded. Requests run
`concurrency` at a time. An attempt that fails in a way another attempt can fix
(429, 5xx, a timeout, a dropped or refused connection) is retried with exponential backoff and
jitter, honouring `Retry-After`; other 4xx answers are not retried. A request that still fails
becomes `Failed` in its slot. When one request has been refused on every attempt and the server
answered nobody meanwhile, the server is taken as down: the remaining requests fail at once
instead of each waiting out its retries, and the next call probes `GET {url}/models` once
before trusting the server again.

Scoring: a chat completion cannot score a given continuation, so `score` asks for one token with
its `top_logprobs` and reads the candidates off that first token (see `first_token_scores`);
`exact_scores` is False.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import math
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from filmline.engine.errors import BadInputError, MissingModelError
from filmline.engine.vlm.base import (
    Failed,
    Generated,
    GenerationSettings,
    Progress,
    Scored,
    ScoringUnavailable,
    VlmBackend,
    VlmPrompt,
)

JPEG_QUALITY = 90
MAX_WAIT_S = 60.0  # the longest single wait between two attempts, Retry-After included
CHECK_TIMEOUT_S = 10.0  # the check at open: a server that is up answers /models at once
MAX_TOP_LOGPROBS = 20  # OpenAI's limit, and vLLM's default --max-logprobs
MIN_PROBABILITY = 1e-12  # keeps every score finite (log ≈ -27.6)
_WORD_START = " \t\n\u2581\u0120"  # what a first token may carry before the word: spaces, SentencePiece's ▁, GPT-2's Ġ


class _Retry(Exception):
    """An attempt failed in a way another attempt may fix."""

    def __init__(self, reason: str, *, wait_s: float | None = None, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait_s = wait_s  # the server's Retry-After, when it sent one
        self.unreachable = unreachable  # no connection could be made at all


class _GiveUp(Exception):
    """An attempt failed in a way another attempt will not fix (a 4xx other than 429)."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class OpenAIVlm(VlmBackend):
    """A model behind an OpenAI-compatible `/chat/completions` endpoint."""

    name = "openai"

    def __init__(self, url: str, model: str, *, concurrency: int = 8, timeout_s: float = 120.0,
                 max_retries: int = 4, backoff_s: float = 0.5, api_key: str | None = None,
                 logprobs: bool = True, top_logprobs: int = MAX_TOP_LOGPROBS) -> None:
        super().__init__(model=model, gives_logprobs=logprobs, exact_scores=False)
        self.stats["retries"] = 0
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadInputError(f"--vlm-url {url!r} is not an http(s) URL; give the server's base, e.g. http://HOST:8000/v1")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise BadInputError(f"--vlm-url {url!r} has no valid port; give the server's base, "
                                "e.g. http://HOST:8000/v1") from None
        for label, value, valid in (("concurrency", concurrency, concurrency >= 1),
                                    ("timeout", timeout_s, timeout_s > 0),
                                    ("retries", max_retries, max_retries >= 0),
                                    ("backoff", backoff_s, backoff_s >= 0),
                                    ("top logprobs", top_logprobs, 1 <= top_logprobs <= MAX_TOP_LOGPROBS)):
            if not valid:
                raise BadInputError(f"VLM server {label} {value!r} is out of range (concurrency >= 1, timeout > 0, "
                                    f"retries >= 0, backoff >= 0, top logprobs 1..{MAX_TOP_LOGPROBS})")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, port
        self._path = parts.path.rstrip("/")
        host = f"[{self._host}]" if ":" in self._host else self._host
        self.url = f"{parts.scheme}://{host}:{port}{self._path}"  # no credentials, no query
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.top_logprobs = top_logprobs
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._lock = threading.Lock()
        self._answers = 0  # HTTP answers of any status: proof that the server is there
        self._down: str | None = None  # why the server is taken as unreachable
        self._no_logprobs = "" if logprobs else "log-probabilities are switched off for this backend (logprobs=False)"

    # -- the two questions -------------------------------------------------------------------

    def generate(self, prompts: Sequence[VlmPrompt], settings: GenerationSettings,
                 on_progress: Progress | None = None) -> list[Generated | Failed]:
        def ask(prompt: VlmPrompt) -> Generated | Failed:
            answer = self._request(self._payload(prompt, max_tokens=settings.max_new_tokens,
                                                 temperature=settings.temperature, top_p=settings.top_p))
            if isinstance(answer, Failed):
                return answer
            try:
                text = answer["choices"][0]["message"]["content"] or ""
            except (KeyError, IndexError, TypeError):
                return Failed(f"{self.url}/chat/completions answered without choices[0].message.content")
            usage = answer.get("usage") or {}
            return Generated(text=str(text).strip(), tokens=int(usage.get("completion_tokens") or 0))

        return self._run(prompts, ask, on_progress)

    def score(self, prompts: Sequence[VlmPrompt], candidates: Sequence[str],
              on_progress: Progress | None = None) -> list[Scored | Failed]:
        """Approximate log P(candidate) from the first answer token's top log-probabilities."""
        check_candidates(candidates)
        if not self.gives_logprobs:
            raise ScoringUnavailable(self._no_logprobs)

        def ask(prompt: VlmPrompt) -> Scored | Failed:
            if not self.gives_logprobs:  # another request found out meanwhile
                raise ScoringUnavailable(self._no_logprobs)
            answer = self._request(self._payload(prompt, max_tokens=1, temperature=0.0, top_p=1.0,
                                                 logprobs=True, top_logprobs=self.top_logprobs))
            if isinstance(answer, Failed):
                return answer
            top = _first_token_top_logprobs(answer)
            if not top:
                self._scoring_unavailable("answered without top_logprobs")
            return Scored(first_token_scores(top, candidates))

        return self._run(prompts, ask, on_progress)

    def check_server(self) -> None:
        """One `GET {url}/models`, no retries: a `MissingModelError` when nothing answers, or when
        the server lists its models and this one is not among them (any other HTTP answer will do:
        not every server lists its models)."""
        try:
            status, _, data = self._exchange("GET", f"{self._path}/models", None, timeout_s=CHECK_TIMEOUT_S)
        except _Retry as err:
            raise MissingModelError(f"the vision-language server {self.url} does not answer ({err.reason}); "
                                    "start it (trtllm-serve, vLLM, SGLang) or fix --vlm-url") from None
        served = _served_models(data) if status == 200 else []
        if served and self.model not in served:
            raise MissingModelError(f"{self.url} does not serve the model {self.model!r} (it serves "
                                    f"{', '.join(served)}); pass one of those with --vlm-model")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "url": self.url, "concurrency": self.concurrency}

    # -- concurrency -------------------------------------------------------------------------

    def _run(self, prompts: Sequence[VlmPrompt], ask: Callable[[VlmPrompt], Any],
             on_progress: Progress | None) -> list[Any]:
        """`ask` every prompt, `concurrency` at a time; results in the prompts' order."""
        self._probe_if_down()
        results: list[Any] = [None] * len(prompts)
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="vlm-openai")
        try:
            slots = {pool.submit(ask, prompt): index for index, prompt in enumerate(prompts)}
            for future in as_completed(slots):
                result = future.result()  # ScoringUnavailable (and bugs) end the call here
                results[slots[future]] = result
                self.stats["requests"] += 1
                if isinstance(result, Failed):
                    self.stats["failed"] += 1
                elif isinstance(result, Generated):
                    self.stats["generated_tokens"] += result.tokens
                if on_progress is not None:
                    on_progress(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return results

    # -- one request, with retries -----------------------------------------------------------

    def _request(self, payload: dict[str, Any]) -> dict[str, Any] | Failed:
        where = f"POST {self.url}/chat/completions"
        body = json.dumps(payload).encode("utf-8")
        answers_before = self._answers
        every_attempt_unreachable = True
        last = ""  # the last retryable failure
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            if self._down is not None:
                if attempt == 1:
                    return Failed(f"{where} not sent: {self._down}")
                return Failed(f"{where} failed after {_count(attempt - 1)}: {last}; {self._down}")
            try:
                return self._post(body)
            except _GiveUp as err:
                if err.status == 400 and payload.get("logprobs") and "logprob" in err.reason.lower():
                    self._scoring_unavailable(f"rejected logprobs ({err.reason})")
                return Failed(f"{where} failed after {_count(attempt)}: {err.reason}")
            except _Retry as err:
                last = err.reason
                every_attempt_unreachable &= err.unreachable
                if attempt < attempts:
                    with self._lock:
                        self.stats["retries"] += 1
                    time.sleep(self._wait_s(attempt, err.wait_s))
        if every_attempt_unreachable and self._answers == answers_before:
            with self._lock:
                self._down = (f"{self.url} could not be reached on any of {attempts} attempts ({last}); "
                              "start the server (trtllm-serve, vLLM, SGLang) or fix --vlm-url")
        return Failed(f"{where} failed after {_count(attempts)}: {last}")

    def _wait_s(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with up to 25 % jitter, at least the server's Retry-After."""
        backoff = min(MAX_WAIT_S, self.backoff_s * 2 ** (attempt - 1)) * (1 + 0.25 * random.random())
        return max(backoff, min(retry_after, MAX_WAIT_S)) if retry_after is not None else backoff

    def _probe_if_down(self) -> None:
        """A server taken as down gets one `GET /models` per call; any HTTP answer clears it."""
        if self._down is None:
            return
        try:
            self._exchange("GET", f"{self._path}/models", None)
        except _Retry:
            return
        self._down = None

    # -- one attempt -------------------------------------------------------------------------

    def _post(self, body: bytes) -> dict[str, Any]:
        status, headers, data = self._exchange("POST", f"{self._path}/chat/completions", body)
        message = _error_message(data)
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}: {message}", wait_s=_retry_after_s(headers.get("Retry-After")))
        if status != 200:
            raise _GiveUp(f"HTTP {status}: {message}", status)
        try:
            answer = json.loads(data)
        except ValueError:
            raise _GiveUp(f"HTTP 200 with a body that is not JSON: {message}", status) from None
        if not isinstance(answer, dict):
            raise _GiveUp(f"HTTP 200 with a body that is not a JSON object: {message}", status)
        return answer

    def _exchange(self, method: str, path: str, body: bytes | None,
                  timeout_s: float | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One HTTP exchange on a fresh connection; connection-level failures become `_Retry`."""
        connection_type = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        timeout_s = timeout_s or self.timeout_s
        connection = connection_type(self._host, self._port, timeout=timeout_s)
        try:
            try:
                connection.connect()
            except OSError as err:  # refused, no route, unknown host, connect timeout
                raise _Retry(f"cannot connect ({_describe(err)})", unreachable=True) from None
            try:
                connection.request(method, path, body=body, headers=self._headers)
                response = connection.getresponse()
                data = response.read()
            except TimeoutError:
                raise _Retry(f"no answer within {timeout_s:g} s") from None
            except (http.client.HTTPException, OSError) as err:
                raise _Retry(f"connection dropped ({_describe(err)})") from None
        finally:
            connection.close()
        with self._lock:
            self._answers += 1
        return response.status, response.headers, data

    # -- payloads ----------------------------------------------------------------------------

    def _payload(self, prompt: VlmPrompt, **options: Any) -> dict[str, Any]:
        content: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": jpeg_data_url(image)}} for image in prompt.images
        ]
        content.append({"type": "text", "text": prompt.text})
        return {"model": self.model, "messages": [{"role": "user", "content": content}], **options}

    def _scoring_unavailable(self, what: str) -> None:
        self._no_logprobs = (f"{self.url} {what}; the tasks ask for a constrained answer instead "
                             "(vLLM and trtllm-serve give logprobs when asked)")
        self.gives_logprobs = False  # after the message: a request that sees False raises with it
        raise ScoringUnavailable(self._no_logprobs)


def _served_models(data: bytes) -> list[str]:
    """The model ids of an OpenAI `/models` answer (`{"data": [{"id": ...}, ...]}`); [] when
    the answer does not have that shape."""
    try:
        listed = json.loads(data).get("data")
        return [str(entry["id"]) for entry in listed if isinstance(entry, dict) and "id" in entry]
    except (ValueError, AttributeError, TypeError):
        return []


def jpeg_data_url(image: np.ndarray) -> str:
    """A uint8 RGB `[H, W, 3]` image as a `data:image/jpeg;base64,...` URL."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"images must be RGB [H, W, 3], got shape {image.shape}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def check_candidates(candidates: Sequence[str]) -> None:
    """Candidates must start with different letters: a first token tells them apart only then.

    A tokenizer may emit just the first letter as the first token, so "Fight" and "Fire" could
    share every listed first token; with distinct first letters any token (a non-empty prefix)
    names at most one candidate.
    """
    if not candidates:
        raise ValueError("no candidates to score")
    first: dict[str, str] = {}
    for candidate in candidates:
        key = candidate.strip().lower()
        if not key:
            raise ValueError(f"candidate {candidate!r} is empty")
        if key[0] in first:
            raise ValueError(f"candidates {first[key[0]]!r} and {candidate!r} start with the same letter, so an "
                             "OpenAI-compatible server's first-token log-probabilities cannot tell them apart; "
                             "reword one of them")
        first[key[0]] = candidate


def first_token_scores(top: Sequence[tuple[str, float]], candidates: Sequence[str]) -> tuple[float, ...]:
    """Approximate log P(candidate) from the first answer token's top log-probabilities.

    A candidate scores the log of the summed probability of the listed tokens that, with leading
    spaces stripped (and the word-start marks ▁ and Ġ of servers that send raw tokenizer pieces),
    are a non-empty case-insensitive prefix of it (`check_candidates` makes that
    at most one candidate per token). A candidate no listed token matches gets the most it could
    have: the unlisted tokens share the remaining mass R = 1 - sum(listed), and none of them is
    more likely than the least likely listed token, so log(min(p_min, R / m)) with m such
    candidates. Every probability is floored at 1e-12 so scores stay finite.
    """
    keys = [candidate.strip().lower() for candidate in candidates]
    mass = [0.0] * len(keys)
    matched = [False] * len(keys)
    for token, logprob in top:
        stem = token.lstrip(_WORD_START).lower()
        for index, key in enumerate(keys):
            if stem and key.startswith(stem):
                mass[index] += math.exp(logprob)
                matched[index] = True
    listed = [math.exp(logprob) for _, logprob in top]
    unmatched = matched.count(False)
    if unmatched:
        bound = min(min(listed), max(1.0 - sum(listed), 0.0) / unmatched)
        mass = [m if hit else bound for m, hit in zip(mass, matched)]
    return tuple(math.log(max(m, MIN_PROBABILITY)) for m in mass)


def _first_token_top_logprobs(answer: dict[str, Any]) -> list[tuple[str, float]]:
    """`choices[0].logprobs.content[0].top_logprobs` as (token, logprob) pairs; empty when absent."""
    try:
        top = answer["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        return [(str(entry["token"]), float(entry["logprob"])) for entry in top
                if math.isfinite(float(entry["logprob"]))]
    except (KeyError, IndexError, TypeError, ValueError):
        return []


def _error_message(data: bytes) -> str:
    """The server's error message on one line (OpenAI, vLLM and plain-text shapes)."""
    text = data.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        error = parsed.get("error")
        message = error.get("message") if isinstance(error, dict) else error or parsed.get("message") or parsed.get("detail")
        if message:
            text = str(message)
    text = " ".join(text.split())
    return (text[:197] + "...") if len(text) > 200 else text or "(empty body)"


def _retry_after_s(value: str | None) -> float | None:
    """Retry-After in seconds (a number of seconds, or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _count(attempts: int) -> str:
    return f"{attempts} attempt" + ("" if attempts == 1 else "s")

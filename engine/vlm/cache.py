"""Answers already paid for: an SQLite file under ENGINE_HOME (`vlm-cache.sqlite`).

The key is the model's identity (the backend's `describe()`, plus the names, sizes and times of
a local model folder's files, so rebuilt weights miss), the kind of question (generate or score),
the generation settings or the candidates, and the prompt's fingerprint (its text and the
images' pixels). Only answers are stored, never failures, so a rerun retries what failed and
costs nothing for the rest. Generation is greedy by default, which makes a stored answer the one
the model would give again; with a temperature above 0 the cache still returns the first one.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Sequence

from filmline.engine.errors import OutputError
from filmline.engine.home import engine_home
from filmline.engine.vlm.base import Failed, Generated, GenerationSettings, Progress, Scored, VlmBackend, VlmPrompt

CACHE_FILE = "vlm-cache.sqlite"
_THROUGHPUT_ONLY = {"concurrency", "batch_size"}  # facts of `describe()` that change speed, not answers


class AnswerCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or engine_home() / CACHE_FILE
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0)
            self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.commit()
        except (OSError, sqlite3.Error) as err:
            raise OutputError(f"cannot open the VLM answer cache {self.path}: {err}; set ENGINE_HOME to a writable folder") from err

    def get(self, keys: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(keys), 500):  # SQLite's limit on bound parameters
            part = list(keys[start : start + 500])
            marks = ",".join("?" * len(part))
            for key, value in self._db.execute(f"SELECT key, value FROM answers WHERE key IN ({marks})", part):
                found[key] = json.loads(value)
        return found

    def put(self, entries: dict[str, Any]) -> None:
        if entries:
            self._db.executemany("INSERT OR REPLACE INTO answers (key, value) VALUES (?, ?)",
                                 [(k, json.dumps(v)) for k, v in entries.items()])
            self._db.commit()

    def close(self) -> None:
        self._db.close()


def model_identity(backend: VlmBackend) -> str:
    """What makes two backends give the same answers (module docstring)."""
    facts = {k: v for k, v in backend.describe().items() if k not in _THROUGHPUT_ONLY}
    identity: dict[str, Any] = {"describe": facts}
    folder = Path(backend.model)
    if folder.is_dir():
        identity["files"] = sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                                   for p in folder.rglob("*") if p.is_file())
    return json.dumps(identity, sort_keys=True, default=str)


class CachedVlm(VlmBackend):
    """`backend` behind the cache: same interface, only the misses reach it."""

    name = "cached"

    def __init__(self, backend: VlmBackend, cache: AnswerCache) -> None:
        super().__init__(model=backend.model, gives_logprobs=backend.gives_logprobs, exact_scores=backend.exact_scores)
        self.backend = backend
        self.cache = cache
        self.stats = {"hits": 0, "misses": 0}
        self._identity = model_identity(backend)

    def generate(self, prompts: Sequence[VlmPrompt], settings: GenerationSettings,
                 on_progress: Progress | None = None) -> list[Generated | Failed]:
        question = ["generate", settings.max_new_tokens, settings.temperature, settings.top_p]

        def ask(missing: list[VlmPrompt]) -> list[Generated | Failed]:
            return self.backend.generate(missing, settings, on_progress)

        return self._answer(prompts, question, ask, lambda v: Generated(v["text"], v["tokens"]),
                            lambda a: {"text": a.text, "tokens": a.tokens}, on_progress)

    def score(self, prompts: Sequence[VlmPrompt], candidates: Sequence[str],
              on_progress: Progress | None = None) -> list[Scored | Failed]:
        def ask(missing: list[VlmPrompt]) -> list[Scored | Failed]:
            return self.backend.score(missing, candidates, on_progress)

        return self._answer(prompts, ["score", list(candidates)], ask, lambda v: Scored(tuple(v["logprobs"])),
                            lambda a: {"logprobs": list(a.logprobs)}, on_progress)

    def describe(self) -> dict[str, Any]:
        return self.backend.describe()

    def close(self) -> None:
        self.backend.close()

    def _answer(self, prompts, question, ask, load, dump, on_progress) -> list:
        keys = [self._key(question, prompt) for prompt in prompts]
        stored = self.cache.get(keys)
        answers: list = [load(stored[k]) if k in stored else None for k in keys]
        missing = [i for i, a in enumerate(answers) if a is None]
        self.stats["hits"] += len(prompts) - len(missing)
        self.stats["misses"] += len(missing)
        if on_progress is not None and len(prompts) > len(missing):
            on_progress(len(prompts) - len(missing))
        if missing:
            fresh = ask([prompts[i] for i in missing])
            for i, answer in zip(missing, fresh):
                answers[i] = answer
            self.cache.put({keys[i]: dump(a) for i, a in zip(missing, fresh) if not isinstance(a, Failed)})
        return answers

    def _key(self, question: list, prompt: VlmPrompt) -> str:
        text = json.dumps([self._identity, question, prompt.fingerprint()])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

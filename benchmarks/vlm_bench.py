"""Vision-language throughput: requests/s and generated tokens/s per task and backend.

The prompts are the stage's own (`configs/vlm.yaml`): the action question with its key frame and
neighbours, scored over the categories (one forward per shot) and answered as a short constrained
list; the caption prompt answered in up to its token limit. Images are seeded noise at the
stage's image width (672×378 by default), as many per prompt as a key shot sends.

- transformers: the `--vlm-model` folder or hub id, or `random:SHAPE` (`benchmarks.vlm_model`),
  built into the cache once;
- openai: the server at `--vlm-url` serving `--vlm-served-model`;
- trtllm: the `--vlm-model` folder, where TensorRT-LLM is installed.
A backend that cannot run here is listed under "not measured" with the reason.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Callable

import numpy as np

from filmline.benchmarks.measure import Recorder, time_runs

RANDOM = "random:"
RANDOM_WEIGHTS = "random weights (seed 0)"
DEPENDS = ("torch", "transformers", "tensorrt_llm")


def measure_vlm(rec: Recorder, *, model: str, url: str | None, served_model: str | None, prompts: int,
                cache: Path, warmup: int, repeats: int) -> None:
    from filmline.engine.vlm.config import VlmConfig

    if prompts < 1:
        rec.skip("vlm", "this suite measures no vision-language prompts", "run --suite smoke, cpu or gpu")
        return
    config = VlmConfig.load()
    folder, weights = _resolve(model, cache)
    for name, opener in _backends(folder, url, served_model, config, rec):
        try:
            backend = opener()
        except Exception as err:  # noqa: BLE001 — whatever stops a backend here is reported, not fatal
            rec.skip(f"vlm/{name}", f"could not open ({type(err).__name__}: {err})", "check the model and the backend")
            continue
        try:
            _measure_backend(rec, backend, config, prompts, weights, warmup, repeats)
        finally:
            backend.close()


def random_weights_notes(figures: list[dict[str, Any]]) -> list[str]:
    """What the report says under vision-language figures measured on random weights."""
    shapes = sorted({f["model"]["weights"] for f in figures if f["stage"].startswith("vlm/")
                     and f["model"]["weights"].startswith(RANDOM_WEIGHTS)})
    return [f"The vision-language figures come from a LLaVA with {', '.join(shapes)}: random weights give the same "
            "arithmetic as real ones (same layers, shapes and image tokens), so the throughput holds for the real "
            "checkpoint; only where answers stop differs (a random model runs to the token limit)."] if shapes else []


def _resolve(model: str, cache: Path) -> tuple[str, str]:
    """The model folder or id to open, and how its weights are described in the report."""
    if model.startswith(RANDOM):
        from filmline.benchmarks.vlm_model import build_random_llava

        shape = model[len(RANDOM):]
        return str(build_random_llava(shape, cache / "models" / f"llava-{shape}-random")), f"{RANDOM_WEIGHTS}, {shape} shape"
    return model, f"as given ({model})"


def _backends(folder: str, url: str | None, served_model: str | None, config: Any,
              rec: Recorder) -> list[tuple[str, Callable[[], Any]]]:
    from filmline.engine.vlm import open_backend
    from filmline.engine.vlm.options import VlmOptions

    found: list[tuple[str, Callable[[], Any]]] = []

    def options(backend: str, model: str) -> VlmOptions:
        return VlmOptions(backend, True, model, url, None, (), None, None, None)

    found.append(("transformers", lambda: open_backend(options("transformers", folder), config)))
    if url and served_model:
        found.append(("openai", lambda: open_backend(options("openai", served_model), config)))
    else:
        rec.skip("vlm/openai", "no server given", "serve the model (trtllm-serve, vLLM) and pass --vlm-url URL "
                 "--vlm-served-model NAME")
    if importlib.util.find_spec("tensorrt_llm") is not None:
        found.append(("trtllm", lambda: open_backend(options("trtllm", folder), config)))
    else:
        rec.skip("vlm/trtllm", "TensorRT-LLM is not installed", "pip install tensorrt_llm on a CUDA machine")
    return found


def _measure_backend(rec: Recorder, backend: Any, config: Any, count: int, weights: str, warmup: int, repeats: int) -> None:
    from filmline.engine.vlm.actions import CONSTRAINED, SCORED, action_question
    from filmline.engine.vlm.base import Failed, VlmPrompt

    height = round(config.image_width * 9 / 16)
    rng = np.random.default_rng(0)
    images = tuple(rng.integers(0, 256, (height, config.image_width, 3), dtype=np.uint8)
                   for _ in range(config.neighbours + 1))
    names = list(config.categories)

    def prompts(text: str) -> list[VlmPrompt]:
        return [VlmPrompt(text, images) for _ in range(count)]

    tasks: list[tuple[str, list[VlmPrompt], Callable[[list[VlmPrompt]], list]]] = []
    if backend.gives_logprobs:
        tasks.append(("actions_scored", prompts(action_question(config, SCORED)), lambda p: backend.score(p, names)))
    tasks.append(("actions_constrained", prompts(action_question(config, CONSTRAINED)),
                  lambda p: backend.generate(p, config.action_generation)))
    tasks.append(("captions", prompts(config.caption_prompt), lambda p: backend.generate(p, config.caption_generation)))
    described = {**backend.describe(), "weights": weights}
    for task, batch, ask in tasks:
        stage = f"vlm/{task}/{backend.name}"
        answers: list[list] = []
        timing = time_runs(lambda: answers.append(ask(batch)), warmup, repeats)
        measured = answers[warmup:]
        failed = [a for run in measured for a in run if isinstance(a, Failed)]
        if failed:
            rec.skip(stage, f"{len(failed)} of {count * len(measured)} requests failed: {failed[0].error}",
                     "check the backend (see the error)")
            continue
        setup = {"backend": backend.name, "device": described.get("device", "-"),
                 "precision": described.get("dtype", "-"), "batch": getattr(backend, "batch_size", None),
                 "concurrency": getattr(backend, "concurrency", None), "images_per_prompt": len(images)}
        common = dict(input={"prompts": count, "images": f"{len(images)} x {config.image_width}x{height} noise"},
                      depends_on=DEPENDS, timing=timing, setup=setup, model=described)
        rec.add(stage, "requests_per_second", count / timing.median, "requests/s", **common)
        if task == "actions_scored":
            continue
        tokens = sum(answer.tokens for run in measured for answer in run) / len(measured)
        if tokens > 0:
            rec.add(stage, "generated_tokens_per_second", tokens / timing.median, "tokens/s",
                    tokens_per_request=tokens / count, **common)
        else:
            rec.skip(f"{stage}/tokens", "the model ended every answer at once", "measure a model that answers")

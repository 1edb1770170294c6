"""TensorRT-LLM as the vision-language model, in-process.

UNVERIFIED: written to TensorRT-LLM's documented APIs (the LLM API's multimodal quickstart,
`default_multimodal_input_loader`, `SamplingParams(return_context_logits=...)`, and
`tensorrt_llm.runtime.MultimodalModelRunner` as examples/multimodal/run.py drives it) and never
run: TensorRT-LLM cannot be installed where this was written. Tested without it: the error when
it is missing, the choice of flow from the source (`locate`), the engine flow's prompt split
(`engine_prompt`) and the exact-score arithmetic (`answer_logprob`).

Two flows, chosen from what `--vlm-model` names:

- a Hugging Face LLaVA-NeXT folder (config.json `model_type: llava_next`) runs through the LLM API
  (`tensorrt_llm.LLM`, PyTorch backend). `default_multimodal_input_loader` renders the
  checkpoint's chat template with the image placeholders. `score` is exact: each candidate is
  appended to the rendered prompt as the assistant's reply, and the prompt's context logits give
  its tokens' log-probabilities. Those logits are a [prompt length x vocabulary] float tensor per
  sequence (hundreds of MB with LLaVA-NeXT's image tokens), so at most `batch_size` sequences
  go at once.
- a folder of engines built with the older multimodal flow (convert_checkpoint.py, trtllm-build,
  build_multimodal_engine.py), the way to run LLaVA-1.5 and OneVision: `vision/` and `llm/` as
  the builders write them, plus the checkpoint's config.json, tokenizer and processor files at
  the top (the runner's `hf_model_dir`). `MultimodalModelRunner` runs it with the family's chat
  format from families.py, split at the image placeholder into the runner's pre- and post-prompt.
  That runner takes one image per prompt and returns text only: prompts with another number of
  images come back `Failed` with the fix, and `score` raises `ScoringUnavailable`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from filmline.engine.errors import BackendError, BadInputError, EngineError, MissingModelError, first_line
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
from filmline.engine.vlm.families import continuation, family_of, image_token, render_prompt

LLM_API, ENGINES = "llm-api", "engines"
ALTERNATIVES = "use --vlm openai with trtllm-serve, or --vlm transformers"
ONE_IMAGE = ("the TensorRT-LLM engine flow takes exactly one image per prompt: set `neighbours: 0` under `images` "
             "in a --vlm-config file, or run a LLaVA-NeXT checkpoint folder (LLM API) or --vlm openai with trtllm-serve")
# MultimodalModelRunner reads its settings from examples/multimodal's argparse namespace; these are
# that parser's defaults (utils.add_common_args). engine_dir, hf_model_dir, batch_size and the
# sampling fields are set per backend and per call.
_RUNNER_ARGS = dict(
    max_new_tokens=128, log_level="info", input_text=None, num_beams=1, top_k=1, top_p=0.0, temperature=1.0,
    repetition_penalty=1.0, run_profiling=False, profiling_iterations=20, check_accuracy=False, video_path=None,
    video_num_frames=None, image_path=None, audio_path=None, path_sep=",", prompt_sep=",",
    enable_context_fmha_fp32_acc=None, enable_chunked_context=False, session="cpp_llm_only",
    kv_cache_free_gpu_memory_fraction=0.7, cross_kv_cache_fraction=0.5, multi_block_mode=True, lora_task_uids=None,
    debug_mode=False, audio_engine_name="model.engine",
)


@dataclass(frozen=True)
class TrtLlmSource:
    """What `--vlm-model` names for TensorRT-LLM, and the flow that runs it."""

    flow: str  # LLM_API or ENGINES
    folder: Path
    family: str
    language_model: str | None  # the checkpoint's text_config.model_type
    vision_engine: str | None = None  # ENGINES: the engine file in vision/


def locate(source: str) -> TrtLlmSource:
    """Which flow runs `source`: a LLaVA-NeXT checkpoint folder, or a folder of built engines."""
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise MissingModelError(f"VLM folder '{source}' does not exist: --vlm trtllm takes a local LLaVA-NeXT checkpoint "
                                "folder or a folder of TensorRT-LLM multimodal engines (vision/ and llm/)")
    folder = folder.resolve()
    if (folder / "vision" / "config.json").is_file() and (folder / "llm" / "config.json").is_file():
        return _engine_source(folder)
    if (folder / "config.json").is_file():
        config = _read_json(folder / "config.json")
        family = family_of(str(config.get("model_type")))
        if family != "llava_next":
            raise BadInputError(
                f"'{folder}' is a {family} checkpoint and TensorRT-LLM's LLM API runs LLaVA-NeXT only: build {family} "
                "engines with its multimodal flow (convert_checkpoint.py, trtllm-build, build_multimodal_engine.py) "
                f"and pass that folder, or {ALTERNATIVES}")
        return TrtLlmSource(LLM_API, folder, family, _language_model(config))
    raise BadInputError(
        f"'{folder}' is neither a Hugging Face LLaVA-NeXT folder (config.json) nor a folder of TensorRT-LLM "
        f"multimodal engines (vision/ and llm/, each with its config.json): pass one of those, or {ALTERNATIVES}")


def engine_prompt(family: str, text: str, language_model: str | None = None) -> tuple[str, str]:
    """The runner's pre- and post-prompt: the family's chat format around one image, split where
    the image goes (the runner puts the image features between the two)."""
    before, _, after = render_prompt(family, text, 1, language_model=language_model).partition(image_token(family))
    return before, after


def answer_logprob(context_logits: Any, prompt_token_ids: Sequence[int], answer_tokens: int) -> float:
    """log P(the prompt's last `answer_tokens` tokens | everything before them), from the logits
    over the whole prompt: the logits at position i predict token i + 1."""
    import torch

    if answer_tokens < 1:
        raise ValueError(f"an answer has at least one token, got {answer_tokens}")
    logits = torch.as_tensor(context_logits)[-answer_tokens - 1:-1].float()
    targets = torch.as_tensor(list(prompt_token_ids[-answer_tokens:]), device=logits.device)
    return float(logits.log_softmax(-1).gather(1, targets[:, None]).sum())


class TrtLlmVlm(VlmBackend):
    """A LLaVA-family model run by TensorRT-LLM on the GPU."""

    name = "trtllm"

    def __init__(self, runner: _LlmApi | _Engines, source: TrtLlmSource, batch_size: int) -> None:
        super().__init__(model=str(source.folder), gives_logprobs=source.flow == LLM_API)
        self.runner = runner
        self.source = source
        self.batch_size = batch_size

    @classmethod
    def open(cls, source: str, *, batch_size: int = 8, kv_cache_fraction: float = 0.6) -> TrtLlmVlm:
        """Load `source` (see `locate`); `kv_cache_fraction` is the LLM API's share of free GPU memory."""
        if batch_size < 1:
            raise BadInputError(f"VLM batch size must be >= 1, got {batch_size}")
        where = locate(source)
        tensorrt_llm = _import_tensorrt_llm()
        try:
            if where.flow == LLM_API:
                runner: _LlmApi | _Engines = _LlmApi(tensorrt_llm, where, batch_size, kv_cache_fraction)
            else:
                runner = _Engines(where, batch_size)
        except EngineError:
            raise
        except Exception as err:  # noqa: BLE001 - any load failure is the user's to act on
            raise BackendError(f"TensorRT-LLM cannot load '{where.folder}' ({first_line(err, with_type=True)}): check that this "
                               f"TensorRT-LLM version built or supports it, or {ALTERNATIVES}") from err
        return cls(runner, where, batch_size)

    def generate(self, prompts: Sequence[VlmPrompt], settings: GenerationSettings,
                 on_progress: Progress | None = None) -> list[Generated | Failed]:
        return self._batched(prompts, self.batch_size, lambda chunk: self.runner.generate(chunk, settings), on_progress)

    def score(self, prompts: Sequence[VlmPrompt], candidates: Sequence[str],
              on_progress: Progress | None = None) -> list[Scored | Failed]:
        if not isinstance(self.runner, _LlmApi):
            raise ScoringUnavailable("TensorRT-LLM's MultimodalModelRunner returns text only; the tasks ask for a "
                                     "constrained answer instead")
        if not candidates:
            return [Scored(()) for _ in prompts]
        per_batch = max(1, self.batch_size // len(candidates))  # each candidate is a sequence of its own
        return self._batched(prompts, per_batch, lambda chunk: self.runner.score(chunk, candidates), on_progress)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "flow": self.source.flow, "family": self.source.family,
                "language_model": self.source.language_model, "batch_size": self.batch_size}

    def close(self) -> None:
        self.runner.close()

    def _batched(self, prompts: Sequence[VlmPrompt], size: int,
                 run: Callable[[Sequence[VlmPrompt]], Sequence[Generated | Scored | Failed]],
                 on_progress: Progress | None) -> list[Any]:
        """`run` over chunks of `size` prompts in order; a chunk that raises is `Failed` for its prompts."""
        results: list[Any] = []
        for start in range(0, len(prompts), size):
            chunk = prompts[start:start + size]
            try:
                answers = list(run(chunk))
            except EngineError:
                raise
            except Exception as err:  # noqa: BLE001 - a failed batch is recorded, the run goes on
                answers = [Failed(f"{self.name} batch of {len(chunk)} failed: {first_line(err, with_type=True)}")] * len(chunk)
            for answer in answers:
                self.stats["requests"] += 1
                if isinstance(answer, Failed):
                    self.stats["failed"] += 1
                elif isinstance(answer, Generated):
                    self.stats["generated_tokens"] += answer.tokens
            results.extend(answers)
            if on_progress is not None:
                on_progress(len(chunk))
        return results


class _LlmApi:
    """LLaVA-NeXT through `tensorrt_llm.LLM` (PyTorch backend)."""

    def __init__(self, tensorrt_llm: Any, source: TrtLlmSource, batch_size: int, kv_cache_fraction: float) -> None:
        from tensorrt_llm.inputs import default_multimodal_input_loader
        from tensorrt_llm.llmapi import KvCacheConfig

        self.sampling_params = tensorrt_llm.SamplingParams
        self.load_inputs = default_multimodal_input_loader
        self.source = source
        # Multimodal requests cannot reuse cached KV blocks: the image features are not in the token ids.
        self.llm = tensorrt_llm.LLM(model=str(source.folder), backend="pytorch", max_batch_size=batch_size,
                                    kv_cache_config=KvCacheConfig(enable_block_reuse=False,
                                                                  free_gpu_memory_fraction=kv_cache_fraction))

    def inputs(self, prompts: Sequence[VlmPrompt]) -> list[dict[str, Any]]:
        """The LLM API's requests: the checkpoint's chat template rendered, the images attached."""
        return self.load_inputs(tokenizer=self.llm.tokenizer, model_dir=str(self.source.folder),
                                model_type=self.source.family, modality="image", prompts=[p.text for p in prompts],
                                media=[[_pil(image) for image in p.images] for p in prompts])

    def generate(self, prompts: Sequence[VlmPrompt], settings: GenerationSettings) -> list[Generated]:
        if settings.temperature > 0:
            sampling = self.sampling_params(max_tokens=settings.max_new_tokens, temperature=settings.temperature,
                                            top_p=settings.top_p)
        else:
            sampling = self.sampling_params(max_tokens=settings.max_new_tokens, top_k=1)  # greedy
        outputs = self.llm.generate(self.inputs(prompts), sampling)
        return [Generated(output.outputs[0].text.strip(), len(output.outputs[0].token_ids)) for output in outputs]

    def score(self, prompts: Sequence[VlmPrompt], candidates: Sequence[str]) -> list[Scored]:
        requests, lengths = [], []
        for request in self.inputs(prompts):
            rendered = request["prompt"]
            for candidate in candidates:
                answer = continuation(rendered, candidate)
                requests.append({**request, "prompt": rendered + answer})
                lengths.append(self._answer_tokens(rendered, answer))
        outputs = self.llm.generate(requests, self.sampling_params(max_tokens=1, return_context_logits=True))
        sums = [answer_logprob(output.context_logits, output.prompt_token_ids, n)
                for output, n in zip(outputs, lengths, strict=True)]
        k = len(candidates)
        return [Scored(tuple(sums[i * k:(i + 1) * k])) for i in range(len(prompts))]

    def _answer_tokens(self, rendered: str, answer: str) -> int:
        """How many tokens `answer` adds after `rendered` (its own count where the tokenizer merges
        across the boundary)."""
        encode = self.llm.tokenizer.encode
        prompt_ids = encode(rendered, add_special_tokens=False)
        full_ids = encode(rendered + answer, add_special_tokens=False)
        if full_ids[:len(prompt_ids)] == prompt_ids:
            return len(full_ids) - len(prompt_ids)
        return len(encode(answer, add_special_tokens=False))

    def close(self) -> None:
        self.llm.shutdown()


class _Engines:
    """Engines of the older multimodal flow through `tensorrt_llm.runtime.MultimodalModelRunner`."""

    def __init__(self, source: TrtLlmSource, batch_size: int) -> None:
        from tensorrt_llm.runtime import MultimodalModelRunner

        self.source = source
        # The runner batches LLaVA-1.5 prompts (n prompts, n images); NeXT and OneVision go one at a time.
        self.batch_size = batch_size if source.family == "llava" else 1
        self.args = argparse.Namespace(**_RUNNER_ARGS, engine_dir=str(source.folder), hf_model_dir=str(source.folder),
                                       visual_engine_name=source.vision_engine, batch_size=self.batch_size)
        self.runner = MultimodalModelRunner(self.args)

    def generate(self, prompts: Sequence[VlmPrompt], settings: GenerationSettings) -> list[Generated | Failed]:
        answers: list[Generated | Failed] = [Failed(ONE_IMAGE)] * len(prompts)
        runnable = [i for i, prompt in enumerate(prompts) if len(prompt.images) == 1]
        for start in range(0, len(runnable), self.batch_size):
            chunk = runnable[start:start + self.batch_size]
            for i, text in zip(chunk, self._run([prompts[i] for i in chunk], settings), strict=True):
                answers[i] = Generated(text, len(self.runner.tokenizer.encode(text, add_special_tokens=False)))
        return answers

    def _run(self, prompts: Sequence[VlmPrompt], settings: GenerationSettings) -> list[str]:
        parts = [engine_prompt(self.source.family, p.text, self.source.language_model) for p in prompts]
        self.args.batch_size = len(prompts)  # the runner reads its batch size from the args on every call
        if settings.temperature > 0:
            self.args.top_k, self.args.top_p, self.args.temperature = 0, settings.top_p, settings.temperature
        else:
            self.args.top_k, self.args.top_p, self.args.temperature = 1, 0.0, 1.0  # greedy
        processed = self.runner.processor.image_processor(images=[_pil(p.images[0]) for p in prompts],
                                                          return_tensors="pt")
        # LLaVA-1.5 takes the pixel tensor; NeXT and OneVision take pixel_values with image_sizes.
        image = processed["pixel_values"] if self.source.family == "llava" else processed
        output = self.runner.generate([before for before, _ in parts], [after for _, after in parts],
                                      image.to(self.runner.device), None, settings.max_new_tokens)
        return [beams[0] for beams in output]

    def close(self) -> None:
        self.runner = None


def _engine_source(folder: Path) -> TrtLlmSource:
    vision = _read_json(folder / "vision" / "config.json")
    pretrained = vision.get("pretrained_config") or {}
    if pretrained.get("architecture") == "LlavaNextForConditionalGeneration":  # a vision engine trtllm-build wrote
        model_type = "llava_next"
    else:
        model_type = str((vision.get("builder_config") or {}).get("model_type"))
    family = family_of(model_type)
    engines = {}
    for part, builder in (("vision", "build_multimodal_engine.py"), ("llm", "trtllm-build")):
        found = sorted(path.name for path in (folder / part).glob("*.engine"))
        if not found:
            raise MissingModelError(f"'{folder / part}' holds no .engine file: build it with {builder} "
                                    f"(--output_dir {folder / part})")
        engines[part] = "model.engine" if "model.engine" in found else found[0]
    checkpoint_files = ("config.json", "tokenizer_config.json", "preprocessor_config.json")
    if not all((folder / name).is_file() for name in checkpoint_files):
        raise BadInputError(f"engine folder '{folder}' lacks the checkpoint's {', '.join(checkpoint_files)} and "
                            "tokenizer files next to vision/ and llm/: copy them from the "
                            f"{family} checkpoint the engines were built from")
    return TrtLlmSource(ENGINES, folder, family, _language_model(_read_json(folder / "config.json")), engines["vision"])


def _import_tensorrt_llm() -> Any:
    try:
        import tensorrt_llm
    except ModuleNotFoundError as err:
        if err.name != "tensorrt_llm":
            raise BackendError(f"TensorRT-LLM does not import ({first_line(err, with_type=True)}); {ALTERNATIVES}") from err
        raise BackendError(f"TensorRT-LLM is not installed; {ALTERNATIVES}") from None
    except (ImportError, OSError, RuntimeError) as err:  # a missing CUDA library, a version clash
        raise BackendError(f"TensorRT-LLM does not import ({first_line(err, with_type=True)}); {ALTERNATIVES}") from err
    return tensorrt_llm


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BadInputError(f"{path} is not readable JSON ({first_line(err, with_type=True)}): "
                            "pass an intact checkpoint or engine folder") from err
    if not isinstance(data, dict):
        raise BadInputError(f"{path} is not a JSON object: pass an intact checkpoint or engine folder")
    return data


def _language_model(config: dict[str, Any]) -> str | None:
    text_config = config.get("text_config")
    return text_config.get("model_type") if isinstance(text_config, dict) else None


def _pil(image: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))


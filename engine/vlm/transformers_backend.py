"""The reference vision-language backend: a LLaVA checkpoint run in-process with transformers.

The reference: exact scores, any machine with PyTorch. It loads a Hugging Face folder (or a hub
id, from the local cache or downloaded once) with the family's `*ForConditionalGeneration` class
and the checkpoint's own processor, so the chat template, image placeholders and image token
counts are the checkpoint's own.

Prompts with the same number of images run together, `batch_size` at a time (left padding).
`score` runs each prompt once, keeps its KV cache, and continues it with all candidates as one
batch, so a prompt's images and question cost one forward whatever the number of candidates.
A batch that raises (out of memory, a bad image) comes back as `Failed` for its prompts; a bad
checkpoint or device raises at `open`.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import numpy as np
import torch

from filmline.engine.errors import BackendError, BadInputError, EngineError, MissingModelError, first_line
from filmline.engine.vlm.base import Failed, Generated, GenerationSettings, Progress, Scored, VlmBackend, VlmPrompt
from filmline.engine.vlm.families import chat_format, continuation, family_of, render_prompt
from filmline.engine.backends.weights import refuse_missing_weights

_MODEL_CLASSES = {
    "llava": "LlavaForConditionalGeneration",
    "llava_next": "LlavaNextForConditionalGeneration",
    "llava_onevision": "LlavaOnevisionForConditionalGeneration",
}
_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "float16": torch.float16, "fp16": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
}
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
_HUB_FILES = ["*.json", "*.safetensors", "*.jinja", "*.model", "*.txt"]  # weights, configs, tokenizer, template
_Answer = TypeVar("_Answer", Generated, Scored)


class TransformersVlm(VlmBackend):
    """A LLaVA-family checkpoint in PyTorch, on one device."""

    name = "transformers"

    def __init__(self, model: str, network: Any, processor: Any, *, device: str, dtype: torch.dtype,
                 batch_size: int) -> None:
        super().__init__(model=model)
        self.network = network
        self.processor = processor
        self.family = family_of(network.config.model_type)
        self.language_model = getattr(network.config.text_config, "model_type", None)
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.chat_template = _template_of(processor)
        tokenizer = processor.tokenizer
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._stop_ids = _stop_ids(network, tokenizer, chat_format(self.family, self.language_model).end_of_turn)

    @classmethod
    def open(cls, source: str, *, device: str = "auto", dtype: str = "auto", batch_size: int = 8) -> TransformersVlm:
        """Load `source` (a Hugging Face-format folder or hub id) for inference on `device`.

        `device` "auto" is the GPU when there is one, else the CPU; `dtype` "auto" is bfloat16 on a
        GPU that has it (else float16) and float32 on the CPU.
        """
        import transformers

        if batch_size < 1:
            raise BadInputError(f"VLM batch size must be >= 1, got {batch_size}")
        where = _device(device)
        precision = _dtype(dtype, where)
        folder = _checkpoint_folder(source)
        family = family_of(_model_type(folder))
        try:
            processor = transformers.AutoProcessor.from_pretrained(folder)
            network, info = getattr(transformers, _MODEL_CLASSES[family]).from_pretrained(
                folder, dtype=precision, output_loading_info=True
            )
        except ImportError as err:  # e.g. OneVision's processor needs torchvision
            raise BackendError(
                f"the {family} processor cannot load ({first_line(err, with_type=True)}): install the missing package "
                "(pip install torchvision matching your torch)"
            ) from err
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            raise MissingModelError(
                f"cannot load the {family} checkpoint in '{folder}' ({first_line(err, with_type=True)}): pass a complete "
                "Hugging Face-format folder (config.json, weights, tokenizer and processor files)"
            ) from err
        refuse_missing_weights(info, folder, _MODEL_CLASSES[family], family)
        network.to(where).eval()
        name = str(folder) if Path(source).expanduser().is_dir() else source
        return cls(name, network, processor, device=str(where), dtype=precision, batch_size=batch_size)

    def describe(self) -> dict[str, Any]:
        chat = "checkpoint" if self.chat_template else chat_format(self.family, self.language_model).name
        return {**super().describe(), "family": self.family, "language_model": self.language_model,
                "chat_format": chat, "device": self.device, "dtype": str(self.dtype).removeprefix("torch.")}

    def render(self, prompt: VlmPrompt) -> str:
        """The prompt text the model reads (before the processor expands the image placeholders)."""
        return render_prompt(self.family, prompt.text, len(prompt.images), chat_template=self.chat_template,
                             language_model=self.language_model,
                             special_tokens=self.processor.tokenizer.special_tokens_map)

    def model_inputs(self, prompts: Sequence[VlmPrompt]) -> Any:
        """The processor's tensors for prompts with equal image counts, left-padded, on the device."""
        from PIL import Image

        texts = [self.render(prompt) for prompt in prompts]
        images = [[Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)) for image in prompt.images]
                  for prompt in prompts]
        inputs = self.processor(text=texts, images=images if any(images) else None, return_tensors="pt",
                                padding=True, add_special_tokens=self._adds_special_tokens(texts[0]))
        return inputs.to(self.device, dtype=self.dtype)

    def generate(self, prompts: Sequence[VlmPrompt], settings: GenerationSettings,
                 on_progress: Progress | None = None) -> list[Generated | Failed]:
        sampling = settings.temperature > 0
        options = dict(max_new_tokens=settings.max_new_tokens, do_sample=sampling,
                       pad_token_id=self.processor.tokenizer.pad_token_id, eos_token_id=sorted(self._stop_ids))
        if sampling:
            options.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0)

        def run(batch: Sequence[VlmPrompt]) -> list[Generated]:
            inputs = self.model_inputs(batch)
            output = self.network.generate(**inputs, **options)
            answers = [self._answer(row) for row in output[:, inputs["input_ids"].shape[1]:].tolist()]
            self.stats["generated_tokens"] += sum(answer.tokens for answer in answers)
            return answers

        return self._batched(prompts, self.batch_size, run, on_progress)

    def score(self, prompts: Sequence[VlmPrompt], candidates: Sequence[str],
              on_progress: Progress | None = None) -> list[Scored | Failed]:
        if not candidates:
            return [Scored(()) for _ in prompts]
        answer_ids: dict[str, list[list[int]]] = {}  # rendered prompt → each candidate's tokens

        def run(batch: Sequence[VlmPrompt]) -> list[Scored]:
            inputs = self.model_inputs(batch)
            tokens = []
            for prompt in batch:
                text = self.render(prompt)
                if text not in answer_ids:
                    answer_ids[text] = [self._candidate_ids(text, candidate) for candidate in candidates]
                tokens.append(answer_ids[text])
            return self._score_batch(inputs, tokens)

        # `batch_size` bounds the sequences in flight: each prompt's cache is copied per candidate.
        per_batch = max(1, self.batch_size // len(candidates))
        return self._batched(prompts, per_batch, run, on_progress)

    def close(self) -> None:
        self.network = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    @torch.inference_mode()
    def _score_batch(self, inputs: Any, tokens: list[list[list[int]]]) -> list[Scored]:
        """Sum of log P(token) over each candidate's tokens: the prompt's last logits give the first
        token's, one continuation of the prompt's cache with every candidate gives the rest."""
        out = self.network(**inputs, use_cache=True, logits_to_keep=1)
        n_candidates = len(tokens[0])
        flat = [ids for per_prompt in tokens for ids in per_prompt]
        width = max(1, max(len(ids) for ids in flat))
        pad = self.processor.tokenizer.pad_token_id
        ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids in flat], device=out.logits.device)
        first = out.logits[:, -1].float().log_softmax(-1).repeat_interleave(n_candidates, 0)
        logprobs = [first.gather(1, ids[:, :1])]
        if width > 1:  # a candidate's last token needs no forward of its own
            cache = out.past_key_values
            cache.batch_repeat_interleave(n_candidates)
            mask = torch.cat([inputs["attention_mask"].repeat_interleave(n_candidates, 0),
                              torch.ones_like(ids[:, 1:])], dim=1)
            later = self.network(input_ids=ids[:, :-1], attention_mask=mask, past_key_values=cache, use_cache=True)
            logprobs.append(later.logits.float().log_softmax(-1).gather(2, ids[:, 1:, None])[..., 0])
        counted = torch.arange(width, device=ids.device) < torch.tensor([len(i) for i in flat], device=ids.device)[:, None]
        sums = torch.where(counted, torch.cat(logprobs, dim=1).double(), 0.0).sum(1).tolist()
        return [Scored(tuple(sums[b * n_candidates:(b + 1) * n_candidates])) for b in range(len(tokens))]

    def _candidate_ids(self, rendered: str, candidate: str) -> list[int]:
        """The candidate's tokens as they follow the prompt's: the tokens of prompt + answer past
        the prompt's own, or, where a tokenizer merges across the boundary, the answer's alone."""
        tokenizer = self.processor.tokenizer
        special = self._adds_special_tokens(rendered)
        answer = continuation(rendered, candidate)
        prompt_ids = tokenizer(rendered, add_special_tokens=special)["input_ids"]
        full_ids = tokenizer(rendered + answer, add_special_tokens=special)["input_ids"]
        if full_ids[:len(prompt_ids)] == prompt_ids:
            return full_ids[len(prompt_ids):]
        return tokenizer(answer, add_special_tokens=False)["input_ids"]

    def _answer(self, new_tokens: list[int]) -> Generated:
        """Text and token count of one row of generated tokens, up to and including the stop token."""
        count = next((i + 1 for i, token in enumerate(new_tokens) if token in self._stop_ids), len(new_tokens))
        text = self.processor.tokenizer.decode(new_tokens[:count], skip_special_tokens=True)
        return Generated(text.strip(), count)

    def _adds_special_tokens(self, rendered: str) -> bool:
        """Whether tokenising should add BOS: not when the chat template wrote it already."""
        bos = self.processor.tokenizer.bos_token
        return not (bos and rendered.startswith(bos))

    def _batched(self, prompts: Sequence[VlmPrompt], size: int, run: Callable[[Sequence[VlmPrompt]], list[_Answer]],
                 on_progress: Progress | None) -> list[_Answer | Failed]:
        """`run` over batches of up to `size` prompts with equal image counts, answers in prompt order."""
        by_count: dict[int, list[int]] = defaultdict(list)
        for index, prompt in enumerate(prompts):
            by_count[len(prompt.images)].append(index)
        results: list[_Answer | Failed | None] = [None] * len(prompts)
        for indices in by_count.values():
            for start in range(0, len(indices), size):
                chunk = indices[start:start + size]
                self.stats["requests"] += len(chunk)
                try:
                    with torch.inference_mode():
                        answers = run([prompts[i] for i in chunk])
                except EngineError:
                    raise
                except Exception as err:  # noqa: BLE001 - a failed batch is recorded, the run goes on
                    failure = Failed(f"{self.name} batch of {len(chunk)} failed: {first_line(err, with_type=True)}")
                    answers = [failure] * len(chunk)
                    self.stats["failed"] += len(chunk)
                for i, answer in zip(chunk, answers):
                    results[i] = answer
                if on_progress is not None:
                    on_progress(len(chunk))
        return results  # type: ignore[return-value]  # every slot is filled


def _checkpoint_folder(source: str) -> Path:
    """The local folder of `source`: the folder itself, or the hub id's snapshot (cached or downloaded)."""
    folder = Path(source).expanduser()
    if folder.is_dir():
        return folder.resolve()
    if folder.exists():
        raise BadInputError(f"VLM weights '{source}' is a file: pass a Hugging Face-format folder or a hub id")
    if _HUB_ID.fullmatch(source) is None:
        raise MissingModelError(
            f"VLM folder '{source}' does not exist: pass a Hugging Face-format folder (config.json, "
            "weights, tokenizer and processor files) or a hub id"
        )
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(source, allow_patterns=_HUB_FILES))
    except Exception as err:  # noqa: BLE001 - offline, unknown id, no access: all mean "not here"
        raise MissingModelError(
            f"VLM '{source}' is neither a folder nor in the Hugging Face cache and cannot be downloaded "
            f"({first_line(err, with_type=True)}): download it where you have network (hf download {source} "
            "--local-dir DIR) and pass the folder"
        ) from err


def _model_type(folder: Path) -> str:
    config = folder / "config.json"
    if not config.is_file():
        raise MissingModelError(
            f"'{folder}' is not a Hugging Face model folder (no config.json): save the model with save_pretrained()"
        )
    try:
        return str(json.loads(config.read_text(encoding="utf-8"))["model_type"])
    except (ValueError, KeyError) as err:
        raise BadInputError(f"{config} has no readable model_type ({first_line(err, with_type=True)}): pass an intact checkpoint") from err


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        where = torch.device(device)
    except RuntimeError as err:
        raise BadInputError(f"unknown device '{device}': pass auto, cpu, cuda or cuda:N") from err
    if where.type == "cuda" and not torch.cuda.is_available():
        raise BackendError(f"device '{device}' asked for but no CUDA device is available: pass --device cpu")
    return where


def _dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if dtype not in _DTYPES:
        raise BadInputError(f"unknown dtype '{dtype}': pass auto, {', '.join(_DTYPES)}")
    return _DTYPES[dtype]


def _template_of(processor: Any) -> str | None:
    """The processor's chat template (the tokenizer's is text-only and cannot place images)."""
    template = getattr(processor, "chat_template", None)
    if isinstance(template, dict):
        template = template.get("default")
    return template or None


def _stop_ids(network: Any, tokenizer: Any, end_of_turn: str) -> frozenset[int]:
    """Tokens that end an answer: the checkpoint's EOS ids, the tokenizer's, and the chat format's
    end-of-turn token where the vocabulary has it."""
    configured = network.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured])
    ids.add(tokenizer.eos_token_id)
    end = tokenizer.convert_tokens_to_ids(end_of_turn)
    if isinstance(end, int) and end != tokenizer.unk_token_id:
        ids.add(end)
    return frozenset(i for i in ids if i is not None)


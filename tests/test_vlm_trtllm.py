"""The TensorRT-LLM backend without TensorRT-LLM: its error when missing, the choice of flow from
the source, the engine flow's prompt, and the exact-score arithmetic. Loading and running need
TensorRT-LLM and a GPU; that code is written to the documented API and marked UNVERIFIED."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from filmline.benchmarks.synthetic import write_film
from filmline.engine.cli import main as engine_run
from filmline.engine.errors import BackendError, BadInputError, MissingModelError
from filmline.engine.vlm.families import image_token, render_prompt
from filmline.engine.vlm.trtllm_backend import ENGINES, LLM_API, TrtLlmVlm, answer_logprob, engine_prompt, locate
from tests.videos import SMALL

needs_no_tensorrt_llm = pytest.mark.skipif(importlib.util.find_spec("tensorrt_llm") is not None,
                                           reason="TensorRT-LLM is installed here")
MISSING = "TensorRT-LLM is not installed; use --vlm openai with trtllm-serve, or --vlm transformers"


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def checkpoint(folder: Path, model_type: str = "llava_next", language_model: str = "mistral") -> Path:
    write_json(folder / "config.json", {"model_type": model_type, "text_config": {"model_type": language_model}})
    return folder


def engine_folder(folder: Path, vision_config: dict, *, language_model: str = "llama",
                  checkpoint_files: bool = True, vision_engine: str = "model.engine") -> Path:
    """The layout convert_checkpoint.py + trtllm-build + build_multimodal_engine.py leave, plus the
    checkpoint's files the runner reads as its hf_model_dir."""
    write_json(folder / "vision" / "config.json", vision_config)
    (folder / "vision" / vision_engine).write_bytes(b"plan")
    write_json(folder / "llm" / "config.json", {"pretrained_config": {"architecture": "LlamaForCausalLM"}})
    (folder / "llm" / "rank0.engine").write_bytes(b"plan")
    if checkpoint_files:
        checkpoint(folder, "llava", language_model)
        write_json(folder / "tokenizer_config.json", {})
        write_json(folder / "preprocessor_config.json", {})
    return folder


def builder(model_type: str) -> dict:
    return {"builder_config": {"model_type": model_type, "precision": "float16"}}


@needs_no_tensorrt_llm
def test_a_missing_tensorrt_llm_is_a_backend_error_with_the_alternatives(tmp_path: Path) -> None:
    with pytest.raises(BackendError) as caught:
        TrtLlmVlm.open(str(checkpoint(tmp_path / "llava-next")))
    assert str(caught.value) == MISSING
    assert caught.value.exit_code == 4


@needs_no_tensorrt_llm
def test_engine_run_exits_4_with_one_line_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    film = write_film(tmp_path / "film.mkv", [12, 12], size=SMALL, seed=1)
    model = checkpoint(tmp_path / "llava-next")
    code = engine_run([str(film.path), "--out", str(tmp_path / "out"), "--vlm", "trtllm", "--vlm-model", str(model),
                       "--no-progress"])
    assert code == 4
    assert MISSING in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*.json"))


def test_a_llava_next_checkpoint_runs_through_the_llm_api(tmp_path: Path) -> None:
    where = locate(str(checkpoint(tmp_path / "next")))
    assert (where.flow, where.family, where.language_model) == (LLM_API, "llava_next", "mistral")


@pytest.mark.parametrize("vision_config, family", [
    (builder("llava"), "llava"),
    (builder("llava_onevision"), "llava_onevision"),
    ({"pretrained_config": {"architecture": "LlavaNextForConditionalGeneration", "dtype": "float16"}}, "llava_next"),
])
def test_a_folder_of_built_engines_runs_through_the_multimodal_runner(tmp_path: Path, vision_config: dict,
                                                                      family: str) -> None:
    where = locate(str(engine_folder(tmp_path / "engines", vision_config, vision_engine="rank0.engine")))
    assert (where.flow, where.family, where.language_model, where.vision_engine) == (ENGINES, family, "llama", "rank0.engine")


def test_a_folder_that_is_neither_names_both_layouts_and_the_alternatives(tmp_path: Path) -> None:
    (tmp_path / "weights.safetensors").write_bytes(b"")
    with pytest.raises(BadInputError, match="neither a Hugging Face LLaVA-NeXT folder .* nor a folder of TensorRT-LLM "
                                            "multimodal engines .*--vlm openai with trtllm-serve"):
        TrtLlmVlm.open(str(tmp_path))  # before TensorRT-LLM is even imported


def test_other_llava_checkpoints_are_pointed_to_the_engine_flow(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="llava checkpoint .*LLaVA-NeXT only.*build_multimodal_engine.py"):
        locate(str(checkpoint(tmp_path / "llava15", "llava", "llama")))


def test_engine_folders_that_cannot_run_say_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="lacks the checkpoint's config.json, tokenizer_config.json"):
        locate(str(engine_folder(tmp_path / "bare", builder("llava"), checkpoint_files=False)))
    unbuilt = engine_folder(tmp_path / "unbuilt", builder("llava"))
    (unbuilt / "llm" / "rank0.engine").unlink()
    with pytest.raises(MissingModelError, match="holds no .engine file: build it with trtllm-build"):
        locate(str(unbuilt))
    with pytest.raises(BadInputError, match="model type 'blip2' is not a supported"):
        locate(str(engine_folder(tmp_path / "blip", builder("blip2"))))
    with pytest.raises(MissingModelError, match="does not exist"):
        locate(str(tmp_path / "nowhere"))


@pytest.mark.parametrize("family, language_model, before, after", [
    ("llava", None, "USER: ", "\nWhat happens? ASSISTANT:"),
    ("llava", "mistral", "[INST] ", "\nWhat happens? [/INST]"),
    ("llava_onevision", None, "<|im_start|>user ", "\nWhat happens?<|im_end|><|im_start|>assistant\n"),
])
def test_the_engine_flow_wraps_the_image_in_the_familys_chat_format(family: str, language_model: str | None,
                                                                    before: str, after: str) -> None:
    """The pre- and post-prompts NVIDIA's runner itself builds for LLaVA-1.5 and OneVision (less the
    system line), and Mistral's [INST] turn for a LLaVA with a Mistral language model."""
    assert engine_prompt(family, "What happens?", language_model) == (before, after)
    rendered = render_prompt(family, "What happens?", 1, language_model=language_model)
    assert before + image_token(family) + after == rendered  # the runner puts the image where families.py does


def test_exact_scores_sum_the_answers_tokens_from_the_context_logits() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 11, generator=generator)
    tokens = [3, 1, 4, 1, 5, 9, 2]
    expected = sum(float(logits[i].log_softmax(-1)[tokens[i + 1]]) for i in (3, 4, 5))
    assert answer_logprob(logits, tokens, 3) == pytest.approx(expected)
    with pytest.raises(ValueError):
        answer_logprob(logits, tokens, 0)

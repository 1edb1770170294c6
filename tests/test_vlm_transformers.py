"""The transformers VLM backend end to end on tiny checkpoints of every family."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest
import torch

from filmline.engine.errors import BackendError, BadInputError, MissingModelError
from filmline.engine.vlm.base import Failed, Generated, GenerationSettings, Scored, VlmPrompt
from filmline.engine.vlm.families import continuation
from filmline.engine.vlm.transformers_backend import TransformersVlm
from tests.tiny_vlms import LABELS

# fixture, family, language model, the rendered prompt for one question and two images
CHECKPOINTS = {
    "llava": ("tiny_llava_dir", "llava", "llama", "USER: <image>\n<image>\nWhat happens? ASSISTANT:"),
    "llava_next": ("tiny_llava_next_dir", "llava_next", "mistral", "[INST] <image>\n<image>\nWhat happens? [/INST]"),
    "interleave": ("tiny_llava_interleave_dir", "llava", "qwen2",
                   "<|im_start|>user <image><image>\nWhat happens?<|im_end|><|im_start|>assistant\n"),
    "llava_onevision": ("tiny_llava_onevision_dir", "llava_onevision", "qwen2",
                        "<|im_start|>user <image><image>\nWhat happens?<|im_end|><|im_start|>assistant\n"),
}
# Image tokens the processor expands one square image to, and each of two images to:
# LLaVA 16 patches (CLIP's CLS dropped); Interleave 16 (SigLIP has no CLS); NeXT and OneVision
# add the 4 × 4 anyres tile and one newline per tile row for a single image, 16 + 16 + 4; OneVision
# gives each of several images its 16 patches + 1 newline.
IMAGE_TOKENS = {"llava": (16, 16), "llava_next": (36, 36), "interleave": (16, 16), "llava_onevision": (36, 17)}
QUESTIONS = ("Which of these actions happen in the shot?", "Describe the shot.", "Does the shot show a fight?")


def _frame(rng: np.random.Generator, height: int = 36, width: int = 64) -> np.ndarray:
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def _prompts(n_images: int, seed: int = 0) -> list[VlmPrompt]:
    """Questions of different lengths over frames of different sizes (16:9, 4:3, square)."""
    rng = np.random.default_rng(seed)
    sizes = [(36, 64), (48, 64), (40, 40)]
    return [VlmPrompt(question, tuple(_frame(rng, *sizes[(i + k) % 3]) for k in range(n_images)))
            for i, question in enumerate(QUESTIONS)]


@pytest.fixture(scope="module", params=list(CHECKPOINTS))
def case(request: pytest.FixtureRequest):
    """(checkpoint name, its backend), opened once per module."""
    backend = TransformersVlm.open(str(request.getfixturevalue(CHECKPOINTS[request.param][0])))
    yield request.param, backend
    backend.close()


@pytest.fixture
def vlm(case) -> TransformersVlm:
    return case[1]


def test_open_describes_the_checkpoint(case):
    name, vlm = case
    _, family, language_model, _ = CHECKPOINTS[name]
    described = vlm.describe()
    assert described["backend"] == "transformers" and described["family"] == family
    assert described["language_model"] == language_model
    assert (described["device"], described["dtype"]) == ("cpu", "float32")
    assert described["logprobs"] and described["exact_scores"]
    assert not vlm.network.training


def test_prompt_follows_the_family_template(case):
    name, vlm = case
    expected = CHECKPOINTS[name][3]
    assert vlm.render(VlmPrompt("What happens?", (np.zeros((8, 8, 3), np.uint8),) * 2)) == expected
    image_id = vlm.network.config.image_token_id
    square = np.full((32, 32, 3), 128, np.uint8)
    one, each_of_two = IMAGE_TOKENS[name]
    single = vlm.model_inputs([VlmPrompt("What happens?", (square,))])
    assert int((single["input_ids"] == image_id).sum()) == one
    double = vlm.model_inputs([VlmPrompt("What happens?", (square, square))])
    assert int((double["input_ids"] == image_id).sum()) == 2 * each_of_two


def test_generate_is_bounded_deterministic_and_counted(vlm):
    prompts = _prompts(1) + _prompts(0) + _prompts(3)  # mixed image counts in one call
    settings = GenerationSettings(max_new_tokens=6)
    before = dict(vlm.stats)
    progress: list[int] = []
    answers = vlm.generate(prompts, settings, on_progress=progress.append)
    assert all(isinstance(answer, Generated) for answer in answers), answers
    assert all(answer.text and 1 <= answer.tokens <= 6 for answer in answers), answers
    assert sum(progress) == len(prompts)
    assert vlm.stats["requests"] - before["requests"] == len(prompts)
    assert vlm.stats["generated_tokens"] - before["generated_tokens"] == sum(answer.tokens for answer in answers)
    assert vlm.generate(prompts, settings) == answers
    assert len({answer.text for answer in answers}) > 1  # the answers depend on the images and question


def test_batched_generate_equals_one_at_a_time(vlm):
    prompts = _prompts(2, seed=1)
    settings = GenerationSettings(max_new_tokens=5)
    one_at_a_time = [vlm.generate([prompt], settings)[0] for prompt in prompts]
    assert vlm.generate(prompts, settings) == one_at_a_time


def test_sampling_follows_the_settings(vlm):
    prompts = _prompts(1, seed=2)
    torch.manual_seed(0)
    answers = vlm.generate(prompts, GenerationSettings(max_new_tokens=4, temperature=1.5, top_p=0.9))
    assert all(isinstance(answer, Generated) and 1 <= answer.tokens <= 4 for answer in answers), answers


def _direct_log_likelihood(vlm, prompt: VlmPrompt, candidate: str) -> tuple[float, int]:
    """log P(candidate | prompt) from one forward over prompt + candidate, and its token count."""
    rendered = vlm.render(prompt)
    prompt_ids = vlm.model_inputs([prompt])["input_ids"][0]
    full = vlm.processor(text=[rendered + continuation(rendered, candidate)],
                         images=[[np.asarray(image) for image in prompt.images]] if prompt.images else None,
                         return_tensors="pt")
    ids = full["input_ids"][0]
    assert torch.equal(ids[:len(prompt_ids)], prompt_ids)
    with torch.inference_mode():
        logits = vlm.network(**full).logits[0].float().log_softmax(-1)
    positions = range(len(prompt_ids), len(ids))
    return sum(float(logits[t - 1, ids[t]]) for t in positions), len(positions)


@pytest.mark.parametrize("batch_size", [8, 16])  # one prompt per forward, and two left-padded together
def test_score_is_the_exact_log_likelihood(vlm, batch_size):
    vlm.batch_size = batch_size
    prompts = _prompts(2, seed=3) + _prompts(0, seed=3)[:1]
    try:
        scores = vlm.score(prompts, LABELS)
    finally:
        vlm.batch_size = 8
    assert all(isinstance(score, Scored) and len(score.logprobs) == len(LABELS) for score in scores), scores
    token_counts = set()
    for prompt, score in zip(prompts, scores):
        for candidate, logprob in zip(LABELS, score.logprobs):
            expected, tokens = _direct_log_likelihood(vlm, prompt, candidate)
            token_counts.add(tokens)
            assert logprob == pytest.approx(expected, abs=1e-4), candidate
    assert min(token_counts) >= 1 and max(token_counts) > 1  # multi-token labels exercise the cache continuation
    assert scores[0].logprobs != scores[1].logprobs


def test_one_bad_prompt_fails_alone(vlm):
    good = _prompts(1, seed=4)
    bad = VlmPrompt("Describe the shot.", (np.zeros((36, 64, 5), np.uint8),))  # five channels: no image mode
    vlm.batch_size = 1
    try:
        answers = vlm.generate([good[0], bad, good[1]], GenerationSettings(max_new_tokens=3))
        scores = vlm.score([bad, good[2]], ["yes", "no"])
    finally:
        vlm.batch_size = 8
    assert isinstance(answers[0], Generated) and isinstance(answers[2], Generated)
    assert isinstance(answers[1], Failed) and "\n" not in answers[1].error
    assert isinstance(scores[0], Failed) and isinstance(scores[1], Scored)


def test_missing_folder_is_one_line(tmp_path):
    with pytest.raises(MissingModelError) as caught:
        TransformersVlm.open(str(tmp_path / "no-such-model"))
    assert "no-such-model" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(MissingModelError, match="no config.json"):
        TransformersVlm.open(str(tmp_path))


def test_a_checkpoint_missing_tensors_is_refused_not_filled_at_random(tmp_path, tiny_llava_dir):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "partial"
    shutil.copytree(tiny_llava_dir, folder)
    weights = load_file(folder / "model.safetensors")
    dropped = sorted(weights)[0]
    del weights[dropped]
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(MissingModelError, match=r"lack 1 tensors of LlavaForConditionalGeneration") as caught:
        TransformersVlm.open(str(folder))
    assert "pass a complete llava checkpoint" in str(caught.value) and "\n" not in str(caught.value)


def test_offline_hub_id_says_how_to_get_it(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(MissingModelError) as caught:
        TransformersVlm.open("llava-hf/llava-interleave-qwen-0.5b-hf")
    message = str(caught.value)
    assert "llava-interleave-qwen-0.5b-hf" in message and "pass the folder" in message and "\n" not in message


def test_misconfiguration_raises(tmp_path, tiny_llava_dir):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "blip-2"}))
    with pytest.raises(BadInputError, match="blip-2"):
        TransformersVlm.open(str(tmp_path))
    with pytest.raises(BadInputError, match="int8"):
        TransformersVlm.open(str(tiny_llava_dir), dtype="int8")
    if not torch.cuda.is_available():
        with pytest.raises(BackendError, match="CUDA"):
            TransformersVlm.open(str(tiny_llava_dir), device="cuda")


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed here")
def test_onevision_without_torchvision_names_the_fix(tmp_path, tiny_llava_interleave_dir):
    """The hub's OneVision processors need torchvision; without it the error says so."""
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes((tiny_llava_interleave_dir / name).read_bytes())
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava_onevision"}))
    processor = {"processor_class": "LlavaOnevisionProcessor",
                 "image_processor": {"image_processor_type": "LlavaOnevisionImageProcessor"},
                 "video_processor": {"video_processor_type": "LlavaOnevisionVideoProcessor"}}
    (tmp_path / "processor_config.json").write_text(json.dumps(processor))
    with pytest.raises(BackendError, match="torchvision"):
        TransformersVlm.open(str(tmp_path))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_matches_cpu(tiny_llava_dir):
    cpu = TransformersVlm.open(str(tiny_llava_dir), device="cpu")
    gpu = TransformersVlm.open(str(tiny_llava_dir), device="cuda", dtype="float32")
    assert gpu.describe()["device"].startswith("cuda")
    prompts = _prompts(2, seed=5)
    settings = GenerationSettings(max_new_tokens=5)
    assert gpu.generate(prompts, settings) == cpu.generate(prompts, settings)
    for on_gpu, on_cpu in zip(gpu.score(prompts, LABELS), cpu.score(prompts, LABELS)):
        assert on_gpu.logprobs == pytest.approx(on_cpu.logprobs, abs=1e-3)
    assert TransformersVlm.open(str(tiny_llava_dir)).describe()["dtype"] in ("bfloat16", "float16")

"""Tiny LLaVA checkpoints of each family with random weights, saved in Hugging Face format.

Real architectures (CLIP or SigLIP tower, projector, Llama / Mistral / Qwen2 language model),
real processors and a BPE tokenizer trained here on the words our prompts and labels use, so
`TransformersVlm.open(folder)` runs the same loading, prompting and image-token expansion code a
user's 7B checkpoint takes. They differ where the real ones do:

- llava (LLaVA-1.5): CLIP + Llama, SentencePiece-style tokenizer with BOS, no chat template (the
  family's default format applies);
- llava_next (LLaVA-NeXT): CLIP + Mistral, anyres image tiles, no chat template ([INST] format);
- llava interleave (asgaard-action-movies-2's LLaVA-Interleave: model_type llava): SigLIP + Qwen2, byte-level
  tokenizer without BOS, and the checkpoint's own chat template;
- llava_onevision: SigLIP + Qwen2 with anyres, and the chat template. transformers' OneVision
  processor needs torchvision, so its fixture skips where torchvision is not installed.

The fixtures are session-scoped; conftest.py imports them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

LABELS = ("Fight", "Heist", "Escape", "Rescue", "Capture", "Pursuit", "Speed", "none")
IMAGE_SIZE = 32  # pixels the processors resize to
PATCH = 8  # → a 4 × 4 grid of 16 patch features per image (or per anyres tile)
GRID_PINPOINTS = [[32, 32], [32, 64], [64, 32], [64, 64]]  # anyres tilings, in IMAGE_SIZE multiples
QWEN_CHAT_TEMPLATE = (  # the shape of llava-hf Interleave / OneVision checkpoints' chat_template
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + ' '}}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\\n' + content['text'] }}{% endfor %}"
    "{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ '\\n' + content['text'] }}{% endgeneration %}{% endfor %}{% endif %}"
    "{{'<|im_end|>'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
_CORPUS = (
    "USER: ASSISTANT: [INST] [/INST] user assistant system\n"
    "Which of these actions happen in the shot: " + ", ".join(LABELS) + "? Name all that apply, or none.\n"
    "Does the shot show a fight? Answer yes or no. Describe the shot in one sentence.\n"
    "A man runs across the street; a car speeds away and the police follow in pursuit."
)
_ALPHABET = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;?!'\"-/[]|_<>\n")
_LLAMA_SPECIALS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
_QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]
# Wider than the usual 0.02 initialisation, so random weights give peaked next-token
# distributions: answers and scores then depend visibly on the images and the question.
_INIT = dict(initializer_range=0.2)
_TOWER = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
              image_size=IMAGE_SIZE, patch_size=PATCH)
_LANGUAGE = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=512, **_INIT)


def _tokenizer(specials: list[str], *, byte_level: bool):
    """A BPE tokenizer trained on `_CORPUS`: SentencePiece-style (▁ marks a word start, BOS added)
    like Llama and Mistral, or byte-level without BOS like Qwen2. Labels split into several tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None if byte_level else "<unk>"))
    if byte_level:
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
        tokenizer.decoder = decoders.Metaspace(prepend_scheme="first")
        alphabet = _ALPHABET + ["▁"]
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + len(specials) + 40, special_tokens=specials,
                                  initial_alphabet=alphabet, show_progress=False)
    tokenizer.train_from_iterator([_CORPUS] * 4, trainer)
    if byte_level:
        return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    bos = tokenizer.token_to_id("<s>")
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>")


def _save(folder: Path, config_class, model_class, processor, seed: int, **config) -> Path:
    """A random `model_class` of `config_class(**config)`, its token ids taken from the processor's
    tokenizer, saved with the processor in `folder`."""
    import torch

    tokenizer = processor.tokenizer
    config["text_config"] = config["text_config"](
        **_LANGUAGE, vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    config["image_token_index"] = tokenizer.convert_tokens_to_ids("<image>")
    torch.manual_seed(seed)
    network = model_class(config_class(**config))
    folder.mkdir(parents=True, exist_ok=True)
    network.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_llava(folder: Path, seed: int = 0) -> Path:
    """LLaVA-1.5 shape: CLIP (its CLS feature dropped) + Llama; 16 image tokens per image."""
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor)

    images = CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    processor = LlavaProcessor(image_processor=images, tokenizer=_tokenizer(_LLAMA_SPECIALS, byte_level=False),
                               patch_size=PATCH, vision_feature_select_strategy="default", num_additional_image_tokens=1)
    return _save(folder, LlavaConfig, LlavaForConditionalGeneration, processor, seed,
                 vision_config=CLIPVisionConfig(**_TOWER, **_INIT), text_config=LlamaConfig, image_seq_length=16)


def save_tiny_llava_interleave(folder: Path, seed: int = 0) -> Path:
    """LLaVA-Interleave shape (a `llava` model): SigLIP (all features) + Qwen2, with the chat template."""
    from transformers import (LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor, Qwen2Config,
                              SiglipImageProcessor, SiglipVisionConfig)

    images = SiglipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    processor = LlavaProcessor(image_processor=images, tokenizer=_tokenizer(_QWEN_SPECIALS, byte_level=True),
                               patch_size=PATCH, vision_feature_select_strategy="full", num_additional_image_tokens=0,
                               chat_template=QWEN_CHAT_TEMPLATE)
    return _save(folder, LlavaConfig, LlavaForConditionalGeneration, processor, seed,
                 vision_config=SiglipVisionConfig(**_TOWER, **_INIT), text_config=Qwen2Config, image_seq_length=16,
                 vision_feature_select_strategy="full", vision_feature_layer=-1)


def save_tiny_llava_next(folder: Path, seed: int = 0) -> Path:
    """LLaVA-NeXT shape: CLIP + Mistral, anyres tiles up to 64 px."""
    from transformers import (CLIPVisionConfig, LlavaNextConfig, LlavaNextForConditionalGeneration,
                              LlavaNextImageProcessor, LlavaNextProcessor, MistralConfig)

    images = LlavaNextImageProcessor(size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
                                     image_grid_pinpoints=GRID_PINPOINTS)
    processor = LlavaNextProcessor(image_processor=images, tokenizer=_tokenizer(_LLAMA_SPECIALS, byte_level=False),
                                   patch_size=PATCH, vision_feature_select_strategy="default", num_additional_image_tokens=1)
    return _save(folder, LlavaNextConfig, LlavaNextForConditionalGeneration, processor, seed,
                 vision_config=CLIPVisionConfig(**_TOWER, **_INIT), text_config=MistralConfig,
                 image_grid_pinpoints=GRID_PINPOINTS, image_seq_length=16)


def save_tiny_llava_onevision(folder: Path, seed: int = 0) -> Path:
    """OneVision shape: SigLIP + Qwen2; anyres for a single image, 16 + 1 tokens per image of several."""
    from transformers import (LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration,
                              LlavaOnevisionImageProcessor, LlavaOnevisionProcessor, LlavaOnevisionVideoProcessor,
                              Qwen2Config, SiglipVisionConfig)

    tokenizer = _tokenizer(_QWEN_SPECIALS, byte_level=True)
    size = {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size=size, image_grid_pinpoints=GRID_PINPOINTS),
        video_processor=LlavaOnevisionVideoProcessor(size=size), tokenizer=tokenizer, num_image_tokens=16,
        vision_feature_select_strategy="full", chat_template=QWEN_CHAT_TEMPLATE)
    return _save(folder, LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration, processor, seed,
                 vision_config=SiglipVisionConfig(**_TOWER, **_INIT, vision_use_head=False), text_config=Qwen2Config,
                 video_token_index=tokenizer.convert_tokens_to_ids("<video>"), image_grid_pinpoints=GRID_PINPOINTS)


@pytest.fixture(scope="session")
def tiny_llava_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llava(tmp_path_factory.mktemp("vlm") / "tiny-llava")


@pytest.fixture(scope="session")
def tiny_llava_interleave_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llava_interleave(tmp_path_factory.mktemp("vlm") / "tiny-llava-interleave")


@pytest.fixture(scope="session")
def tiny_llava_next_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llava_next(tmp_path_factory.mktemp("vlm") / "tiny-llava-next")


@pytest.fixture(scope="session")
def tiny_llava_onevision_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torchvision", reason="transformers' OneVision processor needs torchvision")
    return save_tiny_llava_onevision(tmp_path_factory.mktemp("vlm") / "tiny-llava-onevision")

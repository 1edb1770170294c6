"""The LLaVA families' prompts: defaults, checkpoint templates, and where an answer starts."""

from __future__ import annotations

import pytest

from filmline.engine.errors import BadInputError
from filmline.engine.vlm.families import FAMILIES, chat_format, continuation, family_of, image_token, render_prompt
from tests.tiny_vlms import QWEN_CHAT_TEMPLATE

# The shape of the chat templates the llava-hf checkpoints ship (llava-1.5-7b-hf,
# llava-v1.6-mistral-7b-hf); the Qwen2 one is in tests/tiny_vlms.py.
VICUNA_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}"
    "{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
MISTRAL_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' }}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{{' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'][0]['text'] + eos_token + ' '}}"
    "{% endif %}{% endfor %}"
)


def test_family_of_names_the_supported_types():
    assert [family_of(name) for name in FAMILIES] == list(FAMILIES)
    with pytest.raises(BadInputError) as caught:
        family_of("qwen2_vl")
    message = str(caught.value)
    assert "qwen2_vl" in message and all(name in message for name in FAMILIES) and "\n" not in message


@pytest.mark.parametrize(("family", "language_model", "images", "expected"), [
    ("llava", "llama", 1, "USER: <image>\nWhat happens? ASSISTANT:"),
    ("llava", None, 2, "USER: <image>\n<image>\nWhat happens? ASSISTANT:"),
    ("llava", "llama", 0, "USER: What happens? ASSISTANT:"),
    ("llava_next", "mistral", 1, "[INST] <image>\nWhat happens? [/INST]"),
    ("llava_next", "llama", 1, "USER: <image>\nWhat happens? ASSISTANT:"),  # llava-v1.6-vicuna
    ("llava", "qwen2", 3, "<|im_start|>user <image><image><image>\nWhat happens?<|im_end|><|im_start|>assistant\n"),
    ("llava_onevision", "qwen2", 1, "<|im_start|>user <image>\nWhat happens?<|im_end|><|im_start|>assistant\n"),
    ("llava_next", "qwen2", 1, "<|im_start|>user <image>\nWhat happens?<|im_end|><|im_start|>assistant\n"),
])
def test_default_formats(family, language_model, images, expected):
    assert render_prompt(family, "What happens?", images, language_model=language_model) == expected


@pytest.mark.parametrize(("template", "family", "language_model"), [
    (VICUNA_TEMPLATE, "llava", "llama"),
    (MISTRAL_TEMPLATE, "llava_next", "mistral"),
    (QWEN_CHAT_TEMPLATE, "llava", "qwen2"),  # LLaVA-Interleave
    (QWEN_CHAT_TEMPLATE, "llava_onevision", "qwen2"),
])
@pytest.mark.parametrize("images", [0, 1, 11])
def test_defaults_render_as_the_checkpoints_templates(template, family, language_model, images):
    """A folder without a chat template gets the prompt its hub checkpoint's template would give."""
    text = "Which of these actions happen: Fight, Heist or none?"
    from_template = render_prompt(family, text, images, chat_template=template, special_tokens={"eos_token": "</s>"})
    assert from_template == render_prompt(family, text, images, language_model=language_model)
    assert from_template.count(image_token(family)) == images


def test_checkpoint_template_sees_the_tokenizers_special_tokens():
    template = "{{ bos_token }}{% for m in messages %}{{ m['content'][-1]['text'] }}{% endfor %}"
    rendered = render_prompt("llava", "hi", 1, chat_template=template, special_tokens={"bos_token": "<s>"})
    assert rendered == "<s>hi"


def test_end_of_turn_follows_the_language_model():
    assert chat_format("llava", "qwen2").end_of_turn == "<|im_end|>"
    assert chat_format("llava_next", "mistral").end_of_turn == "</s>"
    with pytest.raises(BadInputError):
        chat_format("blip2")


def test_continuation_spaces_the_answer_like_the_model_writes_it():
    assert continuation("USER: <image>\nq ASSISTANT:", "Fight") == " Fight"
    assert continuation("[INST] q [/INST]", "none") == " none"
    assert continuation("<|im_start|>assistant\n", "Fight") == "Fight"
    assert continuation("ASSISTANT:", " yes") == " yes"

"""The LLaVA families we run, and the chat prompt each one expects.

A family is the checkpoint's architecture (`model_type` in its config.json): "llava" (LLaVA-1.5,
and LLaVA-Interleave, which is a LLaVA with a Qwen2 language model), "llava_next" (LLaVA-NeXT /
1.6, with Vicuna, Mistral or other language models) and "llava_onevision" (OneVision, Qwen2).

The prompt depends on the language model more than on the family, so the default chat format is
picked by the language model where it has a known one, else by the family. A checkpoint that
ships a chat template (real Hugging Face checkpoints do) is rendered with that template instead:
the defaults only serve folders without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from filmline.engine.errors import BadInputError

FAMILIES = ("llava", "llava_next", "llava_onevision")
_IMAGE_TOKEN = "<image>"  # every family's placeholder; the processor expands it to the image's feature count


@dataclass(frozen=True)
class ChatFormat:
    """A chat format's user turn up to where the assistant's answer starts."""

    name: str
    turn: str  # str.format template over {images} (the placeholders) and {prompt}
    image: str  # one image's placeholder as the format writes it
    end_of_turn: str  # the token the assistant ends its answer with


CHAT_FORMATS = {
    "vicuna": ChatFormat("vicuna", "USER: {images}{prompt} ASSISTANT:", _IMAGE_TOKEN + "\n", "</s>"),
    "mistral": ChatFormat("mistral", "[INST] {images}{prompt} [/INST]", _IMAGE_TOKEN + "\n", "</s>"),
    "chatml": ChatFormat(
        "chatml", "<|im_start|>user {images}\n{prompt}<|im_end|><|im_start|>assistant\n", _IMAGE_TOKEN, "<|im_end|>"
    ),
}  # each as the llava-hf checkpoints' own chat templates render one user turn
_FAMILY_FORMAT = {"llava": "vicuna", "llava_next": "vicuna", "llava_onevision": "chatml"}
_LANGUAGE_MODEL_FORMAT = {"mistral": "mistral", "qwen2": "chatml"}  # text_config.model_type → format


def family_of(model_type: str) -> str:
    """The family of a checkpoint whose config.json says `model_type`."""
    if model_type not in FAMILIES:
        raise BadInputError(
            f"model type '{model_type}' is not a supported vision-language family: pass a checkpoint "
            f"of type {', '.join(FAMILIES)}"
        )
    return model_type


def image_token(family: str) -> str:
    """The placeholder a prompt of `family` carries where an image goes."""
    family_of(family)
    return _IMAGE_TOKEN


def chat_format(family: str, language_model: str | None = None) -> ChatFormat:
    """The default chat format of `family` with the language model `language_model` (its model_type)."""
    name = _LANGUAGE_MODEL_FORMAT.get(language_model or "", _FAMILY_FORMAT[family_of(family)])
    return CHAT_FORMATS[name]


def render_prompt(
    family: str,
    text: str,
    n_images: int,
    *,
    chat_template: str | None = None,
    language_model: str | None = None,
    special_tokens: Mapping[str, str] | None = None,
) -> str:
    """The full prompt up to where the assistant's answer starts: one user turn with `n_images`
    placeholders before `text`.

    `chat_template` (the checkpoint's Jinja template) wins when given and is rendered as the
    processor's `apply_chat_template(..., add_generation_prompt=True)` would, with the tokenizer's
    `special_tokens` (bos_token, ...) in scope; else the default format of the family and
    `language_model` applies.
    """
    if n_images < 0:
        raise ValueError(f"n_images must be >= 0, got {n_images}")
    if chat_template is None:
        form = chat_format(family, language_model)
        return form.turn.format(images=form.image * n_images, prompt=text)
    family_of(family)
    from transformers.utils.chat_template_utils import render_jinja_template

    content = [{"type": "image"}] * n_images + [{"type": "text", "text": text}]
    rendered, _ = render_jinja_template(
        conversations=[[{"role": "user", "content": content}]],
        chat_template=chat_template,
        add_generation_prompt=True,
        **dict(special_tokens or {}),
    )
    return rendered[0]


def continuation(prompt: str, answer: str) -> str:
    """`answer` as the model writes it right after `prompt`: after a prompt ending in a visible
    character ("ASSISTANT:", "[/INST]") the answer's first word carries a leading space; after a
    newline ("<|im_start|>assistant\\n") it does not."""
    if prompt and not prompt[-1].isspace() and not answer[:1].isspace():
        return " " + answer
    return answer

"""Random-weight LLaVA checkpoints built from a config alone, for throughput figures.

Random weights do the same arithmetic as trained ones: the same layers and shapes, the same 576
image tokens per 336-px image, the same kernels, so requests/s and tokens/s measured on them hold
for the real checkpoint. What differs is only where an answer stops: a random model rarely emits
its end token, so generation runs to the token limit (the figures count the tokens generated).

The tokenizer is a small BPE trained here on the stage's own prompts (the real one cannot be
downloaded on the build machines); the prompts tokenise into a similar number of tokens, and the
image tokens dominate the prompt either way.

    python -m filmline.benchmarks.vlm_model --shape llava-1.5-7b --out ~/models/llava-1.5-7b-random
    engine-bench --suite gpu --vlm-model random:llava-1.5-7b      # builds it into the cache itself
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

MARKER = "random-weights.json"
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]

# name → (vision tower, language model, image size, patch, extra LlavaConfig fields)
SHAPES: dict[str, dict[str, Any]] = {
    "tiny": {  # the harness check in CI: seconds on a CPU
        "vision": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                       image_size=56, patch_size=14),
        "text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=4, max_position_embeddings=4096),
        "vocab_size": None,  # the tokenizer's
    },
    "llava-1.5-7b": {  # llava-hf/llava-1.5-7b-hf: CLIP ViT-L/14-336 + Vicuna-7B (Llama-2 shapes)
        "vision": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                       image_size=336, patch_size=14, projection_dim=768),
        "text": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                     num_key_value_heads=32, max_position_embeddings=4096, rms_norm_eps=1e-5),
        "vocab_size": 32064,
    },
}


def build_random_llava(shape: str, folder: Path, *, seed: int = 0) -> Path:
    """Write a Hugging Face-format LLaVA-1.5 checkpoint of `shape` with random weights to `folder`
    (kept when one of the same shape and seed is there). On a GPU the weights are made there in
    half precision; a 7B checkpoint takes about 14 GB of disk."""
    import torch
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor)

    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: choose one of {', '.join(SHAPES)}")
    stamp = {"shape": shape, "seed": seed}
    if (folder / MARKER).is_file() and json.loads((folder / MARKER).read_text()) == stamp:
        return folder
    spec = SHAPES[shape]
    tokenizer = _tokenizer()
    ids = dict(vocab_size=spec["vocab_size"] or len(tokenizer), bos_token_id=tokenizer.bos_token_id,
               eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    vision = spec["vision"]
    tokens_per_image = (vision["image_size"] // vision["patch_size"]) ** 2
    config = LlavaConfig(vision_config=CLIPVisionConfig(**vision), text_config=LlamaConfig(**spec["text"], **ids),
                         image_token_index=tokenizer.convert_tokens_to_ids("<image>"), image_seq_length=tokens_per_image,
                         vision_feature_layer=-2, vision_feature_select_strategy="default")
    gpu = torch.cuda.is_available()
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float16 if gpu else torch.float32)
    try:
        with torch.device("cuda" if gpu else "cpu"):
            network = LlavaForConditionalGeneration(config).eval()
    finally:
        torch.set_default_dtype(previous)
    size = vision["image_size"]
    images = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                                image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711])
    processor = LlavaProcessor(image_processor=images, tokenizer=tokenizer, patch_size=vision["patch_size"],
                               vision_feature_select_strategy="default", num_additional_image_tokens=1)
    folder.mkdir(parents=True, exist_ok=True)
    network.save_pretrained(folder)
    processor.save_pretrained(folder)
    (folder / MARKER).write_text(json.dumps(stamp))
    del network
    if gpu:
        torch.cuda.empty_cache()  # the benchmark loads it again from the folder, as a user's checkpoint
    return folder


def _tokenizer():
    """A SentencePiece-style BPE (word starts marked ▁, BOS added) like Llama's, trained on the
    stage's prompts and categories."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from filmline.engine.config import read_config

    config = read_config("vlm.yaml")
    corpus = [json.dumps(config), "USER: ASSISTANT: " + " ".join(config["categories"])]
    alphabet = [chr(c) for c in range(32, 127)] + ["\n", "▁"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    tokenizer.decoder = decoders.Metaspace(prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=SPECIALS, initial_alphabet=alphabet, show_progress=False)
    tokenizer.train_from_iterator(corpus * 4, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tokenizer.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m filmline.benchmarks.vlm_model", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), required=True)
    parser.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(build_random_llava(args.shape, args.out.expanduser(), seed=args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())

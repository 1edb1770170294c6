"""The image encoder the benchmarks run: SigLIP with random weights, built by `engine-build`'s code.

No weights can be downloaded on the machines the benchmarks run on, and throughput does not
depend on the weights' values, only on the architecture and its size: `base` is the real
`google/siglip-base-patch16-224` vision tower (12 layers, 768 wide, 224 px, 93 M parameters with its pooling head)
with random weights, `tiny` a 2-layer, 32 px one for the smoke suite. The figures say so next to
every number. Their cut decisions are meaningless (random embeddings), so the benchmarks score
shot accuracy only on the cheap pass and treat the encoder runs as timing runs.

The artifact lives in its own home (never the user's `$ENGINE_HOME`, where a random `siglip`
would shadow a real one) and is rebuilt only when its inputs change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

MODEL = "siglip"
SIZES = {
    "tiny": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                 image_size=32, patch_size=8),
    "base": {},  # SiglipVisionConfig's defaults are siglip-base-patch16-224's vision tower
}
SEED = 0


@dataclass(frozen=True)
class BenchEncoder:
    """A built artifact and how to describe it beside the figures."""

    size: str
    home: Path  # ENGINE_HOME holding `siglip/` (manifest, model.onnx, model.plan where built)
    weights: Path
    parameters: int
    image_size: int
    built: tuple[str, ...]  # backends the artifact has files for: onnx, tensorrt

    def describe(self) -> dict:
        if self.size == "real":
            architecture, weights = "SiglipVisionModel (the built artifact)", f"{self.weights} (real)"
        else:
            size = "siglip-base-patch16-224 size" if self.size == "base" else "tiny"
            architecture = f"SiglipVisionModel ({size})"
            weights = f"random (seed {SEED}): throughput only, not accuracy"
        return {"model": MODEL, "architecture": architecture, "parameters": self.parameters,
                "image_size": self.image_size, "weights": weights, "artifact": list(self.built)}


def build_bench_encoder(size: str, cache: Path, progress: Callable[[str], None] = lambda line: None) -> BenchEncoder:
    """Save the random model once under `cache`, then build (or reuse) its artifact there."""
    from filmline.export.build import build
    from filmline.export.pipeline import BuildRequest

    weights = save_bench_weights(size, cache, progress)
    home = cache / f"home-{size}"
    result = build(BuildRequest(model=MODEL, weights=str(weights), out=home / MODEL), progress)
    return _described(size, home, weights, tuple(result.manifest["built"]))


def bench_weights(size: str, cache: Path, progress: Callable[[str], None] = lambda line: None) -> BenchEncoder:
    """The random model's weights alone, without an artifact: what PyTorch runs from `--weights`."""
    weights = save_bench_weights(size, cache, progress)
    return _described(size, weights.parent, weights, ())


def save_bench_weights(size: str, cache: Path, progress: Callable[[str], None] = lambda line: None) -> Path:
    """The random-weight SigLIP of `size` in Hugging Face format under `cache`, saved once."""
    import torch
    from transformers import SiglipVisionConfig, SiglipVisionModel

    weights = cache / f"weights-{size}"
    if not (weights / "config.json").is_file():
        progress(f"saving a random-weight SigLIP ({size}) to {weights} ...")
        torch.manual_seed(SEED)
        model = SiglipVisionModel(SiglipVisionConfig(**SIZES[size]))
        weights.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(weights)
        preprocessor = {"do_normalize": True, "do_resize": True, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}
        (weights / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
    return weights


def _described(size: str, home: Path, weights: Path, built: tuple[str, ...]) -> BenchEncoder:
    config = json.loads((weights / "config.json").read_text())
    return BenchEncoder(size, home, weights, _parameter_count(weights), int(config["image_size"]), built)


def built_encoder(home: Path) -> BenchEncoder:
    """The real encoder `engine-build` put in `home` (`--real-encoder`): its figures count."""
    from filmline.engine.errors import MissingModelError
    from filmline.engine.backends.manifest import MANIFEST, read_manifest

    folder = home / MODEL
    if not (folder / MANIFEST).is_file():
        raise MissingModelError(f"no built {MODEL} in {home}: run `engine-build --model {MODEL}` first, "
                                "or drop --real-encoder to time a random-weight one")
    manifest = read_manifest(folder)
    source = manifest["weights"]["source"]
    local = Path(source)
    return BenchEncoder("real", home, Path(source), _parameter_count(local) if local.is_dir() else 0,
                        int(manifest["input"]["image_size"]), tuple(manifest["built"]))


def _parameter_count(weights: Path) -> int:
    from safetensors import safe_open

    total = 0
    for file in sorted(weights.glob("*.safetensors")):
        with safe_open(str(file), framework="np") as tensors:
            for name in tensors.keys():
                shape = tensors.get_slice(name).get_shape()
                count = 1
                for dim in shape:
                    count *= dim
                total += count
    return total

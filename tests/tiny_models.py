"""Tiny SigLIP and CLIP vision models with random weights, saved in Hugging Face format.

No weights can be downloaded here, so the real loading code (`engine-build --weights DIR`) is
exercised on these: same classes and file layout as the real checkpoints, ~100 k parameters.
The fixtures are session-scoped; import them into conftest.py to share them across modules.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

TINY_IMAGE_SIZE = 32
TINY_HIDDEN = 32
TINY_CLIP_PROJECTION = 16  # differs from the hidden size, so the projection is really used
_COMMON = dict(
    hidden_size=TINY_HIDDEN,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    image_size=TINY_IMAGE_SIZE,
    patch_size=8,
)


def save_tiny_siglip(folder: Path, seed: int = 0) -> Path:
    """A random `SiglipVisionModel` (pooled embedding of size 32) saved to `folder`."""
    import torch
    from transformers import SiglipVisionConfig, SiglipVisionModel

    torch.manual_seed(seed)
    model = SiglipVisionModel(SiglipVisionConfig(**_COMMON))
    return _save(model, folder, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def save_tiny_clip(folder: Path, seed: int = 0) -> Path:
    """A random `CLIPVisionModelWithProjection` (image_embeds of size 16) saved to `folder`."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    config = CLIPVisionConfig(**_COMMON, projection_dim=TINY_CLIP_PROJECTION)
    model = CLIPVisionModelWithProjection(config)
    mean = (0.48145466, 0.4578275, 0.40821073)
    std = (0.26862954, 0.26130258, 0.27577711)
    return _save(model, folder, mean=mean, std=std)


def _save(model, folder: Path, *, mean: tuple, std: tuple) -> Path:
    """`save_pretrained` plus the preprocessor_config.json a real checkpoint ships with."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    preprocessor = {
        "do_normalize": True,
        "do_resize": True,
        "image_mean": list(mean),
        "image_std": list(std),
        "size": {"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
    return folder


@pytest.fixture(scope="session")
def tiny_siglip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_siglip(tmp_path_factory.mktemp("weights") / "tiny-siglip")


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("weights") / "tiny-clip")


@pytest.fixture(scope="session")
def tiny_siglip_home(tmp_path_factory: pytest.TempPathFactory, tiny_siglip_dir: Path) -> Path:
    """An ENGINE_HOME holding the tiny SigLIP as `engine-build` builds it (no --out given)."""
    from filmline.export.cli import main

    home = tmp_path_factory.mktemp("engine-home")
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setenv("ENGINE_HOME", str(home))
        code = main(["--model", "siglip", "--weights", str(tiny_siglip_dir)])
    assert code == 0, printed.getvalue()
    return home


def tiny_torch_runner(weights: Path, device: str = "cpu", **options):
    """A `TorchRunner` on its own freshly loaded copy of `weights` (`.to()` moves a module in place,
    so two runners never share one); `options` as `TorchRunner` takes them (precision, cuda_graphs)."""
    from filmline.engine.backends.base import ModelInput
    from filmline.engine.backends.torch_runner import TorchRunner
    from filmline.engine.config import model_spec
    from filmline.engine.backends.weights import load_encoder

    encoder = load_encoder(model_spec("siglip"), weights)
    info = ModelInput.for_pixels("siglip", encoder.image_size, encoder.mean, encoder.std, encoder.embedding_dim)
    return TorchRunner(encoder, info, device, **options)

"""The models the engine runs, one `ModelEntry` each: how PyTorch loads it and what it reads.

Image encoders (every `configs/models/*.yaml`), the trigger CNN's frame encoder, the intro
transformer and TransNetV2. The registry's `model` table names the entries; `open_model` opens
any of them the same way. The trigger model's temporal head always runs in PyTorch
(`trigger_head`): the exported graph is its per-frame encoder alone (see `filmline.export.trigger`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from filmline.engine.backends.base import FEATURE_WINDOWS, FRAME_WINDOWS, PIXELS, ModelInput
from filmline.engine.backends.entry import Artifact, ModelEntry
from filmline.engine.errors import MissingModelError

if TYPE_CHECKING:
    import torch

TRIGGER_BUILD = "engine-build --model trigger --checkpoint FILE"
TRIGGER_TORCH_FILE = "torch"  # the manifest `files` entry of trigger.pt (head + encoder weights)
INTRO_WEIGHTS_FILE = "weights"  # the manifest `files` entry of the intro's model.pt


# --- image encoders: Hugging Face weights (a hub id or a folder), or the artifact built from them

def _load_encoder(artifact: Artifact, weights: str | None) -> tuple["torch.nn.Module", ModelInput]:
    """Reload the manifest's weights (or `weights`); cite the manifest only if they match it."""
    from filmline.engine.backends.weights import load_encoder
    from filmline.engine.config import model_spec

    built = artifact.manifest["weights"] if artifact.manifest else {}
    encoder = load_encoder(model_spec(artifact.name), weights or built.get("source"))
    same = bool(built) and (encoder.source.location, encoder.source.revision) == (built["source"], built["revision"])
    return encoder, ModelInput.for_pixels(artifact.name, encoder.image_size, encoder.mean, encoder.std,
                                          encoder.embedding_dim, artifact.hash if same else None, artifact.manifest)


def _encoder_built_from(artifact: Artifact, weights: str) -> bool:
    from filmline.engine.backends.weights import locate_weights
    from filmline.engine.config import model_spec

    source = locate_weights(model_spec(artifact.name), weights)
    built = artifact.manifest["weights"]
    return (source.location, source.revision) == (built["source"], built["revision"])


IMAGE_ENCODER = ModelEntry(
    kind=PIXELS,
    build_fix="engine-build --model {name} --weights DIR",
    load_torch=_load_encoder,
    needs_manifest=False,
    noun="encoder",
    missing_fix=" with a Hugging Face-format folder to enable it",
    built_from=_encoder_built_from,
)


# --- the trigger CNN: its frame encoder runs like an image encoder; the head (below) in PyTorch

def _trigger_parts(path: Path) -> tuple[Any, dict[str, Any]]:
    """The config and state dict of the artifact's trigger.pt; a damaged file means "rebuild"."""
    import torch

    from filmline.engine.models.trigger import TriggerConfig

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        return TriggerConfig.from_dict(saved["config"]), saved["state_dict"]
    except Exception as err:  # a damaged or foreign file fails in many ways; all mean "rebuild"
        raise MissingModelError(f"cannot load {path} ({type(err).__name__}): run `{TRIGGER_BUILD} --force`") from err


def _part(module: Any, state: dict[str, Any], prefix: str, path: Path) -> Any:
    try:
        module.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    except Exception as err:  # shapes of another architecture
        raise MissingModelError(f"cannot load {path} ({type(err).__name__}): run `{TRIGGER_BUILD} --force`") from err
    return module.eval()


def _load_trigger_encoder(artifact: Artifact, weights: str | None) -> tuple["torch.nn.Module", ModelInput]:
    from filmline.engine.models.trigger import VisualEncoder

    path = artifact.file(TRIGGER_TORCH_FILE)
    config, state = _trigger_parts(path)
    encoder = _part(VisualEncoder(config), state, "visual_encoder.", path)
    return encoder, ModelInput.from_manifest(PIXELS, artifact.manifest, artifact.hash)


TRIGGER = ModelEntry(kind=PIXELS, build_fix=TRIGGER_BUILD, load_torch=_load_trigger_encoder,
                     torch_file=TRIGGER_TORCH_FILE)


def trigger_head(artifact: Artifact) -> tuple[Any, Callable[[np.ndarray], np.ndarray]]:
    """The trigger model's config and its head as features [N, D] → confidences [N], in PyTorch
    (the manifest's `head.runtime`)."""
    import torch

    from filmline.engine.models.trigger import TriggerHead, trigger_confidence

    path = artifact.file(TRIGGER_TORCH_FILE)
    if (artifact.manifest or {}).get("head", {}).get("runtime") != "torch" or path is None:
        raise MissingModelError(f"{artifact.folder} lacks the trigger head (built by another engine version): "
                                f"run `{TRIGGER_BUILD} --force`")
    config, state = _trigger_parts(path)
    head = _part(TriggerHead(config), state, "trigger_detector.", path)

    def run(features: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return trigger_confidence(head(torch.from_numpy(features).unsqueeze(0)))[0].numpy()

    return config, run


# --- the intro transformer: windows of 1 frame/s embeddings

def _load_intro(artifact: Artifact, weights: str | None) -> tuple["torch.nn.Module", ModelInput]:
    from filmline.engine.models.intro import load_checkpoint

    model = load_checkpoint(artifact.file(INTRO_WEIGHTS_FILE)).model.eval()
    return model, ModelInput.from_manifest(FEATURE_WINDOWS, artifact.manifest, artifact.hash)


INTRO = ModelEntry(kind=FEATURE_WINDOWS, build_fix="engine-build --model intro --checkpoint FILE",
                   load_torch=_load_intro, torch_file=INTRO_WEIGHTS_FILE, torch_precision="fp32", cuda_graphs=False)


# --- TransNetV2: windows of 100 small frames; PyTorch needs no artifact (the installed weights)

def _load_transnetv2(artifact: Artifact, weights: str | None) -> tuple["torch.nn.Module", ModelInput]:
    from filmline.engine.models.transnetv2 import HEIGHT, WIDTH, WINDOW, load_transnetv2

    # PyTorch runs the installed distribution's weights, which no manifest describes
    return load_transnetv2(), ModelInput(artifact.name, FRAME_WINDOWS, (WINDOW, HEIGHT, WIDTH, 3),
                                         manifest=artifact.manifest)


TRANSNETV2 = ModelEntry(kind=FRAME_WINDOWS, build_fix="engine-build --model transnetv2",
                        load_torch=_load_transnetv2, needs_manifest=False, cuda_graphs=False)

"""Trigger-model checkpoints: read one, infer the architecture from its shapes, load it, report the fit.

A published checkpoint is `torch.save({"epoch", "model_state_dict", "optimizer_state_dict", "loss",
...})`; a bare `state_dict` is accepted too. The frozen language model it may carry (keys under
`temporal_llm.`, gigabytes for LLaVA) is skipped; the file is memory-mapped, so skipped weights are
never read into memory. Tensors the model needs but the file lacks, and tensors the file has but
the model does not, are reported; with `strict` they are fatal. `engine-train trigger` writes the
same layout plus an `engine` entry with what shapes cannot tell (the input size).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from filmline.engine.config import read_config
from filmline.engine import file_hash
from filmline.engine.errors import BadInputError, MissingModelError
from filmline.engine.models.resnet import LAYOUTS, torchvision_to_sequential
from filmline.engine.models.trigger import TriggerConfig, TriggerModel
from filmline.engine.models.trigger_time_aware import TimeAwareConfig
from filmline.engine.output_files import atomic_path

SKIPPED_PREFIX = "temporal_llm."  # the original's frozen (LLaVA or text) language model
_BACKBONE = "visual_encoder.backbone."
_TIME = "time_aware_encoder."
_FIX = "pass a checkpoint saved by the original trigger model's train.py or by engine-train trigger"


@dataclass(frozen=True)
class LoadReport:
    """How a checkpoint file fits the trigger model."""

    path: Path
    sha256: str
    epoch: int | None
    missing: tuple[str, ...]  # needed by the model, absent from the file: left at their initial values
    unexpected: tuple[str, ...]  # in the file, unknown to the model: ignored
    skipped: int  # language-model tensors, not part of the trigger model

    @property
    def exact(self) -> bool:
        return not self.missing and not self.unexpected

    def problem(self) -> str:
        """One line on what does not fit ('' when the fit is exact)."""
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} tensors of the model are missing (e.g. {self.missing[0]})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} tensors are unknown to it (e.g. {self.unexpected[0]})")
        return " and ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "epoch": self.epoch,
            "missing": list(self.missing),
            "unexpected": list(self.unexpected),
            "skipped_language_model_tensors": self.skipped,
        }


def file_sha256(path: Path) -> str:
    """The file's digest as the manifest records a checkpoint: `sha256:<hex>`."""
    return "sha256:" + file_hash.file_sha256(path)


def load_trigger_checkpoint(path: Path, *, strict: bool = False, sha256: str | None = None) -> tuple[TriggerModel, LoadReport]:
    """The trigger model in eval mode on the CPU, and how the file fitted it (`sha256`: the
    file's digest when the caller has it already; a seed file with LLaVA is gigabytes)."""
    path = Path(path).expanduser().resolve()
    raw = _read(path)
    state = raw.get("model_state_dict", raw)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BadInputError(f"{path} holds no state_dict (no 'model_state_dict' of tensors): {_FIX}")
    kept = {k: v for k, v in state.items() if not k.startswith(SKIPPED_PREFIX)}
    config = infer_config(kept, path, raw.get("engine", {}).get("config", {}))
    model = TriggerModel(config)
    expected = model.state_dict()
    for key, value in kept.items():
        if key in expected and value.shape != expected[key].shape:
            raise BadInputError(
                f"{path} does not fit a {config.encoder} trigger model: {key} has shape "
                f"{tuple(value.shape)} where the model needs {tuple(expected[key].shape)}: {_FIX}"
            )
    result = model.load_state_dict(kept, strict=False)
    epoch = raw.get("epoch")
    report = LoadReport(
        path=path,
        sha256=sha256 or file_sha256(path),
        epoch=int(epoch) if isinstance(epoch, int) else None,
        missing=tuple(sorted(result.missing_keys)),
        unexpected=tuple(sorted(result.unexpected_keys)),
        skipped=len(state) - len(kept),
    )
    if strict and not report.exact:
        raise BadInputError(f"{path} does not match the trigger model exactly: {report.problem()}; drop --strict to load it anyway")
    return model.eval(), report


def infer_config(state: dict[str, torch.Tensor], path: Path, engine_config: dict[str, Any]) -> TriggerConfig:
    """The architecture the tensors describe; `engine_config` adds what shapes cannot tell."""
    if f"{_BACKBONE}0.weight" in state:
        encoder, width = _resnet(state, path), int(state[f"{_BACKBONE}0.weight"].shape[0])
    elif f"{_BACKBONE}0.0.0.weight" in state:  # torchvision EfficientNet: features.0 = conv, bn, act
        encoder, width = "efficientnet_b0", TriggerConfig.width
    else:
        prefixes = sorted({key.split(".")[0] for key in state})[:4]
        raise BadInputError(
            f"{path} is not a trigger-model checkpoint: it has no visual_encoder.backbone tensors "
            f"(it has {', '.join(prefixes) or 'no tensors'}): {_FIX}"
        )
    defaults = read_config("trigger.yaml")["model"]
    return TriggerConfig(
        encoder=encoder,
        width=width,
        feature_dim=_shape(state, "visual_encoder.projection.5.weight", path)[0],
        hidden_dim=_shape(state, "trigger_detector.feature_projection.0.weight", path)[0],
        temporal=any(key.startswith("trigger_detector.temporal_encoder.") for key in state),
        num_classes=_shape(state, "trigger_detector.classifier.3.weight", path)[0],
        image_size=int(engine_config.get("image_size", defaults["image_size"])),
        time_aware=_time_aware(state, path, defaults["time_aware_heads"]),
    )


def _resnet(state: dict[str, torch.Tensor], path: Path) -> str:
    """resnet18 or resnet50, from the block structure under backbone.4-7 (layer1-4)."""
    counts = []
    for stage in range(4, 8):
        found = {m.group(1) for key in state if (m := re.match(rf"{re.escape(_BACKBONE)}{stage}\.(\d+)\.", key))}
        counts.append(len(found))
    kind = "bottleneck" if any(key.endswith(".conv3.weight") for key in state if key.startswith(_BACKBONE)) else "basic"
    for name, layout in LAYOUTS.items():
        if layout == (kind, tuple(counts)):
            return name
    raise BadInputError(
        f"{path} has a ResNet backbone of {kind} blocks {counts}, which is neither resnet18 "
        f"(basic [2, 2, 2, 2]) nor resnet50 (bottleneck [3, 4, 6, 3]): {_FIX}"
    )


def _time_aware(state: dict[str, torch.Tensor], path: Path, heads: int) -> TimeAwareConfig | None:
    keys = [key[len(_TIME):] for key in state if key.startswith(_TIME)]
    if not keys:
        return None
    hidden, input_dim = _shape(state, f"{_TIME}input_projection.weight", path)
    layers = {int(m.group(2)) for key in keys if (m := re.match(r"encoder\.(layers\.|weight_ih_l)(\d+)", key))}
    kind = "lstm" if any(key.startswith("encoder.weight_ih_l") for key in keys) else "transformer"
    pe = state.get(f"{_TIME}pos_encoding.pe")
    return TimeAwareConfig(
        input_dim=input_dim,
        hidden_dim=hidden,
        num_layers=max(layers, default=-1) + 1,
        num_heads=heads,
        kind=kind,
        use_timestamps=f"{_TIME}timestamp_embedding.weight" in state,
        max_positions=int(pe.shape[1]) if pe is not None else TimeAwareConfig.max_positions,
    )


def _shape(state: dict[str, torch.Tensor], key: str, path: Path) -> tuple[int, ...]:
    if key not in state:
        raise BadInputError(f"{path} lacks {key}, which fixes the model's shape: {_FIX}")
    return tuple(int(n) for n in state[key].shape)


def _read(path: Path) -> dict[str, Any]:
    """`torch.load` of tensors and plain values only (no code runs), memory-mapped where possible."""
    if not path.is_file():
        raise MissingModelError(f"checkpoint {path} does not exist: {_FIX}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as err:  # torch.load raises many types; all mean "not a readable checkpoint"
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise BadInputError(
            f"cannot read {path} as a PyTorch checkpoint ({first}); the file is truncated, damaged "
            f"or not a torch.save file: {_FIX}"
        ) from err
    if not isinstance(raw, dict):
        raise BadInputError(f"{path} holds a {type(raw).__name__}, not a checkpoint dict: {_FIX}")
    return raw


def save_trigger_checkpoint(path: Path, model: TriggerModel, *, epoch: int, loss: float, metadata: dict[str, Any]) -> None:
    """The original's layout, plus `engine`: the config and what training measured. The optimizer
    state is left empty (training does not resume); the key keeps the original's layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "epoch": epoch,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": {},
        "loss": float(loss),
        "engine": {"config": model.config.as_dict(), **metadata},
    }
    with atomic_path(path) as temporary:
        torch.save(checkpoint, temporary)


def load_backbone_weights(model: TriggerModel, path: Path) -> None:
    """ImageNet weights in torchvision's ResNet layout (e.g. `resnet50-0676ba61.pth`) into the
    backbone, so training starts from them; any tensor that does not fit is an error."""
    path = Path(path).expanduser().resolve()
    if model.config.encoder not in LAYOUTS:
        raise BadInputError(f"--backbone-weights takes torchvision ResNet weights; the encoder is {model.config.encoder}")
    raw = _read(path)
    try:
        renamed = torchvision_to_sequential(raw)
    except ValueError as err:
        raise BadInputError(f"{path} is not a torchvision ResNet state_dict ({err}): pass e.g. resnet50-0676ba61.pth") from None
    backbone = model.visual_encoder.backbone
    present = backbone.state_dict()
    # torchvision's published files predate num_batches_tracked; batch norm fills it in
    wrong = [k for k, v in present.items() if not k.endswith("num_batches_tracked") and (k not in renamed or renamed[k].shape != v.shape)]
    wrong += [k for k in renamed if k not in present]
    if wrong:
        raise BadInputError(
            f"{path} does not fit a {model.config.encoder} of width {model.config.width} "
            f"(e.g. {wrong[0]}): pass the torchvision weights of that network"
        )
    backbone.load_state_dict(renamed)

"""The intro paper's intro transformer, and its checkpoints read as their users saved them.

Embeddings [B, W, D] at 1 frame/s + a learnable positional embedding [1, W, D] → a post-norm
`nn.TransformerEncoder` (ReLU, PyTorch's defaults, as the seed builds it) → `Linear(D, K)` per
step → logits [B, W, K]. K = 1 is the paper's intro output; K = 2 adds a credits output, which the
engine's own training writes when the annotations have credits. Parameter names are the paper's,
so a seed `state_dict` loads as is.

A state_dict stores every size but the number of heads; that comes from the checkpoint's own
config (ours) or from configs/intro.yaml (the paper's 16).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from filmline.engine.config import read_config
from filmline.engine.errors import BadInputError, MissingModelError
from filmline.engine.file_hash import file_sha256
from filmline.engine.output_files import atomic_path

OUTPUT_NAMES = ("intro", "credits")
CHECKPOINT_FORMAT = "filmline-intro"  # our checkpoints: config + embedder + state_dict + metrics
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")  # where training scripts nest weights
_CLIP_PREFIX = "clip."
_MODEL_PREFIXES = ("transformer.", "head.", "pos_embed")
_LAYER_KEY = re.compile(r"^transformer\.layers\.(\d+)\.")


@dataclass(frozen=True)
class IntroConfig:
    """The sizes of one intro transformer (the paper's are in configs/intro.yaml: `from_yaml`)."""

    window: int
    dim: int
    layers: int
    heads: int
    feedforward: int
    dropout: float
    outputs: tuple[str, ...] = ("intro",)  # ("intro", "credits") for a model trained on both

    def __post_init__(self) -> None:
        for name in ("window", "dim", "layers", "heads", "feedforward"):
            if getattr(self, name) < 1:
                raise ValueError(f"IntroConfig.{name} must be >= 1; got {getattr(self, name)}")
        if self.dim % self.heads:
            raise ValueError(f"IntroConfig.dim {self.dim} is not divisible by heads {self.heads}")
        if self.outputs not in (OUTPUT_NAMES[:1], OUTPUT_NAMES):
            raise ValueError(f"IntroConfig.outputs must be ('intro',) or {OUTPUT_NAMES}; got {self.outputs}")

    @classmethod
    def from_yaml(cls, **overrides: Any) -> "IntroConfig":
        """configs/intro.yaml's `model` sizes, with `overrides` (e.g. a tiny model for tests)."""
        raw = {k: v for k, v in read_config("intro.yaml")["model"].items() if k != "embedder"}
        return cls(**{**raw, **overrides})

    def as_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["outputs"] = list(self.outputs)
        return record


def default_embedder() -> str:
    """The encoder a published checkpoint reads (CLIP ViT-B/32), from configs/intro.yaml."""
    return str(read_config("intro.yaml")["model"]["embedder"])


class IntroTransformer(nn.Module):
    """Per-step intro (and credits) logits for windows of embeddings."""

    def __init__(self, config: IntroConfig) -> None:
        super().__init__()
        self.config = config
        self.pos_embed = nn.Parameter(torch.zeros(1, config.window, config.dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        layer = nn.TransformerEncoderLayer(
            config.dim, config.heads, config.feedforward, config.dropout, batch_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.head = nn.Linear(config.dim, len(config.outputs))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """float [B, W, D] → logits [B, W, K]."""
        return self.head(self.transformer(embeddings + self.pos_embed))


@dataclass(frozen=True)
class LoadedIntro:
    """A checkpoint turned into a model, with what the engine noticed on the way."""

    model: IntroTransformer
    embedder: str  # encoder whose embeddings the model reads, e.g. "clip-b32"
    source: Path
    sha256: str
    notes: tuple[str, ...]  # one line each: ignored CLIP tower, unexpected keys, nesting
    metrics: dict[str, Any]  # validation metrics stored by engine-train (empty for the paper's)


def load_checkpoint(path: str | Path, *, strict: bool = False, heads: int | None = None) -> LoadedIntro:
    """Read a published `state_dict` (bare or nested) or an engine-train checkpoint.

    Sizes come from the weights' shapes. A CLIP tower under `clip.*` is ignored with a note;
    other unexpected keys are a note, or a `BadInputError` with `strict`. Missing keys, and extra
    ones inside the model (e.g. a final `transformer.norm`), are always a `BadInputError`: the
    model would compute something else than what was trained.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingModelError(f"intro checkpoint {path} does not exist: pass the intro transformer's state_dict file or one saved by engine-train")
    payload = _read(path)
    notes: list[str] = []
    ours = isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT
    state = _state_dict(payload, path, notes)
    clip = [key for key in state if key.startswith(_CLIP_PREFIX)]
    if clip:
        notes.append(
            f"ignored the CLIP tower stored with the model ({len(clip)} clip.* tensors): "
            "the engine computes embeddings itself"
        )
        state = {k: v for k, v in state.items() if not k.startswith(_CLIP_PREFIX)}
    config = _config_from(state, path, payload["config"] if ours else None, heads)
    model = IntroTransformer(config)
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    if missing:
        raise BadInputError(
            f"{path} lacks {len(missing)} intro-transformer weights ({_few(missing)}): it is not a complete "
            "intro-transformer checkpoint; pass the file saved with torch.save(model.state_dict(), ...)"
        )
    unexpected = [key for key in state if key not in expected]
    foreign = [key for key in unexpected if key.startswith(_MODEL_PREFIXES)]
    if foreign:
        raise BadInputError(
            f"{path} has weights the intro transformer's architecture lacks ({_few(foreign)}): ignoring them would change "
            "what the model computes; pass a checkpoint of the intro transformer (arXiv 2504.09738)"
        )
    if unexpected:
        line = f"{len(unexpected)} unexpected keys in {path.name} ({_few(unexpected)})"
        if strict:
            raise BadInputError(f"{line}: drop --strict to ignore them, or pass the intro model's own state_dict")
        notes.append(f"ignored {line}")
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if state[k].shape != v.shape]
    if wrong:
        raise BadInputError(f"{path} has weights of inconsistent shapes ({_few(wrong)}): the checkpoint is damaged")
    model.load_state_dict({k: state[k] for k in expected})
    model.eval()
    return LoadedIntro(
        model=model,
        embedder=str(payload.get("embedder") or default_embedder()) if ours else default_embedder(),
        source=path.absolute(),
        sha256=file_sha256(path),
        notes=tuple(notes),
        metrics=dict(payload.get("metrics") or {}) if ours else {},
    )


def save_checkpoint(
    model: IntroTransformer, path: str | Path, *, embedder: str, metrics: dict[str, Any] | None = None
) -> Path:
    """Write an engine-train checkpoint atomically; `load_checkpoint` and engine-build read it."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": model.config.as_dict(),
        "embedder": embedder,
        "metrics": metrics or {},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)
    return path


def _read(path: Path) -> Any:
    """torch.load without executing pickled code: checkpoints are tensors, dicts and numbers."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises pickle, zip and runtime errors for foreign files
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise BadInputError(
            f"{path} is not a readable PyTorch checkpoint ({first}): pass a file saved with "
            "torch.save(model.state_dict(), path)"
        ) from err


def _state_dict(payload: Any, path: Path, notes: list[str]) -> dict[str, torch.Tensor]:
    """The tensors of the model, wherever the saving script put them."""
    state = payload
    if isinstance(payload, dict) and not _all_tensors(payload):
        nested = next((k for k in _WRAPPER_KEYS if isinstance(payload.get(k), dict)), None)
        if nested is None:
            raise BadInputError(
                f"{path} holds no intro-transformer state_dict (top-level keys: {_few(list(payload))}): "
                "pass the file saved with torch.save(model.state_dict(), path)"
            )
        if payload.get("format") != CHECKPOINT_FORMAT:
            notes.append(f"read the weights nested under '{nested}'")
        state = payload[nested]
    if not isinstance(state, dict) or not _all_tensors(state):
        raise BadInputError(
            f"{path} is not a state_dict of tensors: pass the file saved with torch.save(model.state_dict(), path)"
        )
    if state and all(key.startswith("module.") for key in state):  # saved from nn.DataParallel
        notes.append("removed the 'module.' prefix of a DataParallel model")
        state = {key[len("module."):]: value for key, value in state.items()}
    return dict(state)


def _config_from(
    state: dict[str, torch.Tensor], path: Path, stored: dict[str, Any] | None, heads: int | None
) -> IntroConfig:
    """Sizes from the tensors' shapes; heads from the stored config, `heads`, or the YAML."""
    needed = ("pos_embed", "head.weight", "transformer.layers.0.linear1.weight")
    absent = [key for key in needed if key not in state]
    if absent:
        raise BadInputError(
            f"{path} lacks {', '.join(absent)}: it is not an intro-transformer checkpoint "
            f"(found {_few(list(state))}); pass the intro model's state_dict"
        )
    pos, head = state["pos_embed"], state["head.weight"]
    if pos.ndim != 3 or pos.shape[0] != 1 or head.ndim != 2 or not 1 <= head.shape[0] <= len(OUTPUT_NAMES):
        raise BadInputError(
            f"{path}: pos_embed {tuple(pos.shape)} and head.weight {tuple(head.shape)} are not an intro "
            "transformer's ([1, W, D] and [1 or 2, D]); pass the intro model's state_dict"
        )
    base = IntroConfig(**{**stored, "outputs": tuple(stored["outputs"])}) if stored else IntroConfig.from_yaml()
    layers = 1 + max(int(m.group(1)) for key in state if (m := _LAYER_KEY.match(key)))
    try:
        return replace(
            base,
            window=int(pos.shape[1]),
            dim=int(pos.shape[2]),
            layers=layers,
            heads=heads or base.heads,
            feedforward=int(state["transformer.layers.0.linear1.weight"].shape[0]),
            outputs=OUTPUT_NAMES[: head.shape[0]],
        )
    except ValueError as err:
        raise BadInputError(f"{path}: {err}; set model.heads in configs/intro.yaml to a divisor of the width") from None


def _all_tensors(mapping: dict) -> bool:
    return all(isinstance(value, torch.Tensor) for value in mapping.values())


def _few(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")

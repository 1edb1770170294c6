"""Load an image encoder from a Hugging Face id or folder: offline first, never silently random.

Hub ids are looked up in the local cache before any network access, and the hub is only asked
when it answers a 3-second connection probe, so a machine without network fails in well under a
second instead of retrying for half a minute. Every failure is a `MissingModelError` or
`BadInputError` whose message names the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from filmline.engine.backends.families import EncoderFamily, encoder_family
from filmline.engine.config import ModelSpec
from filmline.engine.errors import BadInputError, MissingModelError, first_line

_HASHED_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".json")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


@dataclass(frozen=True)
class WeightsSource:
    """Where weights came from, precisely enough to reload the same ones later."""

    kind: str  # "local" (a folder) or "hub" (a Hugging Face id)
    location: str  # absolute folder path, or the hub id
    revision: str | None  # hub commit hash, or sha256 of the folder's weight and config files
    folder: Path | None  # the files on disk (the folder, or the hub cache snapshot)


class Encoder(torch.nn.Module):
    """`pixel_values` float [B, 3, S, S], already normalised → embeddings float [B, D].

    Carries what a runner needs besides the graph: input size, normalisation, embedding size
    and the weights' source.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        output: str,
        *,
        spec: ModelSpec,
        source: WeightsSource,
        image_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
    ) -> None:
        super().__init__()
        self.model = model
        self.output = output
        self.spec = spec
        self.source = source
        self.image_size = image_size
        self.mean = mean
        self.std = std
        self.embedding_dim = self._probe_embedding_dim()

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return getattr(self.model(pixel_values=pixel_values), self.output)

    def _probe_embedding_dim(self) -> int:
        """The embedding size as the loaded model produces it (the YAML only knows the default)."""
        dtype = next(self.model.parameters()).dtype
        probe = torch.zeros(1, 3, self.image_size, self.image_size, dtype=dtype)
        with torch.inference_mode():
            return int(self.forward(probe).shape[-1])


def locate_weights(spec: ModelSpec, weights: str | Path | None = None) -> WeightsSource:
    """Where `weights` (a folder or hub id; default `spec.source`) are, without loading them.

    Cheap enough to decide whether a build is current: a folder is hashed, a hub id is looked up
    in the local cache only (revision None when it is not cached yet).
    """
    config = encoder_family(spec)
    where = str(weights) if weights is not None else spec.source
    folder = Path(where).expanduser()
    if folder.is_dir():
        folder = folder.resolve()
        _check_local(config, folder)
        return WeightsSource("local", str(folder), folder_content_hash(folder), folder)
    if folder.exists():
        raise BadInputError(
            f"weights '{where}' is a file: pass a Hugging Face-format folder "
            "(config.json + model.safetensors) or a hub id"
        )
    if _HUB_ID.fullmatch(where) is None:
        raise MissingModelError(
            f"weights folder '{where}' does not exist: pass --weights with a Hugging Face-format "
            "folder (config.json + model.safetensors)"
        )
    snapshot, revision = _hub_snapshot(where)
    if snapshot is not None:
        _check_local(config, snapshot)
    return WeightsSource("hub", where, revision, snapshot)


def load_encoder(
    spec: ModelSpec, weights: str | Path | WeightsSource | None = None
) -> Encoder:
    """Load `spec`'s encoder in fp32, eager attention, eval mode, on the CPU.

    `weights` is a Hugging Face id or a folder in Hugging Face format (default `spec.source`),
    or what `locate_weights` made of one, which saves hashing a large folder twice.
    """
    config = encoder_family(spec)
    source = weights if isinstance(weights, WeightsSource) else locate_weights(spec, weights)
    if source.kind == "local":
        model = _from_pretrained(config, source.location, local_files_only=True)
    else:
        model = _load_hub(config, source)
        source = locate_weights(spec, source.location)  # the snapshot is cached now
    mean, std = _normalisation(spec, source.folder)
    image_size = int(model.config.image_size)
    return Encoder(
        model, config.output, spec=spec, source=source, image_size=image_size, mean=mean, std=std
    ).eval()


def _check_local(config: EncoderFamily, folder: Path) -> None:
    """A Hugging Face folder (or hub snapshot) of the right family: another family's weights
    would not fit, leaving the model partly random."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise MissingModelError(
            f"'{folder}' is not a Hugging Face model folder (no config.json): save the model "
            "with save_pretrained() or pass a hub id"
        )
    model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
    if model_type not in config.model_types:
        raise BadInputError(
            f"'{folder}' holds a '{model_type}' model, not {config.family}: pass a folder whose "
            f"config.json has model_type {' or '.join(config.model_types)}"
        )


def _load_hub(config: EncoderFamily, source: WeightsSource) -> torch.nn.Module:
    """From the cache; else from the hub, only when downloads are allowed and it answers."""
    repo_id = source.location
    if source.folder is not None:
        return _from_pretrained(config, repo_id, local_files_only=True)
    fix = "pass --weights DIR with a Hugging Face-format folder, or build once with network access"
    missing = f"'{repo_id}' is neither a folder nor in the Hugging Face cache"
    if _offline():
        raise MissingModelError(f"{missing}, and downloads are off (HF_HUB_OFFLINE): {fix}")
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if not _reachable(endpoint):
        raise MissingModelError(f"{missing}, and {endpoint} is unreachable: {fix}")
    return _from_pretrained(config, repo_id, local_files_only=False)


def _from_pretrained(
    config: EncoderFamily, where: str, *, local_files_only: bool
) -> torch.nn.Module:
    """The Hugging Face model, or a `MissingModelError` when any weight would be left random."""
    import transformers

    model_class = getattr(transformers, config.model_class)
    try:
        model, info = model_class.from_pretrained(
            where,
            local_files_only=local_files_only,
            attn_implementation="eager",  # traceable; SDPA/flash kernels do not export cleanly
            dtype=torch.float32,
            output_loading_info=True,
        )
    except (OSError, ValueError, RuntimeError) as err:
        reason = first_line(err)
        raise MissingModelError(
            f"cannot load {config.family} weights from '{where}' ({reason}): pass --weights with a "
            "Hugging Face-format folder (config.json + model.safetensors)"
        ) from err
    refuse_missing_weights(info, where, config.model_class, config.family)
    return model.eval()


def refuse_missing_weights(info: dict[str, Any], where: object, model_class: str, family: str) -> None:
    """`from_pretrained(..., output_loading_info=True)` fills absent tensors with random values and
    only warns; a checkpoint that lacks some is refused here instead."""
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        raise MissingModelError(
            f"weights in '{where}' lack {len(missing)} tensors of {model_class} "
            f"(e.g. {missing[0]}): pass a complete {family} checkpoint"
        )


def _offline() -> bool:
    import huggingface_hub.constants

    flags = (os.environ.get(name, "") for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return huggingface_hub.constants.HF_HUB_OFFLINE or any(
        flag.strip().lower() in ("1", "true", "yes", "on") for flag in flags
    )


def _reachable(endpoint: str, timeout: float = 3.0) -> bool:
    """A TCP connection to the hub; with a proxy configured, let the hub client decide."""
    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return True
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def _hub_snapshot(repo_id: str) -> tuple[Path | None, str | None]:
    """The cache snapshot folder of `repo_id`; its name is the commit hash."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json")
    if not isinstance(cached, str):
        return None, None
    snapshot = Path(cached).parent
    return snapshot, snapshot.name


def folder_content_hash(folder: Path) -> str:
    """sha256 over the names and bytes of a folder's weight and config files (the revision of
    a local checkpoint, which has no commit hash)."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in _HASHED_SUFFIXES:
            digest.update(path.name.encode("utf-8") + b"\0")
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _normalisation(
    spec: ModelSpec, folder: Path | None
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """mean/std from the checkpoint's preprocessor_config.json when present, else the YAML."""
    if folder is not None and (folder / "preprocessor_config.json").is_file():
        raw = json.loads((folder / "preprocessor_config.json").read_text(encoding="utf-8"))
        if "image_mean" in raw and "image_std" in raw:
            return _triple(raw["image_mean"]), _triple(raw["image_std"])
    return spec.mean, spec.std


def _triple(values: list[float] | float) -> tuple[float, float, float]:
    if isinstance(values, (int, float)):
        return (float(values),) * 3
    if len(values) != 3:
        raise BadInputError(
            f"preprocessor_config.json has {len(values)} channel values: expected 3 (RGB)"
        )
    return (float(values[0]), float(values[1]), float(values[2]))

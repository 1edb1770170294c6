"""What `engine-run` computes for a video, built in one place from the command line and the
pipeline config (`configs/pipeline.yaml`, overlaid by the file `$ENGINE_CONFIG` names, then by
`--config FILE`), and its fingerprint.

A flag left out takes its value from the config; a flag given wins. The fingerprint is a hash
of every setting that changes a result (not where it is written or how the console looks) plus
the engine's version: a rerun compares it with the one stored in a finished result to decide
whether that result can be kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import filmline
from filmline.engine import registry
from filmline.engine.config import config_overlays, pipeline_config
from filmline.engine.errors import BadInputError
from filmline.engine.vlm.options import VlmOptions

if TYPE_CHECKING:  # heavy modules: imported when the settings are built, not for --help
    from filmline.engine.extra_stages import ExtraStageOptions
    from filmline.engine.pipeline import ShotSettings

BACKENDS = ("auto", *registry.names("runtime"), "none")
DETECTORS = ("auto", "transnetv2", "cheap")  # the shot detector: auto takes TransNetV2 where installed


@dataclass(frozen=True)
class RunSettings:
    """Every setting that decides what `engine-run` finds in a video."""

    shots: ShotSettings
    detector: str
    model: str
    weights: str | None
    backend: str
    batch_size: int
    precision: str | None
    decoder: str
    decode_sessions: int | None
    allow_truncated: bool
    stages: ExtraStageOptions
    vlm: VlmOptions

    def fingerprint(self) -> str:
        """`sha256:<hex>` of these settings, the VLM config file's bytes and the engine version."""
        settings = asdict(self)
        vlm_config = self.vlm.config_path
        settings["vlm"]["config_path"] = hashlib.sha256(vlm_config.read_bytes()).hexdigest() if vlm_config else None
        del settings["vlm"]["concurrency"]  # changes the speed, not the result
        settings["engine_version"] = filmline.__version__
        text = json.dumps(settings, sort_keys=True, default=str)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _as_field(value: Any) -> Any:
    """A YAML value as a frozen dataclass field holds it (lists become tuples)."""
    return tuple(value) if isinstance(value, list) else value


def build_run_settings(args: argparse.Namespace) -> RunSettings:
    """The settings of this run: the config (with `--config`), then the flags given; values checked."""
    from filmline.engine.extra_stages import ExtraStageOptions
    from filmline.engine.pipeline import ShotSettings

    overlays = config_overlays(args.config)
    config = pipeline_config(overlays)
    named = ", ".join(name for _, name in overlays) or "configs/pipeline.yaml"
    shots, keyframes = config["shots"], config["keyframes"]

    def chosen(flag: Any, configured: Any) -> Any:
        return configured if flag is None else flag

    fps = chosen(args.fps, config["fps"])
    threshold = chosen(args.threshold, shots["threshold"])
    min_shot = chosen(args.min_shot, shots["min_shot_seconds"])
    batch_size = chosen(args.batch_size, config["batch_size"])
    backend = chosen(args.backend, config["backend"])
    detector = chosen(args.detector, config["detector"])
    if fps <= 0:
        raise BadInputError(f"--fps must be positive, got {fps}; try --fps 1")
    if not 0.0 < threshold <= 1.0:
        raise BadInputError(f"--threshold must be in (0, 1], got {threshold}; the default is 0.825")
    if min_shot < 0:
        raise BadInputError(f"--min-shot must be >= 0 seconds, got {min_shot}")
    if batch_size < 1:
        raise BadInputError(f"--batch-size must be >= 1, got {batch_size}")
    if detector not in DETECTORS:
        raise BadInputError(f"detector '{detector}' in {named}: choose one of {', '.join(DETECTORS)}")
    if backend not in BACKENDS:
        raise BadInputError(f"backend '{backend}' in {named}: choose one of {', '.join(BACKENDS)}")
    chosen_values = {"fps": fps, "threshold": threshold, "min_shot_seconds": min_shot}
    configured = {**shots, **keyframes}  # configs/pipeline.yaml names every other field
    shot_settings = ShotSettings(**{
        f.name: chosen_values[f.name] if f.name in chosen_values else _as_field(configured[f.name])
        for f in fields(ShotSettings) if f.name in chosen_values or f.name in configured
    })
    stages = ExtraStageOptions(args.triggers, args.trigger_fps, args.trigger_threshold, args.intro, args.series, batch_size)
    return RunSettings(
        shots=shot_settings,
        detector=detector,
        model=chosen(args.model, config["model"]),
        weights=args.weights,
        backend=backend,
        batch_size=batch_size,
        precision=args.precision,
        decoder=args.decoder,
        decode_sessions=args.decode_sessions,
        allow_truncated=args.allow_truncated,
        stages=stages,
        vlm=VlmOptions.from_args(args),
    )

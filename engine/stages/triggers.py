"""The trigger stage: score frames sampled at ~3 fps with the built trigger model, keep the strong ones.

Frames arrive already resized (the pipeline decodes once and samples several rates). The encoder
runs a full batch at a time and only its features are kept ([N, 512]), never the images. At the
end the temporal head reads the whole feature sequence; frames at or above the threshold are
candidates, and a candidate within `suppress_seconds` of a stronger one is dropped.

`finish` returns a typed `TriggerResult`; the result document's `triggers` field is made from it
by `engine.document` (where the vision-language stage's `analysis` and `video_summary` join it).
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from filmline.engine import registry
from filmline.engine.backends.factory import GRAPH_FILES, auto_order, graph_runner
from filmline.engine.config import read_config
from filmline.engine.errors import BackendError, BadInputError, EngineError, MissingModelError
from filmline.engine.home import artifact_dir
from filmline.engine.preprocess import to_pixels

MODEL_NAME = "trigger"
_BUILD = "engine-build --model trigger --checkpoint FILE"
_DEFAULTS = read_config("trigger.yaml")["run"]
_EPSILON = 1e-9  # seconds: frame times are sums of float intervals


@dataclass(frozen=True)
class TriggerSettings:
    fps: float = float(_DEFAULTS["fps"])
    threshold: float = float(_DEFAULTS["threshold"])
    suppress_seconds: float = float(_DEFAULTS["suppress_seconds"])
    batch_size: int = int(_DEFAULTS["batch_size"])

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise BadInputError(f"--trigger-fps must be positive, got {self.fps}; the default is {_DEFAULTS['fps']}")
        if not 0.0 <= self.threshold <= 1.0:
            raise BadInputError(f"--trigger-threshold must be in [0, 1], got {self.threshold}; the default is {_DEFAULTS['threshold']}")
        if not self.suppress_seconds >= 0:
            raise BadInputError(f"the trigger suppression window must be >= 0 seconds, got {self.suppress_seconds}")
        if self.batch_size < 1:
            raise BadInputError(f"the trigger batch size must be >= 1, got {self.batch_size}")


def select_triggers(seconds: np.ndarray, confidences: np.ndarray, threshold: float, suppress_seconds: float) -> list[int]:
    """Positions of the kept triggers, in time order.

    Candidates (confidence >= threshold) are taken strongest first (the earlier on a tie); one
    closer than `suppress_seconds` to a kept trigger is dropped. O(n log n): a film at 3 fps has
    tens of thousands of frames.
    """
    seconds, confidences = np.asarray(seconds, dtype=np.float64), np.asarray(confidences)
    candidates = np.flatnonzero(confidences >= threshold)
    order = candidates[np.lexsort((seconds[candidates], -confidences[candidates]))]
    window = suppress_seconds - _EPSILON
    taken: list[float] = []  # kept times, sorted
    kept: list[int] = []
    for i in order:
        t = float(seconds[i])
        at = bisect.bisect_left(taken, t)
        if (at > 0 and t - taken[at - 1] < window) or (at < len(taken) and taken[at] - t < window):
            continue
        taken.insert(at, t)
        kept.append(int(i))
    return sorted(kept, key=lambda i: seconds[i])


@dataclass(frozen=True)
class Trigger:
    timestamp: float  # seconds
    frame_index: int
    confidence: float


@dataclass(frozen=True)
class TriggerResult:
    """One video's triggers, and what produced them."""

    frames_analyzed: int
    triggers: list[Trigger]
    settings: TriggerSettings
    model: dict[str, Any]  # backend and manifest facts
    seconds_spent: float  # encoder and head, for the result's `timings`


@dataclass
class _Sequence:
    """What one video has accumulated: a pending batch of images, and features of the rest."""

    frames: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    seconds_spent: float = 0.0


class TriggerDetector:
    """Scores one video at a time: `add` its sampled frames in time order, `finish`, `reset`."""

    def __init__(self, runner: Any, head: Callable[[np.ndarray], np.ndarray], settings: TriggerSettings, model: dict[str, Any]) -> None:
        self._runner = runner
        self._head = head
        self.settings = settings
        self.model = model  # backend and manifest facts, for the result
        self._video = _Sequence()

    @property
    def image_size(self) -> int:
        return self._runner.image_size

    def add(self, frame_index: int, seconds: float, image: np.ndarray) -> None:
        """Queue one uint8 RGB frame [S, S, 3]; a full batch goes through the encoder."""
        video = self._video
        if video.seconds and seconds <= video.seconds[-1]:
            raise ValueError(f"trigger frames must come in time order: frame {frame_index} at {seconds} s follows {video.seconds[-1]} s")
        video.frames.append(frame_index)
        video.seconds.append(float(seconds))
        video.images.append(image)
        if len(video.images) >= self.settings.batch_size:
            self._encode()

    def finish(self) -> TriggerResult:
        """The triggers among the frames added since the last `reset`."""
        self._encode()
        video = self._video
        started = time.perf_counter()
        seconds = np.asarray(video.seconds, dtype=np.float64)
        if video.features:
            confidences = np.asarray(self._head(np.concatenate(video.features)), dtype=np.float64)
        else:
            confidences = np.zeros(0)
        kept = select_triggers(seconds, confidences, self.settings.threshold, self.settings.suppress_seconds)
        video.seconds_spent += time.perf_counter() - started
        triggers = [Trigger(float(seconds[i]), video.frames[i], float(confidences[i])) for i in kept]
        return TriggerResult(len(video.frames), triggers, self.settings, self.model, video.seconds_spent)

    def reset(self) -> None:
        """Forget the current video (the model stays loaded)."""
        self._video = _Sequence()

    def _encode(self) -> None:
        video = self._video
        if not video.images:
            return
        started = time.perf_counter()
        pixels = to_pixels(np.stack(video.images), self._runner.mean, self._runner.std)
        video.features.append(np.asarray(self._runner.run(pixels), dtype=np.float32))
        video.images.clear()
        video.seconds_spent += time.perf_counter() - started


def open_trigger_detector(settings: TriggerSettings, *, backend: str = "auto", home: Path | None = None) -> TriggerDetector:
    """The detector of the artifact under `home` (default ENGINE_HOME)/trigger, on `backend`.

    `auto` picks the encoder's runtime as for the image encoders (a TensorRT engine on CUDA; then
    ONNX Runtime on a CPU machine, PyTorch fp16 on a CUDA one). The head runs in PyTorch, as the
    manifest's `head.runtime` records.
    """
    from filmline.engine.backends import BACKENDS, EncoderInfo, available_backends
    from filmline.engine.backends.manifest import MANIFEST, manifest_hash, read_manifest

    if backend != "auto" and backend not in BACKENDS:
        raise BadInputError(f"unknown trigger backend '{backend}': choose one of auto, {', '.join(BACKENDS)}")
    folder = artifact_dir(MODEL_NAME, home)
    if not (folder / MANIFEST).is_file():
        raise MissingModelError(f"no trigger model in {folder}: run `{_BUILD}`")
    manifest = read_manifest(folder)
    info = EncoderInfo.from_manifest(manifest, manifest_hash(folder))
    files = {kind: folder / name for kind, name in manifest.get("files", {}).items()}
    if manifest.get("head", {}).get("runtime") != "torch" or not files.get("torch", Path()).is_file():
        raise MissingModelError(f"{folder} lacks the trigger head (built by another engine version): run `{_BUILD} --force`")
    runnable = {status.name for status in available_backends() if status.available}
    name = backend if backend != "auto" else _auto_backend(files, runnable)
    if name not in runnable:
        raise BackendError(f"backend {name} is unavailable here: use --backend auto")
    kind = GRAPH_FILES.get(name)
    if kind is not None and not files.get(kind, Path()).is_file():
        raise MissingModelError(f"no {name} graph of the trigger model in {folder}: run `{_BUILD} --force` on this machine")
    config, head, encoder = _load_torch_parts(files["torch"], with_encoder=name == "torch")
    runner = _runner(name, files, info, manifest, encoder)
    facts = {
        "name": MODEL_NAME,
        "encoder": config.encoder,
        "backend": runner.name,
        "head_backend": "torch",
        "device": runner.device,
        "precision": runner.precision,
        "manifest_hash": info.manifest_hash,
        "image_size": info.image_size,
    }
    return TriggerDetector(runner, head, settings, facts)


def _auto_backend(files: dict[str, Path], runnable: set[str]) -> str:
    """The encoders' order on this machine (on CUDA, PyTorch fp16 before CPU-only ONNX Runtime)
    among the runtimes that are installed and have their file in the artifact."""
    for name in auto_order():
        if name in runnable and (name not in GRAPH_FILES or files.get(GRAPH_FILES[name], Path()).is_file()):
            return name
    return "torch"


def _runner(name: str, files: dict[str, Path], info: Any, manifest: dict[str, Any], encoder: Any) -> Any:
    if name == "torch":
        return registry.lookup("runtime", "torch")(encoder, info)
    return graph_runner(name, files[GRAPH_FILES[name]], info, manifest.get("precision", "fp32"))


def _load_torch_parts(path: Path, *, with_encoder: bool) -> tuple[Any, Callable[[np.ndarray], np.ndarray], Any]:
    """The config, the head as features [N, D] → confidences [N], and (for backend torch) the
    encoder, from the PyTorch weights the artifact keeps."""
    import torch

    from filmline.engine.models.trigger import TriggerConfig, TriggerHead, VisualEncoder, trigger_confidence

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        config = TriggerConfig.from_dict(saved["config"])
        head = _part(TriggerHead(config), saved["state_dict"], "trigger_detector.")
        encoder = _part(VisualEncoder(config), saved["state_dict"], "visual_encoder.") if with_encoder else None
    except EngineError:
        raise
    except Exception as err:  # a damaged or foreign file fails in many ways; all mean "rebuild"
        raise MissingModelError(f"cannot load {path} ({type(err).__name__}): run `{_BUILD} --force`") from err

    def run(features: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return trigger_confidence(head(torch.from_numpy(features).unsqueeze(0)))[0].numpy()

    return config, run, encoder


def _part(module: Any, state: dict[str, Any], prefix: str) -> Any:
    module.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    return module.eval()

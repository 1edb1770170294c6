"""The one export path every model takes: ONNX with a dynamic batch axis → parity with PyTorch →
TensorRT where installed (with its own parity) → manifest, assembled in a staging folder beside
the target and renamed into place only when every step passed. A build whose key (the model's
inputs plus precision, batch profile, opset, TensorRT version and GPU) matches the existing
manifest is reused.

Optimum-style, a model brings a small `ExportConfig` (its module, what a runner reads, a dummy
input, its tolerance) inside a `ModelBuild` (its own manifest fields and extra files); the steps
here are the same for the image encoders, the trigger CNN, the intro transformer and TransNetV2.
The runners that check parity come from the engine's model layer (`graph_runner`).
TensorRT: UNVERIFIED, it cannot be installed where this project is tested (docs/NVIDIA.md).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from filmline.engine.backends.base import ModelInput
from filmline.engine.backends.opener import graph_runner
from filmline.engine.errors import BadInputError, OutputError
from filmline.engine.home import artifact_dir
from filmline.engine.output_files import temporary_folder, write_error
from filmline.export import manifest as mf
from filmline.export.models import OPSET, PRECISIONS
from filmline.export.onnx_export import export_dynamic_batch
from filmline.export.validate import Run, check_parity

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BatchProfile:
    """The batch sizes a TensorRT engine is optimised for (min <= opt <= max)."""

    min: int = 1
    opt: int = 32
    max: int = 64

    @classmethod
    def parse(cls, text: str) -> "BatchProfile":
        """`MIN:OPT:MAX`, e.g. `1:32:64`."""
        try:
            low, opt, high = (int(part) for part in text.split(":"))
        except ValueError:
            raise BadInputError(f"invalid --batch '{text}': expected MIN:OPT:MAX, e.g. 1:32:64") from None
        if not 1 <= low <= opt <= high:
            raise BadInputError(f"invalid --batch '{text}': need 1 <= MIN <= OPT <= MAX")
        return cls(low, opt, high)

    def parity_batches(self) -> tuple[int, ...]:
        """Two batch sizes inside the profile (the dynamic axis is checked at two shapes)."""
        return (self.min, min(self.max, max(self.min + 1, 4)))


@dataclass(frozen=True)
class BuildRequest:
    """What `engine-build` asks of a model's builder (`build(request, progress)`); each builder says
    which source it takes (`check_sources`)."""

    model: str
    weights: str | None = None  # image encoders: folder or hub id (default: the model's `source`)
    checkpoint: Path | None = None  # intro, trigger: the checkpoint file
    strict: bool = False  # checkpoint keys the model does not have are fatal
    precision: str = PRECISIONS[0]
    batch: BatchProfile = BatchProfile()
    out: Path | None = None  # default: $ENGINE_HOME/<model>
    force: bool = False

    def target(self) -> Path:
        return (self.out or artifact_dir(self.model)).expanduser().absolute()


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    manifest: dict[str, Any]
    reused: bool


@dataclass(frozen=True)
class ExportConfig:
    """One model's export: its fp32 PyTorch module (the reference), what a runner of the graph
    reads, the graph's tensor names, a dummy input and its tolerance."""

    module: torch.nn.Module
    model_input: ModelInput  # kind and item shape; no manifest hash yet
    input_name: str
    output_name: str
    dummy: Callable[[int, np.random.Generator], np.ndarray]  # (batch, rng) → float32 [batch, *item_shape]
    tolerance: Callable[[str], tuple[float, float]]  # precision → (min cosine, max abs error)
    label: str  # how messages name the model
    parity_batches: tuple[int, ...] = (1, 4)
    fixed_batch: int | None = None  # a graph for this batch size alone (None: a symbolic batch axis)
    # one item's output in an order that does not depend on the runtime, before parity compares it
    # (a detector's queries are a set); None: compared as it comes
    canonical: Callable[[np.ndarray], np.ndarray] | None = None

    def export(self, path: Path, dtype: torch.dtype = torch.float32) -> None:
        """The ONNX graph at `path`, computing in `dtype`, with a symbolic (or the fixed) batch axis."""
        export_dynamic_batch(self.module, self.model_input.item_shape, path, input_name=self.input_name,
                             output_name=self.output_name, label=self.label, dtype=dtype,
                             fixed_batch=self.fixed_batch)

    def run(self, runtime: str, path: Path, precision: str = "fp32") -> Run:
        """The graph at `path` on `runtime` (tensorrt or onnxruntime)."""
        return graph_runner(runtime, path, self.model_input, precision).run


@dataclass(frozen=True)
class ModelBuild:
    """What one loaded model adds to the shared steps."""

    config: ExportConfig
    key_inputs: dict[str, Any]  # as known once the model is loaded (a download fixes a hub revision)
    manifest: dict[str, Any]  # the model's own manifest fields (model, family, weights, input, output, ...)
    save: Callable[[Path], dict[str, str]] = lambda folder: {}  # other files into the staging folder → `files`
    # checks beyond the graph's own parity, on the ONNX Runtime run → more `parity` entries
    extra_parity: Callable[[Run, Progress], dict[str, Any]] = lambda run, progress: {}
    export_note: str = ""  # said after "exporting ONNX (opset N, dynamic batch"


def check_sources(request: BuildRequest, source: str | None, *, required: bool = True) -> None:
    """A builder is built from `source` ("checkpoint", "weights" or None: what is installed): the
    other flag is refused, its own one required (unless not `required`: a default exists)."""
    given = {"checkpoint": request.checkpoint, "weights": request.weights}
    for flag, value in given.items():
        if value is not None and flag != source:
            loads = f"it builds from --{source}" if source else "it builds from what is installed"
            raise BadInputError(f"--{flag} does not apply to --model {request.model}: {loads}")
    if source is not None and required and given[source] is None:
        raise BadInputError(f"--model {request.model} needs --{source} (the published model's file, or one from engine-train)")


def build_artifact(
    request: BuildRequest,
    key_inputs: dict[str, Any],
    load: Callable[[], ModelBuild],
    progress: Progress,
    check_reused: Callable[[dict[str, Any]], None] = lambda manifest: None,
) -> BuildResult:
    """Build (or reuse) the artifact `request` asks for: `key_inputs` decide whether the existing
    one is current (then `check_reused` may still refuse it), else `load()` gives the model."""
    name, target, precision, batch = request.model, request.target(), request.precision, request.batch
    if precision not in PRECISIONS:
        raise BadInputError(f"invalid precision '{precision}': choose one of {', '.join(PRECISIONS)}")
    check_writable(target)
    trt_build, trt_problem = tensorrt_module()
    key = mf.build_key(key_inputs, precision=precision, batch=batch, trt_build=trt_build)
    if not request.force and mf.is_current(target, key):
        manifest = mf.read_manifest(target)
        check_reused(manifest)
        progress(f"{name} is up to date in {target} (--force rebuilds)")
        return BuildResult(target, manifest, reused=True)

    started = time.monotonic()
    model = load()
    key = mf.build_key(model.key_inputs, precision=precision, batch=batch, trt_build=trt_build)
    config = model.config
    with staging(target) as work:
        files = {"onnx": mf.ONNX_FILE, **model.save(work)}
        axis = f"batch {config.fixed_batch}" if config.fixed_batch else "dynamic batch"
        progress(f"exporting ONNX (opset {OPSET}, {axis}{model.export_note}) ...")
        config.export(work / mf.ONNX_FILE)
        progress("checking ONNX Runtime against PyTorch on random input ...")
        onnx_run = config.run("onnxruntime", work / mf.ONNX_FILE)
        parity: dict[str, Any] = {"onnxruntime": check_parity(onnx_run, config, backend="onnxruntime", precision="fp32")}
        progress(parity["onnxruntime"].summary())
        parity.update(model.extra_parity(onnx_run, progress))
        if trt_build is None:
            progress(f"TensorRT {trt_problem}: stopped at the fp32 ONNX (ONNX Runtime runs it)")
        else:
            _build_tensorrt(config, trt_build, precision, batch, work, target, files, parity, progress)
        manifest = {**model.manifest, **mf.build_record(precision=precision, batch=batch, files=files, parity=parity,
                                                         key=key, tensorrt=trt_build.VERSION if trt_build else None)}
        mf.write_manifest(work, manifest)
    progress(f"built {name} ({', '.join(manifest['built'])}) in {target} in {time.monotonic() - started:.1f} s")
    return BuildResult(target, manifest, reused=False)


def _build_tensorrt(config: ExportConfig, trt_build: Any, precision: str, batch: BatchProfile, staging: Path,
                    target: Path, files: dict[str, str], parity: dict[str, Any], progress: Progress) -> None:
    """Engine, timing cache and TensorRT parity into `staging` (the last build's timing cache in
    `target` seeds this one). TensorRT >= 11 takes fp16 from an fp16 ONNX, checked first."""
    onnx_file, fp16 = mf.ONNX_FILE, precision == "fp16"
    if fp16 and not trt_build.HAS_FP16_FLAG:
        progress(f"TensorRT {trt_build.VERSION} is strongly typed: exporting an fp16 ONNX ...")
        onnx_file = files["onnx_fp16"] = mf.ONNX_FP16_FILE
        config.export(staging / onnx_file, torch.float16)
        parity["onnxruntime-fp16"] = check_parity(config.run("onnxruntime", staging / onnx_file), config,
                                                  backend="onnxruntime", precision="fp16")
        progress(parity["onnxruntime-fp16"].summary())
    progress(
        f"building TensorRT {trt_build.VERSION} engine ({precision}, batch "
        f"{batch.min}:{batch.opt}:{batch.max}); this takes minutes ..."
    )
    trt_build.build_engine(
        staging / onnx_file, staging / mf.ENGINE_FILE, staging / mf.TIMING_CACHE_FILE, input_name=config.input_name,
        item_shape=config.model_input.item_shape, batch=(batch.min, batch.opt, batch.max),
        fp16_flag=fp16 and trt_build.HAS_FP16_FLAG, previous_timing_cache=target / mf.TIMING_CACHE_FILE,
    )
    files["tensorrt"], files["timing_cache"] = mf.ENGINE_FILE, mf.TIMING_CACHE_FILE
    parity["tensorrt"] = check_parity(config.run("tensorrt", staging / mf.ENGINE_FILE, precision), config,
                                      backend="tensorrt", precision=precision, batches=batch.parity_batches())
    progress(parity["tensorrt"].summary())


def tensorrt_module() -> tuple[Any, str | None]:
    """The TensorRT builder module, or None and why (not installed, broken, no CUDA device)."""
    try:
        import filmline.export.tensorrt_build as tensorrt_build
    except ModuleNotFoundError as err:
        if err.name != "tensorrt":
            raise
        return None, "is not installed"
    except ImportError as err:
        return None, f"does not import ({err})"
    if not torch.cuda.is_available():
        return None, "is installed but no CUDA device is visible"
    return tensorrt_build, None


def check_writable(target: Path) -> None:
    """Fail before the slow steps when the target cannot be written or is not ours to replace."""
    fix = "choose a writable --out (or set ENGINE_HOME)"
    existing = next(path for path in (target, *target.parents) if path.exists())
    if not existing.is_dir():
        raise OutputError(f"cannot write the artifact to {target}: {existing} is a file; {fix}")
    if target.is_dir() and any(target.iterdir()) and not (target / mf.MANIFEST).exists():
        raise OutputError(
            f"{target} exists and is not an artifact folder (no {mf.MANIFEST}); building would "
            "replace its contents: choose an empty or new --out"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryDirectory(dir=target.parent).cleanup()
    except OSError as err:
        raise OutputError(f"cannot write the artifact to {target} ({err.strerror or err}): {fix}") from None


@contextlib.contextmanager
def staging(target: Path) -> Iterator[Path]:
    """A temp folder beside `target`, renamed onto it when the block completes.

    Replacing an existing artifact takes two renames (POSIX cannot swap folders in one); should
    the second fail, the old artifact is put back. A failed write (a full disk) is an
    `OutputError` naming the target.
    """
    staging = temporary_folder(target.parent, f".{target.name}.building-")
    try:
        yield staging
        if not target.exists():
            staging.rename(target)
            return
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        target.rename(retired / target.name)
        try:
            staging.rename(target)
        except OSError:
            (retired / target.name).rename(target)
            raise
        shutil.rmtree(retired, ignore_errors=True)
    except OSError as err:
        raise write_error(target, err) from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)

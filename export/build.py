"""`engine-build` as a library call: load → ONNX → parity → TensorRT → manifest, atomically.

The artifact is assembled in a temporary folder beside the target and renamed into place only
when every step passed, so a failed or interrupted build never leaves a half-written artifact.
A build whose inputs (weights and their revision, precision, batch profile, model config,
exporter and TensorRT versions) match the existing manifest is reused.
"""

from __future__ import annotations

import contextlib
import functools
import dataclasses
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from filmline.engine.backends.base import EncoderInfo
from filmline.engine.backends.families import encoder_family
from filmline.engine.backends.onnxruntime_runner import OnnxRuntimeRunner
from filmline.engine.backends.weights import Encoder, WeightsSource, load_encoder, locate_weights
from filmline.engine.config import ModelSpec, model_spec
from filmline.engine.errors import BadInputError, OutputError
from filmline.engine.home import artifact_dir
from filmline.engine.output_files import temporary_folder, write_error
from filmline.export import manifest as mf
from filmline.export.models import INPUT_NAME, OPSET, OUTPUT_NAME
from filmline.export.graph_build import GraphExport, build_tensorrt
from filmline.export.onnx_export import export_onnx
from filmline.export.validate import Parity, check_parity

PRECISIONS = ("fp32", "fp16")
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
            raise BadInputError(
                f"invalid --batch '{text}': expected MIN:OPT:MAX, e.g. 1:32:64"
            ) from None
        if not 1 <= low <= opt <= high:
            raise BadInputError(f"invalid --batch '{text}': need 1 <= MIN <= OPT <= MAX")
        return cls(low, opt, high)

    def parity_batches(self) -> tuple[int, ...]:
        """Two batch sizes inside the profile (the dynamic axis is checked at two shapes)."""
        return (self.min, min(self.max, max(self.min + 1, 4)))


@dataclass(frozen=True)
class BuildRequest:
    model: str
    weights: str | None = None  # folder or hub id; default: the model's `source`
    precision: str = "fp32"
    batch: BatchProfile = BatchProfile()
    out: Path | None = None  # default: $ENGINE_HOME/<model>
    force: bool = False


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    manifest: dict[str, Any]
    reused: bool


def build(request: BuildRequest, progress: Progress = lambda line: None) -> BuildResult:
    """Build (or reuse) the artifact `request` describes; typed `EngineError`s on failure."""
    spec = model_spec(request.model)
    encoder_family(spec)  # an unexportable family fails before anything slow
    if request.precision not in PRECISIONS:
        raise BadInputError(
            f"invalid precision '{request.precision}': choose one of {', '.join(PRECISIONS)}"
        )
    target = (request.out or artifact_dir(spec.name)).expanduser().absolute()
    check_writable(target)
    trt_build, trt_problem = tensorrt_module()
    source = locate_weights(spec, request.weights)
    key = mf.build_key(_key_inputs(spec, source), precision=request.precision, batch=request.batch, trt_build=trt_build)
    if not request.force and mf.is_current(target, key):
        progress(f"{spec.name} is up to date in {target} (--force rebuilds)")
        return BuildResult(target, mf.read_manifest(target), reused=True)

    started = time.monotonic()
    progress(f"loading {spec.name} weights from {source.location} ...")
    encoder = load_encoder(spec, source)
    # a download has just fixed the hub revision, so the key is computed again
    key = mf.build_key(_key_inputs(spec, encoder.source), precision=request.precision, batch=request.batch,
                       trt_build=trt_build)
    with staging(target) as work:
        files, parity = _export_and_check(encoder, work, progress)
        if trt_build is None:
            progress(f"TensorRT {trt_problem}: stopped at the fp32 ONNX (ONNX Runtime runs it)")
        else:
            tolerance = functools.partial(encoder_family(encoder.spec).tolerance, encoder.spec)
            config = image_export(encoder, _info(encoder), request.batch, tolerance)
            build_tensorrt(config, trt_build, request.precision, request.batch, work, target, files, parity, progress)
        manifest = _manifest(spec, encoder, request, files, parity, key, trt_build)
        mf.write_manifest(work, manifest)
    built = ", ".join(manifest["built"])
    progress(f"built {spec.name} ({built}) in {target} in {time.monotonic() - started:.1f} s")
    return BuildResult(target, manifest, reused=False)


def _export_and_check(
    encoder: Encoder, staging: Path, progress: Progress
) -> tuple[dict[str, str], dict[str, Parity]]:
    progress(f"exporting ONNX (opset {OPSET}, dynamic batch) ...")
    export_onnx(encoder, staging / mf.ONNX_FILE)
    progress("checking ONNX Runtime against PyTorch on random input ...")
    parity = {"onnxruntime": _onnx_parity(encoder, staging / mf.ONNX_FILE, "fp32")}
    progress(parity["onnxruntime"].summary())
    return {"onnx": mf.ONNX_FILE}, parity


def _onnx_parity(encoder: Encoder, path: Path, precision: str) -> Parity:
    runner = OnnxRuntimeRunner(path, _info(encoder))
    tolerance = encoder_family(encoder.spec).tolerance(encoder.spec, precision)
    return check_parity(
        runner.run, encoder, backend="onnxruntime", precision=precision, tolerance=tolerance
    )


def _info(encoder: Encoder) -> EncoderInfo:
    """What a runner of the artifact being built needs (it has no manifest hash yet)."""
    return EncoderInfo(
        model=encoder.spec.name,
        image_size=encoder.image_size,
        mean=encoder.mean,
        std=encoder.std,
        embedding_dim=encoder.embedding_dim,
        manifest_hash=None,
    )


def image_export(
    encoder: Any, info: EncoderInfo, batch: BatchProfile, tolerance: Callable[[str], tuple[float, float]]
) -> GraphExport:
    """The shared TensorRT step's config for a pixels-in encoder (the image encoders, the trigger
    CNN's frame encoder). `tolerance(precision)` gives (min cosine, max abs error)."""
    size = encoder.image_size
    return GraphExport(
        model_input=info,
        input_name=INPUT_NAME,
        item_shape=(3, size, size),
        export=lambda path, dtype: export_onnx(encoder, path, dtype=dtype),
        parity=lambda run, runtime, precision: check_parity(
            run, encoder, backend=runtime, precision=precision, tolerance=tolerance(precision),
            **({"batches": batch.parity_batches()} if runtime == "tensorrt" else {}),
        ),
    )


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


def _key_inputs(spec: ModelSpec, source: WeightsSource) -> dict[str, Any]:
    return {
        "spec": dataclasses.asdict(spec),
        "weights": source.location,
        "revision": source.revision,
    }


def _manifest(
    spec: ModelSpec,
    encoder: Encoder,
    request: BuildRequest,
    files: dict[str, str],
    parity: dict[str, Parity],
    key: str,
    trt_build: Any,
) -> dict[str, Any]:
    source = encoder.source
    return {
        "model": spec.name,
        "family": spec.family,
        "weights": {"kind": source.kind, "source": source.location, "revision": source.revision},
        "input": {
            "name": INPUT_NAME,
            "shape": ["batch", 3, encoder.image_size, encoder.image_size],
            "image_size": encoder.image_size,
            "mean": list(encoder.mean),
            "std": list(encoder.std),
        },
        "output": {"name": OUTPUT_NAME, "from": encoder_family(spec).output},
        "embedding_dim": encoder.embedding_dim,
        **mf.build_record(precision=request.precision, batch=request.batch, files=files, parity=parity, key=key,
                          tensorrt=trt_build.VERSION if trt_build else None),
    }


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
        raise OutputError(
            f"cannot write the artifact to {target} ({err.strerror or err}): {fix}"
        ) from None


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

"""Build a TensorRT engine from the exported ONNX file.

Imported only where `import tensorrt` works (the caller guards the import). Written against the
documented TensorRT 10 Python API (docs/NVIDIA.md); UNVERIFIED: TensorRT cannot be installed on
any machine this project is tested on.

Precision: TensorRT 10 builds fp16 from the fp32 ONNX with `BuilderFlag.FP16` (it keeps layers
that need fp32 in fp32). TensorRT >= 11 has no such flag: every network is strongly typed and
takes its precision from the graph, so the caller passes an fp16 ONNX file instead.
"""

from __future__ import annotations

from pathlib import Path

import tensorrt as trt

from filmline.engine.errors import BackendError

VERSION: str = trt.__version__
HAS_FP16_FLAG: bool = hasattr(trt.BuilderFlag, "FP16")  # False from TensorRT 11 on
_WORKSPACE_BYTES = 4 << 30


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    timing_cache: Path,
    *,
    input_name: str,
    item_shape: tuple[int, ...],
    batch: tuple[int, int, int],
    fp16_flag: bool,
    previous_timing_cache: Path | None = None,
) -> None:
    """Parse `onnx_path`, build for inputs `[batch, *item_shape]` with batch (min, opt, max), write
    the plan and the timing cache.

    `previous_timing_cache` (the last build's) seeds tactic timing, which makes rebuilds fast.
    """
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is implicit in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT {VERSION} cannot parse {onnx_path.name}: {errors}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, _WORKSPACE_BYTES)
    if fp16_flag:
        config.set_flag(trt.BuilderFlag.FP16)
    elif hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)  # on by default; fp32 must meet fp32 tolerances
    profile = builder.create_optimization_profile()
    low, opt, high = ((b, *item_shape) for b in batch)
    profile.set_shape(input_name, low, opt, high)
    config.add_optimization_profile(profile)
    seed = b""
    if previous_timing_cache is not None and previous_timing_cache.is_file():
        seed = previous_timing_cache.read_bytes()
    config.set_timing_cache(config.create_timing_cache(seed), ignore_mismatch=True)

    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise BackendError(
            f"TensorRT {VERSION} could not build an engine from {onnx_path.name} (see the "
            "TensorRT log above): try a smaller --batch maximum or --precision fp32"
        )
    engine_path.write_bytes(memoryview(plan))
    timing_cache.write_bytes(memoryview(config.get_timing_cache().serialize()))

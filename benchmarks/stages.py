"""Per-stage throughput, measured in this process through the library calls the pipeline makes.

- decode: PyAV decoding of every frame (`engine.decode.open_decoder`), frames/s;
- decode + thumbnail: the same plus the 64×36 area-filtered thumbnail of every frame, which is
  the whole per-frame work of the full-rate pass before its statistics;
- cheap pass: the statistics (`CheapPass`, the `kernels` dispatcher) and the streaming cut
  detector on thumbnails made beforehand, in the pipeline's batches, frames/s;
- encoder: `Runner.run` on one batch of normalised pixels, per backend built and installed
  (PyTorch, ONNX Runtime, TensorRT), images/s;
- kernels: `benchmarks.kernels_bench` (fused kernels against their naive composition);
- VLM: requests/s and tokens/s per task and backend, in `benchmarks.vlm_bench`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from filmline.benchmarks.encoders import MODEL, BenchEncoder
from filmline.benchmarks.measure import Recorder, film_input, time_runs

CHEAP_PASS_FRAMES = 3000  # thumbnails held for the cheap-pass figure (7 KB each)


def measure_decode(rec: Recorder, truth: Any, warmup: int, repeats: int) -> None:
    from filmline.engine.decode import open_decoder
    from filmline.engine.stages.cheap_pass import THUMB_SIZE

    path = Path(truth.path)

    def decode() -> None:
        with open_decoder(path, "pyav", sessions=1) as decoder:
            for _ in decoder.frames():
                pass

    def decode_and_thumbnail() -> None:
        with open_decoder(path, "pyav", sessions=1) as decoder:
            for frame in decoder.frames():
                frame.to_rgb(THUMB_SIZE[1], THUMB_SIZE[0])

    for metric, run in (("decode", decode), ("decode_and_thumbnail", decode_and_thumbnail)):
        timing = time_runs(run, warmup, repeats)
        rec.add(metric, "frames_per_second", truth.frame_count / timing.median, "frames/s",
                input=film_input(truth), depends_on=("av", "ffmpeg_libavcodec"), timing=timing,
                setup={"decoder": "pyav", "threads": "auto"})


def measure_cheap_pass(rec: Recorder, truth: Any, warmup: int, repeats: int) -> None:
    from filmline.engine.config import pipeline_defaults
    from filmline.engine.decode import open_decoder
    from filmline.engine.pipeline import STATS_BATCH
    from filmline.engine.stages.cheap_pass import THUMB_SIZE, CheapPass
    from filmline.engine.stages.cut_candidates import CutCandidateDetector, CutRules

    shots = pipeline_defaults()["shots"]
    thumbs = []
    with open_decoder(Path(truth.path)) as decoder:
        for frame in decoder.frames():
            thumbs.append(frame.to_rgb(THUMB_SIZE[1], THUMB_SIZE[0]))
            if len(thumbs) == CHEAP_PASS_FRAMES:
                break
    batches = [np.stack(thumbs[i : i + STATS_BATCH]) for i in range(0, len(thumbs), STATS_BATCH)]

    def cheap_pass() -> None:
        statistics = CheapPass(shots["gradual_lag"], shots["colour_weight"], shots["flash_max_frames"] + 1)
        detector = CutCandidateDetector(CutRules(shots["cut_ratio"], shots["cut_window"], shots["cut_min_diff"],
                                                 shots["cut_min_colour"], shots["flash_max_frames"], shots["flash_return"]))
        for batch in batches:
            detector.push(statistics.push(batch))
        detector.finish()

    timing = time_runs(cheap_pass, warmup, repeats)
    rec.add("cheap_pass", "frames_per_second", len(thumbs) / timing.median, "frames/s",
            input={**film_input(truth), "frames_measured": len(thumbs)}, depends_on=("torch",), timing=timing,
            setup={"thumbnail": f"{THUMB_SIZE[1]}x{THUMB_SIZE[0]} RGB", "batch": STATS_BATCH,
                   "kernels": _kernel_impl()})


def measure_encoders(rec: Recorder, encoder: BenchEncoder, batch: int, warmup: int, repeats: int) -> None:
    from filmline.engine.backends import available_backends, open_model

    size = encoder.image_size
    pixels = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)
    for status in available_backends():
        if not status.available:
            rec.skip(f"encoder/{status.name}", status.detail, _fix(status.name))
            continue
        if status.name == "tensorrt" and "tensorrt" not in encoder.built:
            rec.skip("encoder/tensorrt", "the artifact has no TensorRT engine",
                     "run on a machine with TensorRT and CUDA")
            continue
        runner = open_model(MODEL, status.name, home=encoder.home)
        timing = time_runs(lambda: runner.run(pixels), warmup, repeats)
        rec.add("encoder", "images_per_second", batch / timing.median, "images/s",
                input={"images": f"{batch} x 3 x {size} x {size} random normalised pixels"},
                depends_on=("torch", "onnxruntime", "onnxruntime-gpu", "tensorrt"), timing=timing,
                setup={"backend": status.name, "device": runner.device, "precision": runner.precision,
                       "batch": batch, "runtime": status.detail, "pixels_from": "host memory (NumPy)"},
                model=encoder.describe())
        del runner


def measure_kernels(rec: Recorder, full: bool, warmup: int, repeats: int) -> None:
    import torch

    from filmline.benchmarks import kernels_bench

    device = "cuda" if full and torch.cuda.is_available() else "cpu"
    small = device == "cpu"
    argv = ["--device", device, *(["--small"] if small else []), "--warmup", str(warmup), "--repeats", str(repeats)]
    report = kernels_bench.run(argparse.Namespace(device=device, small=small, warmup=warmup, repeats=repeats), argv)
    for result in report["results"]:
        details = {k: v for k, v in result.items() if k not in ("operation", "size", "impl", "kernel_ms")}
        rec.add(f"kernel/{result['operation']}", "milliseconds", result["kernel_ms"], "ms",
                input={"size": result["size"], "device": report["device"]}, depends_on=("torch", "triton"),
                setup={"impl": result["impl"], "warmup": warmup, "repeats": repeats,
                       "copy_bandwidth_gbps": report["copy_bandwidth_gbps"], "via": report["command"]},
                **details)


def _kernel_impl() -> str:
    import os

    return os.environ.get("FILMLINE_KERNELS", "auto (reference on CPU tensors)")


def _fix(backend: str) -> str:
    return {"tensorrt": "install TensorRT on a CUDA machine (pip install -e '.[gpu]')",
            "onnxruntime": "pip install onnxruntime", "torch": "pip install torch"}[backend]

"""The `gpu` suite: the GPU fast path, measured on one long film, in this order:

1. encoder: images/s of the PyTorch runner for each precision (fp32, fp16, bf16), eager and with
   CUDA graphs, at every batch in `BATCHES`, on pixels already in GPU memory; with each precision
   its parity (the lowest cosine of 64 embeddings to fp32's) and peak GPU memory. TensorRT where
   it runs, else listed as not measured with the reason;
2. the film: ten minutes or more of 1080p H.264 (`benchmarks.long_film`, parts written in parallel);
3. decode only: frames/s of every decoder with one session and with several on keyframe chunks
   (`engine.decode.open_decoder(..., sessions=N)`; NVDEC: one per engine);
4. end to end, each run `engine-run` in its own process (`benchmarks.child`): the cheap pass alone
   (decode + full-rate statistics + shots) and with the encoder at `--fps`, on the default
   decoder, and the cheap pass on PyAV for comparison: realtime factor, frames/s and its ratio to
   decode-only frames/s of the same decoder, peak GPU memory (PyTorch's allocator) and RSS;
5. the vision-language figures (`benchmarks.vlm_bench`), as every suite has them.

Each step that fails is listed under "not measured" with its error and the next one runs; an
interrupt (the device script's time limit sends SIGINT) ends the suite and writes what was
measured, the steps left listed as stopped.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from filmline.benchmarks.encoders import MODEL, BenchEncoder
from filmline.benchmarks.measure import Recorder, film_input, time_runs

BATCHES = (1, 8, 32, 64, 128, 256)
PRECISIONS = ("fp32", "fp16", "bf16")
ENCODER_WARMUP, ENCODER_REPEATS = 3, 10  # per (precision, graphs, batch): a batch takes milliseconds
PARITY_IMAGES = 64
PYAV_SESSIONS = 4
CHILD_TIMEOUT = 1800


def run_gpu_suite(rec: Recorder, suite: Any, cache: Path, args: Any, warmup: int,
                  repeats: int) -> tuple[BenchEncoder, list[dict[str, Any]]]:
    """Every step above into `rec`; the encoder timed and the end-to-end rows for the report."""
    from filmline.benchmarks.encoders import bench_weights, built_encoder
    from filmline.benchmarks.long_film import ensure_long_film
    from filmline.benchmarks.vlm_bench import measure_vlm
    from filmline.engine.home import engine_home

    # PyTorch runs the weights themselves: no ONNX export or TensorRT build to wait for.
    encoder = built_encoder(engine_home()) if args.real_encoder else bench_weights(suite.encoder, cache / "models")
    (spec,) = suite.films
    state: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []

    def film() -> Any:
        if "truth" not in state:
            raise RuntimeError("no film to measure: writing it did not finish")
        return state["truth"]

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("encoder", lambda: measure_encoder_sweep(rec, encoder)),
        ("film", lambda: state.update(truth=ensure_long_film(spec, cache / "films"))),
        ("decode", lambda: state.update(decode=measure_decode_sessions(rec, film(), warmup, repeats))),
        ("end_to_end", lambda: rows.extend(measure_end_to_end(rec, film(), state.get("decode", {}), encoder,
                                                              args.fps, warmup, repeats))),
        ("vlm", lambda: measure_vlm(rec, model=args.vlm_model or suite.vlm_model, url=args.vlm_url,
                                    served_model=args.vlm_served_model, prompts=suite.vlm_prompts, cache=cache,
                                    warmup=warmup, repeats=repeats)),
    ]
    for k, (name, action) in enumerate(steps):
        started = time.perf_counter()
        print(f"  {name} ...", file=sys.stderr, flush=True)
        try:
            action()
        except KeyboardInterrupt:
            for stopped, _ in steps[k:]:
                rec.skip(stopped, "stopped: the time limit came first", "run the suite with more time")
            break
        except Exception as err:  # noqa: BLE001 — a step that fails is reported, the others still run
            traceback.print_exc()
            rec.skip(name, f"failed: {type(err).__name__}: {err}", "see the run's log")
        print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print_targets(rec.figures)
    return encoder, rows


def print_targets(figures: list[dict[str, Any]]) -> None:
    """The figures the GPU path has targets for, one line each (the JSON has everything)."""
    lines = ["targets (H100): SigLIP-B/16 224 px fp16 >= 4000 images/s; engine-run >= 0.8 x decode-only"]
    encoder = [f for f in figures if f["stage"] == "encoder"]
    for precision in PRECISIONS:
        mine = [f for f in encoder if f["setup"]["precision"] == precision]
        if mine:
            best = max(mine, key=lambda f: f["value"])
            lines.append(f"  encoder {precision}: best {best['value']:,.0f} images/s (batch {best['setup']['batch']}, "
                         f"graphs {best['setup']['cuda_graphs']}), min cosine to fp32 {best['parity_min_cosine_vs_fp32']:.5f}")
    for f in figures:
        if f["stage"] == "decode":
            lines.append(f"  decode {f['setup']['decoder']} x{f['setup']['sessions']}: {f['value']:,.0f} frames/s")
        elif f["stage"] == "end_to_end":
            ratio = f"{f['vs_decode_only']:.2f}" if f.get("vs_decode_only") else "-"
            gpu = f"{f['peak_gpu_bytes'] / 2**30:.2f} GiB" if f.get("peak_gpu_bytes") else "-"
            lines.append(f"  {f['tool']}: {f['value']:.1f} x realtime, {f['frames_per_second']:,.0f} frames/s, "
                         f"{ratio} of decode-only, peak GPU {gpu}")
    print("\n".join(lines), file=sys.stderr, flush=True)


def measure_encoder_sweep(rec: Recorder, encoder: BenchEncoder) -> None:
    import torch

    from filmline.engine.backends import available_backends
    from filmline.engine.backends.base import ModelInput
    from filmline.engine.backends.torch_runner import TorchRunner
    from filmline.engine.config import model_spec
    from filmline.engine.backends.weights import load_encoder

    for status in available_backends():
        if status.name == "tensorrt" and not status.available:
            rec.skip("encoder/tensorrt", status.detail, "install TensorRT on this machine and engine-build --model siglip")
        elif status.name == "tensorrt":
            rec.skip("encoder/tensorrt", "this suite builds no TensorRT engine", "engine-build --model siglip here, "
                     "then engine-bench --suite gpu --real-encoder")
        elif status.name == "onnxruntime" and "CUDAExecutionProvider" not in status.detail:
            rec.skip("encoder/onnxruntime", f"no CUDA provider ({status.detail})", "pip install onnxruntime-gpu")
    spec = model_spec(MODEL)
    size = encoder.image_size
    generator = torch.Generator(device="cuda").manual_seed(0)
    probe = torch.randn(PARITY_IMAGES, 3, size, size, device="cuda", generator=generator)
    reference = None
    for precision in PRECISIONS:
        for graphs in (False, True):
            loaded = load_encoder(spec, str(encoder.weights))
            info = ModelInput.for_pixels(MODEL, loaded.image_size, loaded.mean, loaded.std, loaded.embedding_dim)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            runner = TorchRunner(loaded, info, "cuda", precision=precision, cuda_graphs=graphs)
            embeddings = runner.run(probe)
            if reference is None:
                reference = embeddings  # fp32, eager: the reference
            parity = float(torch.nn.functional.cosine_similarity(embeddings, reference, dim=1).min())
            for batch in BATCHES:
                pixels = torch.randn(batch, 3, size, size, device="cuda", generator=generator)

                def once() -> None:
                    runner.run(pixels)
                    torch.cuda.synchronize()

                timing = time_runs(once, ENCODER_WARMUP, ENCODER_REPEATS)
                rec.add("encoder", "images_per_second", batch / timing.median, "images/s",
                        input={"images": f"{batch} x 3 x {size} x {size} random normalised pixels"},
                        depends_on=("torch", "transformers"), timing=timing, model=encoder.describe(),
                        setup={"backend": "torch", "device": "cuda", "precision": precision, "batch": batch,
                               "cuda_graphs": graphs, "attention": "sdpa", "pixels_from": "device memory"},
                        parity_min_cosine_vs_fp32=parity, peak_gpu_bytes=int(torch.cuda.max_memory_allocated()))
            del runner, loaded


def measure_decode_sessions(rec: Recorder, truth: Any, warmup: int, repeats: int) -> dict[str, float]:
    """Decode-only frames/s per decoder and session count; returns the best frames/s per decoder."""
    from filmline.engine.decode import open_decoder

    path = Path(truth.path)
    best: dict[str, float] = {}
    for backend, several in (("pyav", PYAV_SESSIONS), ("nvdec", None)):
        reasons: list[str] = []
        with open_decoder(path, backend, sessions=several, on_fallback=reasons.append) as opened:
            ran, most = opened.BACKEND_NAME, getattr(opened, "sessions", 1)
        if ran != backend:
            rec.skip(f"decode/{backend}", "; ".join(reasons) or f"{backend} fell back to {ran}",
                     "run on a machine where it can decode this film")
            continue
        for sessions in dict.fromkeys((1, most)):
            def decode() -> None:
                with open_decoder(path, backend, sessions=sessions) as decoder:
                    for _ in decoder.frames():
                        pass

            timing = time_runs(decode, warmup, repeats)
            rate = truth.frame_count / timing.median
            best[backend] = max(best.get(backend, 0.0), rate)
            rec.add("decode", "frames_per_second", rate, "frames/s", input=film_input(truth), timing=timing,
                    depends_on=("av", "ffmpeg_libavcodec", "torch"), setup={"decoder": backend, "sessions": sessions})
    return best


def measure_end_to_end(rec: Recorder, truth: Any, decode_rates: dict[str, float], encoder: BenchEncoder, fps: float,
                       warmup: int, repeats: int) -> list[dict[str, Any]]:
    from filmline.benchmarks.end_to_end import child_timing, side_by_side_row
    from filmline.benchmarks.synthetic import truth_path
    from filmline.engine.evaluation.shot_annotations import read_shots
    from filmline.engine.evaluation.shot_metrics import score_shots

    reference = read_shots(truth_path(truth.path))
    runs = [("none", "auto"), ("auto", "auto"), ("none", "pyav")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="engine-bench-gpu-") as work:
        home = Path(work) / "home"  # empty: only the benchmark's weights, no model of the user's
        home.mkdir()
        decoders_run: set[str] = set()
        for backend, decoder in runs:
            if decoder in decoders_run and backend == "none":
                continue  # the default decoder is PyAV here: its cheap pass is measured already
            outcome = _engine_run(Path(work), truth, backend, decoder, encoder, fps, warmup, repeats, home)
            ran = outcome["decoder"]
            decoders_run.add(ran)
            scores = score_shots(reference, read_shots(outcome["result"])) if backend == "none" else None
            seconds = outcome["timing"]["median_seconds"]
            duration = truth.end_seconds()
            encoder_ran = (outcome["models"].get("encoder") or {}).get("backend")
            tool = f"filmline ({'encoder: ' + encoder_ran if encoder_ran else 'cheap pass only'}, {ran})"
            rate = truth.frame_count / seconds
            decode_rate = decode_rates.get(ran)
            rec.add("end_to_end", "realtime_factor", duration / seconds, "x realtime (video s / wall s)",
                    input=film_input(truth), timing=child_timing(outcome),
                    depends_on=("filmline", "torch", "tensorrt", "av"), tool=tool,
                    setup={"backend": backend, "decoder": ran, "fps": fps}, frames_per_second=rate,
                    vs_decode_only=rate / decode_rate if decode_rate else None,
                    peak_gpu_bytes=outcome["peak_gpu_bytes"], peak_rss_bytes=outcome["peak_rss_bytes"],
                    stage_seconds=outcome["stage_seconds"], embedded_frames=outcome["embedded_frames"],
                    models=outcome["models"], command_timing=outcome["command_timing"])
            rows.append(side_by_side_row(Path(truth.path).name, tool, seconds, truth.frame_count, duration,
                                         outcome["peak_rss_bytes"], scores))
    cheap = rows[0]["seconds"] if rows else None
    for row in rows:
        row["time_vs_filmline_cheap_pass"] = row["seconds"] / cheap if cheap else None
    return rows


def _engine_run(work: Path, truth: Any, backend: str, decoder: str, encoder: BenchEncoder, fps: float, warmup: int,
                repeats: int, home: Path) -> dict[str, Any]:
    """`engine-run` on the film in `python -m filmline.benchmarks.child`; its figures and the decoder that ran."""
    from filmline.benchmarks.end_to_end import run_child

    weights = {"weights": str(encoder.weights)} if backend != "none" else {}
    outcome = run_child("filmline", backend, truth.path, home, fps, warmup, repeats, work, timeout=CHILD_TIMEOUT,
                        decoder=decoder, **weights)
    document = json.loads(Path(outcome["result"]).read_text())
    outcome["decoder"] = document["video"]["decoder"]
    return outcome

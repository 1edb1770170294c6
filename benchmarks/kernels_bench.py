"""Times the fused kernels against the naive PyTorch composition of the same operation.

    python -m filmline.benchmarks.kernels_bench --device cuda --out DIR
    python -m filmline.benchmarks.kernels_bench --device cpu --small --out DIR   # smoke test, reference only

On CUDA the kernels run through Triton (`impl="triton"`), timed with CUDA events after warm-up,
median of repeats. On the CPU the "kernel" is the reference implementation. Memory-bound
operations report their effective bandwidth (bytes they must move / time) next to the device's
measured copy bandwidth (a clone of a large tensor); match_runs reports its matmul throughput.
Every kernel result is also checked against the naive one, so a broken kernel shows up here too.
Writes kernels_bench.json and kernels_bench.md to --out.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F

from filmline import kernels
from filmline.kernels import reference


@dataclass(frozen=True)
class Sizes:
    adjacent: tuple[int, int, tuple[int, ...]]  # N, D, lags
    centroids: tuple[int, int, int]  # N, D, mean shot length
    match: tuple[int, int]  # N = M, D
    frames: tuple[int, int, int]  # B, H, W


FULL = Sizes((1_000_000, 768, (1, 4)), (100_000, 768, 25), (8192, 768), (16, 1080, 1920))
SMALL = Sizes((2000, 128, (1, 4)), (2000, 128, 25), (256, 64), (2, 72, 128))
MATCH_THRESHOLD = 0.8


def timed(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> float:
    """Median wall time of fn() in milliseconds (CUDA events on a GPU)."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    samples = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end))
        else:
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1e3)
    return statistics.median(samples)


def copy_bandwidth(device: torch.device, n_bytes: int, warmup: int, repeats: int) -> float:
    """Device copy bandwidth in GB/s: a clone reads and writes n_bytes."""
    x = torch.empty(n_bytes, dtype=torch.uint8, device=device)
    ms = timed(lambda: x.clone(), device, warmup, repeats)
    return 2 * n_bytes / ms / 1e6


def naive_adjacent(emb: torch.Tensor, max_lag: int) -> torch.Tensor:
    unit = F.normalize(emb.float(), dim=1, eps=reference.EPS)
    out = torch.zeros(max_lag, emb.shape[0], device=emb.device)
    for k in range(1, max_lag + 1):
        out[k - 1, :-k] = (unit[:-k] * unit[k:]).sum(dim=1)
    return out


def naive_match_runs(
    a: torch.Tensor, b: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The full a @ b.T matrix, skewed to one row per diagonal, runs by a prefix max of misses."""
    n, m = a.shape[0], b.shape[0]
    hits = (F.normalize(a.float(), dim=1) @ F.normalize(b.float(), dim=1).T) >= threshold
    rows = torch.arange(n, device=a.device)
    cols = rows[None, :] + torch.arange(-(n - 1), m, device=a.device)[:, None]
    on_diag = hits[rows.expand_as(cols), cols.clamp(0, m - 1)] & (cols >= 0) & (cols < m)
    positions = rows.expand_as(cols)
    last_miss = torch.where(on_diag, -1, positions).cummax(dim=1).values
    lengths, ends = (positions - last_miss).max(dim=1)  # first maximum: the earliest run
    return lengths, torch.where(lengths > 0, ends - lengths + 1, -1)


def _agree(got: object, want: object) -> bool:
    if isinstance(got, kernels.FrameStats):
        got, want = (got.luma, got.hist, got.diff), (want.luma, want.hist, want.diff)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    return all(
        torch.equal(g, w) if not g.is_floating_point() else torch.allclose(g, w, atol=1e-3, rtol=0)
        for g, w in zip(got, want)
    )


def run(args: argparse.Namespace, argv: list[str]) -> dict:
    device = torch.device(args.device)
    impl = "triton" if device.type == "cuda" else "reference"
    sizes = SMALL if args.small else FULL
    warmup, repeats = args.warmup, args.repeats
    copy_gbps = copy_bandwidth(device, (64 if args.small else 1024) << 20, warmup, repeats)
    generator = torch.Generator(device=device).manual_seed(0)
    results = []

    def record(
        name: str,
        size: str,
        kernel: Callable[[], object],
        naive: Callable[[], object],
        n_bytes: int | None = None,
        flops: int | None = None,
        frames: int | None = None,
    ) -> None:
        kernel_ms = timed(kernel, device, warmup, repeats)
        entry = {"operation": name, "size": size, "impl": impl, "kernel_ms": kernel_ms}
        try:
            entry["naive_ms"] = timed(naive, device, warmup, repeats)
            entry["speedup"] = entry["naive_ms"] / kernel_ms
            entry["agrees_with_naive"] = _agree(kernel(), naive())
        except torch.cuda.OutOfMemoryError:
            entry["note"] = "naive composition ran out of memory"
        if n_bytes is not None:
            entry["effective_gbps"] = n_bytes / kernel_ms / 1e6
            entry["fraction_of_copy_bw"] = entry["effective_gbps"] / copy_gbps
        if flops is not None:
            entry["tflops"] = flops / kernel_ms / 1e9
        if frames is not None:
            entry["frames_per_s"] = frames / kernel_ms * 1e3
        results.append(entry)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        print(f"{name:22s} {size:32s} {kernel_ms:9.3f} ms", flush=True)

    n, dim, lags = sizes.adjacent
    emb = torch.randn(n, dim, device=device, generator=generator, dtype=torch.float16)
    for max_lag in lags:
        record(
            "adjacent_similarity", f"N={n} D={dim} fp16 lags={max_lag}",
            lambda: kernels.adjacent_similarity(emb, max_lag, impl=impl),
            lambda: naive_adjacent(emb, max_lag),
            n_bytes=emb.numel() * emb.element_size() + 4 * max_lag * n,
        )
    del emb

    n, dim, mean_shot = sizes.centroids
    emb = torch.randn(n, dim, device=device, generator=generator, dtype=torch.float16)
    lengths = torch.randint(
        1, 2 * mean_shot, (n // mean_shot,), generator=generator, device=device
    )
    offsets = torch.cat([lengths.new_zeros(1), lengths.cumsum(0)]).clamp_max(n)
    record(
        "shot_centroids", f"N={n} D={dim} fp16 S={offsets.numel() - 1}",
        lambda: kernels.shot_centroids(emb, offsets, impl=impl),
        lambda: reference.shot_centroids(emb, offsets),
        n_bytes=emb.numel() * emb.element_size() + 4 * dim * (offsets.numel() - 1),
    )
    del emb

    n, dim = sizes.match
    a = torch.randn(n, dim, device=device, generator=generator, dtype=torch.float16)
    b = torch.randn(n, dim, device=device, generator=generator, dtype=torch.float16)
    b[n // 4 : n // 2] = a[n // 8 : n // 8 + n // 4]  # one long shared passage
    record(
        "match_runs", f"N=M={n} D={dim} fp16 thr={MATCH_THRESHOLD}",
        lambda: kernels.match_runs(a, b, MATCH_THRESHOLD, impl=impl),
        lambda: naive_match_runs(a, b, MATCH_THRESHOLD),
        flops=2 * n * n * dim,
    )
    del a, b

    batch, height, width = sizes.frames
    pixels = dict(dtype=torch.uint8, device=device, generator=generator)
    rgb = torch.randint(0, 256, (batch, height, width, 3), **pixels)
    record(
        "frame_stats_rgb", f"{batch}x{height}x{width} RGB",
        lambda: kernels.frame_stats_rgb(rgb, impl=impl),
        lambda: reference.frame_stats_rgb(rgb, None, (36, 64), 4),
        n_bytes=rgb.numel(), frames=batch,
    )
    del rgb
    y = torch.randint(0, 256, (batch, height, width), **pixels)
    uv = torch.randint(0, 256, (batch, height // 2, width // 2, 2), **pixels)
    record(
        "frame_stats_nv12", f"{batch}x{height}x{width} NV12",
        lambda: kernels.frame_stats_nv12(y, uv, impl=impl),
        lambda: reference.frame_stats_nv12(y, uv, None, (36, 64), 4),
        n_bytes=y.numel() + uv.numel(), frames=batch,
    )

    if device.type == "cuda":
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = f"CPU {platform.processor() or platform.machine()}"
    return {
        "device": device_name,
        "torch": torch.__version__,
        "triton": _version("triton"),
        "command": " ".join(["python -m filmline.benchmarks.kernels_bench", *argv]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "warmup": warmup,
        "repeats": repeats,
        "copy_bandwidth_gbps": copy_gbps,
        "results": results,
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cell(value: object, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def markdown(report: dict) -> str:
    lines = [
        "# Kernel benchmark",
        "",
        f"- device: {report['device']}",
        f"- torch {report['torch']}, triton {report['triton']}",
        f"- command: `{report['command']}`",
        f"- {report['date']}; median of {report['repeats']} after {report['warmup']} warm-up runs",
        f"- measured copy bandwidth: {report['copy_bandwidth_gbps']:.1f} GB/s",
        "",
        "| operation | size | impl | kernel ms | naive ms | speedup | GB/s | % of copy "
        "| TFLOP/s | frames/s | agrees |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["results"]:
        share = r.get("fraction_of_copy_bw")
        lines.append(
            f"| {r['operation']} | {r['size']} | {r['impl']} | {r['kernel_ms']:.3f} "
            f"| {_cell(r.get('naive_ms'), '.3f')} | {_cell(r.get('speedup'), '.1f')} "
            f"| {_cell(r.get('effective_gbps'), '.1f')} "
            f"| {_cell(None if share is None else 100 * share, '.0f')} "
            f"| {_cell(r.get('tflops'), '.2f')} | {_cell(r.get('frames_per_s'), '.0f')} "
            f"| {r.get('agrees_with_naive', r.get('note', ''))} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--out", type=Path, required=True, help="folder for kernels_bench.json/.md")
    parser.add_argument("--small", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is visible; use --device cpu --small")
    report = run(args, argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kernels_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "kernels_bench.md").write_text(markdown(report))
    print(f"wrote {args.out / 'kernels_bench.json'} and {args.out / 'kernels_bench.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""NVDEC on a GPU machine, in one run: does it decode what PyAV decodes, and how fast.

`python -m filmline.benchmarks.decode_check --out DIR` (what `benchmarks/device/decode_check.sh` runs):

1. Writes what the machine has (GPU, driver's NVDEC, PyNvVideoCodec and its API) to `api.txt`.
2. Makes a 1080p H.264 film of `--minutes` at 24 fps: one minute rendered by
   `benchmarks.synthetic` (a seeded timeline of cuts, fades, dissolves, wipes), repeated by
   copying its packets with shifted timestamps.
3. Decodes it with PyAV (one session, FFmpeg's threads on every core) and with NVDEC in 1 … N
   sessions (N: the GPU's NVDEC engines for H.264): frames/s, and whether frame indices,
   timestamps and the frames sampled at 1 fps equal PyAV's.
4. Decode + the cheap statistics kernel (`kernels.frame_stats_nv12`, Triton) on every frame in
   GPU memory, NVDEC with N sessions: frames/s.
5. `engine.pipeline.analyze_video` without encoder (the cheap pass, as `engine-run --backend
   none`), PyAV against NVDEC with N sessions: wall time, and whether shots and sampled frames agree.

Everything lands in `decode_check.json` and a table on stdout. Timings are one pass each
(decoding a ten-minute film is its own warm-up); compare them only within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import av


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m filmline.benchmarks.decode_check", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for decode_check.json and api.txt")
    parser.add_argument("--minutes", type=float, default=10.0, help="film length (default %(default)s)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/decode_check"), help="folder for the film")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)

    from filmline.engine.decode import nvdec_environment

    report: dict = {"machine": _machine(), "environment": repr(nvdec_environment())}
    (args.out / "api.txt").write_text(_api_dump())
    started = time.perf_counter()
    film = make_film(args.work / "film-1080p.mp4", args.minutes)
    report["film"] = {"path": str(film), "minutes": args.minutes, "seconds_to_make": time.perf_counter() - started}
    try:
        report.update(measure(film))
    finally:
        (args.out / "decode_check.json").write_text(json.dumps(report, indent=1, default=str))
        print(json.dumps(report, indent=1, default=str))
    return 0


def make_film(path: Path, minutes: float) -> Path:
    """A 1080p, 24 fps H.264 film of `minutes`: one rendered minute, repeated."""
    from filmline.benchmarks.films import timeline
    from filmline.benchmarks.synthetic import write_film

    if path.exists():
        return path
    minute = path.with_name("minute-1080p.mp4")  # MP4 keeps every dts: shifted copies stay in order
    write_film(minute, timeline(60, 24, seed=11), size="1080p", fps=24, seed=11, preset="ultrafast")
    repeats = max(1, round(minutes))
    with av.open(str(minute)) as source:
        step = _end_pts([p for p in source.demux(source.streams.video[0]) if p.size])
    with av.open(str(path), "w") as target:
        for k in range(repeats):
            with av.open(str(minute)) as source:
                video = source.streams.video[0]
                stream = stream if k else target.add_stream_from_template(video)
                for packet in source.demux(video):
                    if not packet.size:
                        continue
                    packet.pts += k * step
                    if packet.dts is not None:
                        packet.dts += k * step
                    packet.stream = stream
                    target.mux(packet)
    minute.unlink()
    return path


def _end_pts(packets: list[av.Packet]) -> int:
    """One frame past the last frame: where the next repetition starts."""
    ordered = sorted(p.pts for p in packets)
    return ordered[-1] + (ordered[-1] - ordered[-2])


def measure(film: Path) -> dict:
    from filmline.engine.decode import NvdecEnvironment, nvdec_environment, open_decoder, sample_indices
    from filmline.engine.decode.nvdec import decoder_engines

    results: dict = {}
    started = time.perf_counter()
    reference = [(f.index, f.pts, f.seconds) for f in open_decoder(film, "pyav", sessions=1).frames()]
    results["pyav_1_session"] = _rate(len(reference), started)
    sampled = sample_indices([s for _, _, s in reference], 1.0)
    environment = nvdec_environment()
    if environment != NvdecEnvironment(cuda=True):
        results["nvdec"] = f"cannot run here: {environment}"
        return results
    engines = decoder_engines(film)
    results["nvdec_engines"] = engines
    for sessions in sorted({1, 2, 4, engines, 2 * engines}):
        started = time.perf_counter()
        with open_decoder(film, "nvdec", sessions=sessions) as decoder:
            frames = [(f.index, f.pts, f.seconds) for f in decoder.frames()]
            corrupt = decoder.corrupt_frames
        results[f"nvdec_{sessions}_sessions"] = {
            **_rate(len(frames), started),
            "same_frames_as_pyav": frames == reference,
            "same_1fps_samples_as_pyav": sample_indices([s for _, _, s in frames], 1.0) == sampled,
            "corrupt_frames": corrupt,
        }
    results["nvdec_plus_frame_stats_nv12"] = _decode_and_statistics(film, engines)
    results["pipeline_cheap_pass"] = _pipeline(film, engines)
    return results


def _decode_and_statistics(film: Path, sessions: int, batch: int = 16) -> dict:
    """NVDEC frames straight into the Triton statistics kernel, batch by batch, on the GPU."""
    import torch

    from filmline import kernels
    from filmline.engine.decode import open_decoder

    count = 0
    previous = None
    started = time.perf_counter()
    with open_decoder(film, "nvdec", sessions=sessions) as decoder:
        planes: list[tuple[torch.Tensor, torch.Tensor]] = []
        for frame in decoder.frames():
            planes.append(frame.nv12())
            if len(planes) == batch:
                stats = kernels.frame_stats_nv12(torch.stack([y for y, _ in planes]),
                                                 torch.stack([uv for _, uv in planes]), previous)
                previous = stats.luma[-1]
                count += len(planes)
                planes.clear()
        torch.cuda.synchronize()
    return {**_rate(count, started), "sessions": sessions, "batch": batch,
            "impl": kernels.resolve_impl(None, previous if previous is not None else torch.zeros(1))}


def _pipeline(film: Path, sessions: int) -> dict:
    from filmline.engine.cli import build_parser
    from filmline.engine.run_settings import build_run_settings
    from filmline.engine.pipeline import analyze_video

    settings = build_run_settings(build_parser().parse_args([str(film)])).shots
    runs = {}
    for backend, count in (("pyav", 1), ("nvdec", sessions)):
        out = Path("/tmp/decode_check") / f"pipeline-{backend}"
        out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        analysis = analyze_video(film, settings, None, out, decoder_backend=backend, decode_sessions=count)
        runs[backend] = (analysis, time.perf_counter() - started)
    (pyav, pyav_seconds), (nvdec, nvdec_seconds) = runs["pyav"], runs["nvdec"]
    frames = len(pyav.seconds)
    return {
        "pyav": {"seconds": pyav_seconds, "frames_per_second": frames / pyav_seconds, "shots": len(pyav.shots)},
        "nvdec": {"seconds": nvdec_seconds, "frames_per_second": len(nvdec.seconds) / nvdec_seconds,
                  "shots": len(nvdec.shots), "sessions": sessions},
        "same_frame_times": list(pyav.seconds) == list(nvdec.seconds),
        "same_key_frames": pyav.key_frames == nvdec.key_frames,
        "same_shot_starts": [s.start_frame for s in pyav.shots] == [s.start_frame for s in nvdec.shots],
    }


def _rate(frames: int, started: float) -> dict:
    seconds = time.perf_counter() - started
    return {"frames": frames, "seconds": seconds, "frames_per_second": frames / seconds if seconds else None}


def _machine() -> dict:
    import torch

    return {
        "python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
        "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "pyav": av.__version__, "ffmpeg": av.library_versions.get("libavcodec"),
    }


def _api_dump() -> str:
    """PyNvVideoCodec's classes and their methods' signatures, as the installed package has them."""
    try:
        import PyNvVideoCodec as nvc
    except Exception as err:  # noqa: BLE001 - recorded, that is the point
        return f"PyNvVideoCodec does not import: {err}\n"
    lines = [f"PyNvVideoCodec {getattr(nvc, '__version__', '?')}"]
    for name in ("CreateDemuxer", "CreateDecoder", "GetDecoderCaps", "PacketData", "PyNvDecoder", "PyNvDemuxer",
                 "DecodedFrame", "VideoPacketFlag", "cudaVideoCodec", "Pixel_Format"):
        item = getattr(nvc, name, None)
        lines.append(f"\n== {name}: {item!r}\n{getattr(item, '__doc__', '') or ''}")
        for member in sorted(dir(item)) if item is not None else []:
            if not member.startswith("__"):
                doc = (getattr(getattr(item, member, None), "__doc__", "") or "").strip().splitlines()
                lines.append(f"  {member}: {doc[0] if doc else ''}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

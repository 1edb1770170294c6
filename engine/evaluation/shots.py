"""`engine-eval shots --truth TRUTH PREDICTED [PREDICTED ...]`: score shot lists, side by side.

Each predicted file (our result JSON, a PySceneDetect CSV, any CSV the truth may be) is scored
against the one truth; a table goes to stdout and, with `--json`, every figure to a file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filmline.engine.cli_support import notice

if TYPE_CHECKING:
    from filmline.engine.evaluation.shot_annotations import ShotAnnotation

LENGTH_TOLERANCE = 0.05  # truth and prediction lengths further apart than this get a warning
HELP = "boundary P/R/F1 at 0 frames, 2 frames and 1 s; gradual span overlap; mean start/end error of shot i against true shot i"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("predicted", nargs="+", type=Path,
                        help="shot lists to score: engine-run JSON, PySceneDetect CSV, start_time,end_time CSV, ...")
    parser.add_argument("--truth", type=Path, required=True,
                        help="ground truth: <film>.truth.json, start_time,end_time CSV, a Start,End CSV (frames or HH:MM:SS), "
                             "a PySceneDetect CSV or a result JSON (to compare two runs)")
    parser.add_argument("--fps", type=float, help="frame rate for files numbered in frames without times")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")


def run(args: argparse.Namespace) -> int:
    from filmline.engine.errors import BadInputError
    from filmline.engine.evaluation.shot_annotations import read_shots
    from filmline.engine.evaluation.shot_metrics import score_shots
    from filmline.engine.output_files import write_atomic
    from filmline.engine.result import json_bytes

    if args.fps is not None and args.fps <= 0:
        raise BadInputError(f"--fps must be positive, got {args.fps}")
    predicted = [read_shots(path, args.fps) for path in args.predicted]
    fps = args.fps or next((p.fps for p in predicted if p.fps), None)
    truth = read_shots(args.truth, fps)
    for shots in predicted:
        _warn_if_lengths_differ(truth, shots)
    results = [score_shots(truth, p, args.fps) for p in predicted]
    print(format_table(results))
    if args.json is not None:
        write_atomic(args.json, json_bytes({"task": "shots", "truth": str(args.truth), "results": results}))
        print(f"wrote {args.json}")
    return 0


def _warn_if_lengths_differ(truth: ShotAnnotation, predicted: ShotAnnotation) -> None:
    """Shot lists of different lengths are most likely of different videos (or a cut copy)."""
    truth_end, predicted_end = _end(truth), _end(predicted)
    if truth_end > 0 and abs(predicted_end - truth_end) > LENGTH_TOLERANCE * truth_end:
        notice(f"warning: {predicted.source} covers {predicted_end:.1f} s but the truth {truth.source} covers "
            f"{truth_end:.1f} s ({(predicted_end - truth_end) / truth_end:+.0%}); are they of the same video?")


def _end(shots: ShotAnnotation) -> float:
    return shots.shots[-1][1] if shots.shots else 0.0


def labels(sources: list[str]) -> list[str]:
    """Each file's name, with as many of its folders as tell apart files of the same name
    (`a/film.json` and `b/film.json`)."""
    parts = [Path(source).parts for source in sources]
    depth = [1] * len(parts)
    while True:
        names = ["/".join(p[-d:]) for p, d in zip(parts, depth)]
        clashing = {i for i, name in enumerate(names) if names.count(name) > 1 and depth[i] < len(parts[i])}
        if not clashing:
            return names
        for i in clashing:
            depth[i] += 1


def format_table(results: list[dict[str, Any]]) -> str:
    """One row per scored file: F1 (P/R) per tolerance, gradual F1 and IoU, the paired start/end errors."""
    header = ["predicted", "shots", "F1@0f (P/R)", "F1@2f (P/R)", "F1@1s (P/R)", "gradual F1", "IoU", "MAE start/end s"]
    rows = [header]
    names = labels([result["predicted"]["source"] for result in results])
    for name, result in zip(names, results):
        boundaries, gradual, mae = result["boundaries"], result["gradual"], result["seed_mae_seconds"]
        rows.append([
            name,
            f"{result['predicted']['shots']}/{result['truth']['shots']}",
            *(f"{b['f1']:.3f} ({b['precision']:.2f}/{b['recall']:.2f})" for b in boundaries.values()),
            f"{gradual['f1']:.3f}" if result["truth"]["gradual"] or result["predicted"]["gradual"] else "-",
            f"{gradual['mean_iou']:.2f}" if gradual["mean_iou"] is not None else "-",
            f"{mae['start']:.2f}/{mae['end']:.2f}" if mae["pairs"] else "-",
        ])
    widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)

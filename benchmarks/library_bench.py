"""Films per hour over a library: `engine-run` on the suite's library films one after another in
one process, and on Ray with `--workers N` for each N of the suite, each a child process. The
cheap pass alone (`--detector cheap --backend none`), so the figure is decode-bound: the case
where workers should scale (the goal: N workers give at least 0.9 × N the films per hour of one).
Each actor decodes on its share of the cores (Ray's `OMP_NUM_THREADS`, `engine.cpus`) while the
sequential loop decodes on all of them, so where N actors take every core the sequential loop
already had, `vs_sequential` cannot reach 0.9 × N; `vs_workers_1` (N actors against one, each
on one core's share) is the figure that shows how the runner scales.

The figure is taken once the work is under way, so that Ray's start-up (seconds, once per run)
does not hide the scaling: from the earliest film's start (its result's modification time less
its `timings.total`) to the last result written, the same window for every mode. The whole
child run, start-up included, is recorded beside it (`end_to_end_films_per_hour`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from filmline.benchmarks.measure import Recorder, Timing
from filmline.benchmarks.synthetic import GroundTruth

FLAGS = ["--detector", "cheap", "--backend", "none"]


def modes(workers: tuple[int, ...]) -> dict[str, list[str]]:
    """Each way of running, by figure name: the sequential loop, then `--workers N`."""
    return {"sequential": [], **{f"workers-{n}": ["--workers", str(n)] for n in workers}}


def measure_library(rec: Recorder, films: list[GroundTruth], repeats: int, work: Path,
                    workers: tuple[int, ...] = (1, 2)) -> None:
    if importlib.util.find_spec("ray") is None:
        rec.skip("library", "Ray is not installed", "pip install 'filmline[cluster]'")
        return
    paths = [str(truth.path) for truth in films]
    given = {"films": [Path(p).name for p in paths], "engine-run": " ".join(FLAGS)}
    sequential: float | None = None
    single: float | None = None  # --workers 1
    for mode, flags in modes(workers).items():
        windows, whole, loads = [], [], []
        for _ in range(repeats):
            loads.append(os.getloadavg()[0])  # on a shared machine, how busy it was when the run began
            out = work / f"library-{mode}"
            shutil.rmtree(out, ignore_errors=True)
            command = [sys.executable, "-m", "filmline.engine.cli", *paths, "--out", str(out), "--quiet", *FLAGS, *flags]
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, timeout=3600)
            whole.append(time.perf_counter() - started)
            windows.append(working_window(out, paths))
        timing = Timing(windows, 0)
        rate = len(paths) / timing.median * 3600
        sequential = rate if sequential is None else sequential
        count = int(flags[1]) if flags else None
        single = rate if count == 1 else single
        scaling = {"goal_vs_sequential": 0.9 * count} if count else {}
        if count and count > 1 and single:
            scaling |= {"vs_workers_1": rate / single, "goal_vs_workers_1": 0.9 * count}
        rec.add(f"library/{mode}", "films_per_hour", rate, "films/h", input=given, depends_on=("ray", "av"),
                timing=timing, setup={"flags": " ".join(flags) or "(none)"},
                end_to_end_films_per_hour=len(paths) / Timing(whole, 0).median * 3600,
                vs_sequential=rate / sequential, load_average_1min=loads, cpu_count=os.cpu_count(), **scaling)


def working_window(out: Path, videos: list[str]) -> float:
    """Seconds from the earliest film's start to the last result written."""
    starts, ends = [], []
    for video in videos:
        result = out / f"{Path(video).stem}.json"
        written = result.stat().st_mtime
        starts.append(written - json.loads(result.read_text())["timings"]["total"])
        ends.append(written)
    return max(ends) - min(starts)

"""Films per hour over a library: `engine-run` on the suite's films one after another in one
process, and on Ray with `--workers 1` and `--workers 2`, each a child process timed from start
to end (Ray's start-up included, as a user meets it). The cheap pass alone (`--detector cheap
--backend none`), so the figure is decode-bound: the case where workers should scale."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

from filmline.benchmarks.measure import Recorder, Timing
from filmline.benchmarks.synthetic import GroundTruth

MODES = {"sequential": [], "workers-1": ["--workers", "1"], "workers-2": ["--workers", "2"]}


def measure_library(rec: Recorder, films: list[GroundTruth], repeats: int, work: Path) -> None:
    if importlib.util.find_spec("ray") is None:
        rec.skip("library", "Ray is not installed", "pip install 'filmline[cluster]'")
        return
    paths = [str(truth.path) for truth in films]
    given = {"films": [Path(p).name for p in paths], "engine-run": "--detector cheap --backend none"}
    for mode, flags in MODES.items():
        samples = []
        for _ in range(repeats):
            out = work / f"library-{mode}"
            shutil.rmtree(out, ignore_errors=True)
            command = [sys.executable, "-m", "filmline.engine.cli", *paths, "--out", str(out), "--quiet",
                       "--detector", "cheap", "--backend", "none", *flags]
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, timeout=1800)
            samples.append(time.perf_counter() - started)
        timing = Timing(samples, 0)
        rec.add(f"library/{mode}", "films_per_hour", len(paths) / timing.median * 3600, "films/h",
                input=given, depends_on=("ray", "av"), timing=timing, setup={"flags": " ".join(flags) or "(none)"})

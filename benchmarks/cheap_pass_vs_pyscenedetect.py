"""The cheap full-rate pass against PySceneDetect's detect-adaptive, on the same files, one run.

    python -m benchmarks.cheap_pass_vs_pyscenedetect VIDEO [VIDEO ...] [--repeats 5] [--out DIR]

Both run in this process, alternately (ours, theirs, ours, …) so both see the same machine load,
after one warm-up each; the figures are medians. Ours is `engine-run --backend none` minus the
file writing: decode, cheap pass, cut and gradual detection, shots, key-frame thumbnails.
Needs `pip install scenedetect opencv-python-headless` (the `bench` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path


def run_ours(video: Path, work: Path) -> tuple[float, int, list[int]]:
    from engine.cli import _settings, build_parser
    from engine.pipeline import analyze_video

    settings = _settings(build_parser().parse_args([str(video)]))
    started = time.perf_counter()
    analysis = analyze_video(video, settings, None, work)
    elapsed = time.perf_counter() - started
    return elapsed, len(analysis.seconds), [s.start_frame for s in analysis.shots[1:]]


def run_pyscenedetect(video: Path) -> tuple[float, int, list[int]]:
    from scenedetect import AdaptiveDetector, SceneManager, open_video

    started = time.perf_counter()
    stream = open_video(str(video))
    manager = SceneManager()
    manager.add_detector(AdaptiveDetector())
    frames = manager.detect_scenes(stream)
    elapsed = time.perf_counter() - started
    return elapsed, frames, [start.frame_num for start, _ in manager.get_scene_list()[1:]]


def compare(video: Path, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as work:
        run_ours(video, Path(work))  # warm-up: imports, caches
        run_pyscenedetect(video)
        ours, theirs = [], []
        for _ in range(repeats):
            ours.append(run_ours(video, Path(work)))
            theirs.append(run_pyscenedetect(video))
    ours_time = statistics.median(t for t, _, _ in ours)
    theirs_time = statistics.median(t for t, _, _ in theirs)
    return {
        "video": str(video),
        "frames": ours[0][1],
        "cheap_pass": {"seconds": ours_time, "frames_per_second": ours[0][1] / ours_time, "shot_starts": ours[0][2]},
        "pyscenedetect_adaptive": {
            "seconds": theirs_time, "frames_per_second": theirs[0][1] / theirs_time, "shot_starts": theirs[0][2]
        },
        "speedup": theirs_time / ours_time,
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="+", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the figures as JSON into this folder")
    args = parser.parse_args(argv)

    import av
    import scenedetect
    import torch

    results = [compare(video, args.repeats) for video in args.videos]
    report = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "versions": {"python": platform.python_version(), "av": av.__version__,
                     "scenedetect": scenedetect.__version__, "torch": torch.__version__},
        "results": results,
    }
    for r in results:
        print(f"{Path(r['video']).name}: {r['frames']} frames | cheap pass {r['cheap_pass']['frames_per_second']:.0f} frames/s "
              f"| PySceneDetect detect-adaptive {r['pyscenedetect_adaptive']['frames_per_second']:.0f} frames/s "
              f"| speedup x{r['speedup']:.2f}")
        print(f"  shot starts, ours:  {r['cheap_pass']['shot_starts']}")
        print(f"  shot starts, theirs: {r['pyscenedetect_adaptive']['shot_starts']}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        target = args.out / "cheap_pass_vs_pyscenedetect.json"
        target.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

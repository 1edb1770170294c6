"""Training the trigger model, end to end on generated videos with visible events.

Videos show a drifting bluish texture; an event is a red flash fading over a second or a yellow
square entering from the left and leaving a second later. A tiny ResNet18 (width 8, 32 px) is
trained with `engine-train trigger` on five of them, built with `engine-build --model trigger
--strict`, and must find the events of a sixth, never-seen video at event-level F1 >= 0.8 through
the same detector engine-run uses. The fixed defects of the original's loop are checked on their own.
"""

from __future__ import annotations

import contextlib
import io
import json
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av
import numpy as np
import pytest
import torch

from filmline.engine.cli_support import run_subcommands
from filmline.engine.decode import FpsSampler, open_decoder
from filmline.engine.models.trigger import TriggerConfig, TriggerModel
from filmline.engine.model_setup import open_triggers
from filmline.engine.stages.triggers import TriggerDetector, TriggerResult, TriggerSettings
from filmline.engine.training.trigger_data import SampledVideo
from filmline.engine.training.trigger_loop import TrainOptions, _learning_rate_factor, positive_weight, train, trigger_loss
from filmline.engine.training.trigger_metrics import event_scores
from filmline.export.cli import main as engine_build

FPS = 15
SIZE = (96, 64)
COLOURS = {"flash": (255, 40, 40), "enter": (250, 220, 30)}
TRAIN_ARGS = ["--encoder", "resnet18", "--width", "8", "--image-size", "32", "--epochs", "16", "--lr", "3e-3", "--val-fraction", "0.2"]


def write_event_video(path: Path, seconds: float, events: list[tuple[float, str]], seed: int) -> None:
    """H.264 at 15 fps; each event is visible from its time to 1 s after it."""
    width, height = SIZE
    rng = np.random.default_rng(seed)
    x = np.mgrid[0:height, 0:width][1].astype(np.float32)
    tint = (rng.uniform(70, 150) + rng.uniform([-25, -10, 0], [0, 10, 30])).astype(np.float32)
    noise = rng.normal(0, 18, (height, 2 * width, 3)).astype(np.float32)
    side = height // 3
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"preset": "veryfast", "crf": "18"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for n in range(int(seconds * FPS)):
            t = n / FPS
            image = tint + 40 * np.sin(2 * np.pi * (x / width + t / seconds))[..., None] + noise[:, n % width : n % width + width]
            for at, kind in events:
                if not 0 <= t - at < 1.0:
                    continue
                colour = np.array(COLOURS[kind], np.float32)
                if kind == "flash":
                    alpha = 0.85 * (1 - (t - at))
                    image = (1 - alpha) * image + alpha * colour
                else:
                    right = int(min(1.0, (t - at) / 0.2) * (width // 3)) + side // 2
                    image[side : 2 * side, max(0, right - side) : right] = colour
            frame = av.VideoFrame.from_ndarray(np.clip(image, 0, 255).astype(np.uint8), format="rgb24")
            frame.pts, frame.time_base = n, Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Tiny models gain nothing from intra-op threads, and on shared CI cores they lose a lot."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def random_events(rng: np.random.Generator, seconds: float, count: int) -> list[tuple[float, str]]:
    while True:
        times = np.sort(rng.uniform(1.0, seconds - 1.5, count))
        if np.all(np.diff(times) >= 3.0):
            return [(round(float(t), 2), str(k)) for t, k in zip(times, rng.choice(list(COLOURS), count))]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("trigger-training")
    rng = np.random.default_rng(1)
    videos = []
    for i in range(5):
        events = random_events(rng, 15, 4)
        write_event_video(root / f"clip{i}.mp4", 15, events, seed=i)
        videos.append({"video_path": f"clip{i}.mp4", "triggers": [{"timestamp": t, "label": 1, "description": k} for t, k in events]})
    held_out = random_events(rng, 20, 5)
    write_event_video(root / "held-out.mp4", 20, held_out, seed=99)
    (root / "annotations.json").write_text(json.dumps({"videos": videos}))
    checkpoint = root / "trigger.pt"
    argv = ["trigger", "--annotations", str(root / "annotations.json"), "--videos", str(root), "--out", str(checkpoint), *TRAIN_ARGS]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), one_thread():
        code = run_subcommands("engine-train", "train", {"trigger": "filmline.engine.training.trigger"}, argv)
    assert code == 0, printed.getvalue()
    return {
        "root": root,
        "checkpoint": checkpoint,
        "held_out": root / "held-out.mp4",
        "events": [t for t, _ in held_out],
        "printed": printed.getvalue(),
    }


@pytest.fixture(scope="module")
def home(trained: dict[str, Any]) -> Path:
    home = trained["root"] / "engine-home"
    with contextlib.redirect_stdout(io.StringIO()) as printed, one_thread():
        code = engine_build(["--model", "trigger", "--checkpoint", str(trained["checkpoint"]), "--strict", "--out", str(home / "trigger")])
    assert code == 0, printed.getvalue()
    return home


def detect(detector: TriggerDetector, path: Path) -> TriggerResult:
    """Sample trigger frames by timestamp from one decode pass, as the pipeline does."""
    size = detector.image_size
    sampler, previous = FpsSampler(detector.settings.fps), None
    with open_decoder(path) as decoder:
        for frame in decoder.frames():
            for index in sampler.push(frame.index, frame.seconds):
                chosen = frame if index == frame.index else previous
                detector.add(chosen.index, chosen.seconds, chosen.to_rgb(size, size))
            previous = frame
        for _ in sampler.finish():
            detector.add(previous.index, previous.seconds, previous.to_rgb(size, size))
    return detector.finish()


def test_training_writes_a_seed_layout_checkpoint(trained: dict[str, Any]) -> None:
    saved = torch.load(trained["checkpoint"], map_location="cpu", weights_only=True)
    assert {"epoch", "model_state_dict", "optimizer_state_dict", "loss"} <= set(saved)
    prefixes = {key.split(".")[0] + "." + key.split(".")[1] for key in saved["model_state_dict"]}
    assert prefixes == {
        "visual_encoder.backbone", "visual_encoder.projection",
        "trigger_detector.feature_projection", "trigger_detector.temporal_encoder", "trigger_detector.classifier",
    }
    assert saved["engine"]["metrics"]["on"] == "validation"
    assert "Build it: engine-build --model trigger --checkpoint" in trained["printed"]


def test_trained_model_finds_the_events_of_an_unseen_video(trained: dict[str, Any], home: Path) -> None:
    detector = open_triggers(TriggerSettings.from_config(), home=home).model
    assert detector.model["backend"] == "onnxruntime" and detector.image_size == 32
    result = detect(detector, trained["held_out"])
    found = [trigger.timestamp for trigger in result.triggers]
    scores = event_scores(found, trained["events"], tolerance=1.0)
    assert scores.f1 >= 0.8, (found, trained["events"])
    assert result.frames_analyzed == 60  # 20 s at 3 fps
    torch_result = detect(open_triggers(TriggerSettings.from_config(), backend="torch", home=home).model, trained["held_out"])
    assert [t.frame_index for t in torch_result.triggers] == [t.frame_index for t in result.triggers]
    for a, b in zip(torch_result.triggers, result.triggers):
        assert a.confidence == pytest.approx(b.confidence, abs=1e-4)


def test_the_artifact_records_parity_and_where_each_part_runs(trained: dict[str, Any], home: Path) -> None:
    manifest = json.loads((home / "trigger" / "manifest.json").read_text())
    assert manifest["parity"]["onnxruntime"]["passed"] and manifest["parity"]["onnxruntime-confidence"]["passed"]
    assert manifest["head"]["runtime"] == "torch" and manifest["input"]["mean"] == [0.485, 0.456, 0.406]
    assert manifest["checkpoint"]["missing"] == [] and manifest["architecture"]["encoder"] == "resnet18"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert engine_build(["--model", "trigger", "--checkpoint", str(trained["checkpoint"]), "--out", str(home / "trigger")]) == 0
    assert "up to date" in printed.getvalue()


def tiny_model() -> TriggerModel:
    torch.manual_seed(0)
    return TriggerModel(TriggerConfig(encoder="resnet18", width=4, feature_dim=16, hidden_dim=8, image_size=16))


def test_padding_reaches_neither_batch_norm_nor_the_loss() -> None:
    valid = torch.tensor([[True, True, True, True], [True, True, False, False]])
    frames = torch.rand(2, 4, 3, 16, 16)
    loud = frames.clone()
    loud[1, 2:] = 1000.0
    labels = torch.tensor([[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 1.0]])
    outcomes = []
    for pixels in (frames, loud):
        model = tiny_model().train()
        logits = model(pixels, valid)
        logits.retain_grad()
        loss = trigger_loss(logits, labels, valid, positive_weight=3.0)
        loss.backward()
        outcomes.append((logits.detach()[valid], model.visual_encoder.backbone[1].running_mean.clone(), loss.detach(), logits.grad))
    (logits_a, stats_a, loss_a, grad_a), (logits_b, stats_b, loss_b, _) = outcomes
    assert torch.allclose(logits_a, logits_b) and torch.equal(stats_a, stats_b) and torch.equal(loss_a, loss_b)
    assert torch.count_nonzero(grad_a[1, 2:]) == 0


def test_each_class_weighs_half_of_the_loss() -> None:
    labels = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0]])
    video = SampledVideo(Path("v.mp4"), np.zeros((5, 8, 8, 3), np.uint8), np.arange(5) / 3, (0.0,), labels[0].numpy())
    weight = positive_weight([video])
    assert weight == 4.0
    logits = torch.randn(1, 5, 2)
    targets = torch.stack([1 - labels, labels], -1)
    per_frame = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(-1)[0]
    expected = (weight * per_frame[0] + per_frame[1:].sum()) / (weight + 4)
    assert trigger_loss(logits, labels, torch.ones_like(labels, dtype=torch.bool), weight) == pytest.approx(float(expected))


def test_learning_rate_warms_up_and_decays_per_batch() -> None:
    factors = [_learning_rate_factor(step, 100) for step in range(100)]
    assert factors[:10] == pytest.approx([(n + 1) / 10 for n in range(10)])
    assert all(a >= b for a, b in zip(factors[10:], factors[11:])) and factors[-1] < 0.01


def test_training_keeps_the_best_epoch_on_the_validation_videos() -> None:
    rng = np.random.default_rng(0)

    def video(events: tuple[float, ...]) -> SampledVideo:
        seconds = np.arange(12) / 3
        labels = np.isin(np.round(seconds * 3), [round(e * 3) for e in events]).astype(np.float32)
        return SampledVideo(Path("v.mp4"), rng.integers(0, 255, (12, 16, 16, 3), dtype=np.uint8), seconds, events, labels)

    options = TrainOptions(
        epochs=3, learning_rate=1e-3, weight_decay=0.0, batch_size=2, sequence_frames=5, grad_clip=1.0, threshold=0.3,
        suppress_seconds=5 / 3, tolerance=1.0, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), device="cpu", seed=0,
    )
    lines: list[str] = []
    result = train(tiny_model(), [video((1.0,)), video((2.0,))], [video((3.0,))], options, lines.append)
    assert len(result.history) == 3 and len(lines) == 3 and lines[0].startswith("epoch 1/3: train loss")
    best = max(result.history, key=lambda r: (r["validation"]["event"]["f1"], r["validation"]["frame"]["f1"], -r["validation"]["loss"]))
    assert result.epoch == best["epoch"] and result.metrics["on"] == "validation"

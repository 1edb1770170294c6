"""The trigger stage's contract: settings, suppression, batching, result fields, missing model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filmline.engine.errors import BadInputError, MissingModelError
from filmline.engine.backends import open_model
from filmline.engine.model_setup import open_triggers
from filmline.engine.stages.triggers import TriggerDetector, TriggerSettings, select_triggers


def test_settings_default_to_the_seed() -> None:
    defaults = TriggerSettings.from_config()
    assert (defaults.fps, defaults.threshold, defaults.batch_size) == (3.0, 0.3, 32)
    assert defaults.suppress_seconds == pytest.approx(5 / 3)


@pytest.mark.parametrize(
    "field, value, flag",
    [("fps", 0.0, "--trigger-fps"), ("threshold", 1.5, "--trigger-threshold"), ("batch_size", 0, "batch size"), ("suppress_seconds", -1.0, "window")],
)
def test_invalid_settings_name_the_problem(field: str, value: float, flag: str) -> None:
    with pytest.raises(BadInputError, match=flag):
        TriggerSettings.from_config(**{field: value})


def test_the_seeds_five_frame_rule_in_seconds() -> None:
    """At 3 fps the seed dropped triggers fewer than 5 sampled frames after a kept one."""
    seconds = np.arange(12) / 3
    confidences = np.full(12, 0.9)
    assert select_triggers(seconds, confidences, 0.3, 5 / 3) == [0, 5, 10]


def test_a_stronger_trigger_suppresses_an_earlier_weaker_one() -> None:
    seconds = np.array([0.0, 0.4, 0.8, 3.0])
    confidences = np.array([0.5, 0.2, 0.95, 0.3])
    assert select_triggers(seconds, confidences, 0.3, 1.0) == [2, 3]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=0, max_size=40),
    st.floats(0.0, 1.0),
    st.floats(0.0, 3.0),
)
def test_suppression_properties(confidences: list[float], threshold: float, window: float) -> None:
    seconds = np.arange(len(confidences)) / 3
    values = np.asarray(confidences)
    kept = select_triggers(seconds, values, threshold, window)
    assert kept == sorted(kept)
    assert all(values[i] >= threshold for i in kept)
    assert all(b - a >= window - 1e-9 for a, b in zip(seconds[kept], seconds[kept][1:]))
    for i in np.flatnonzero(values >= threshold):  # every dropped candidate has a kept one as strong nearby
        if i not in kept:
            assert any(abs(seconds[i] - seconds[j]) < window and values[j] >= values[i] for j in kept)


class FakeRunner:
    """A runner with a known feature per image: its mean pixel value, in 4 dimensions."""

    name, device, precision = "fake", "cpu", "fp32"
    image_size, mean, std = 8, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)

    def __init__(self) -> None:
        self.batches: list[int] = []

    def run(self, pixels: np.ndarray) -> np.ndarray:
        self.batches.append(len(pixels))
        return np.repeat(pixels.mean(axis=(1, 2, 3))[:, None], 4, axis=1).astype(np.float32)


def _detector(settings: TriggerSettings) -> tuple[TriggerDetector, FakeRunner]:
    runner = FakeRunner()
    detector = TriggerDetector(runner, lambda features: features[:, 0], settings, {"backend": "fake"})
    return detector, runner


def test_detector_batches_frames_and_reports_its_time_apart_from_the_result() -> None:
    detector, runner = _detector(TriggerSettings.from_config(batch_size=4, threshold=0.5, suppress_seconds=1.0))
    for n in range(10):
        detector.add(10 * n, n / 3, np.zeros((8, 8, 3), np.uint8))
    assert runner.batches == [4, 4]  # full batches run while adding: images never pile up
    result = detector.finish()
    assert runner.batches == [4, 4, 2]
    assert result.frames_analyzed == 10 and result.model == {"backend": "fake"}
    assert result.seconds_spent > 0


def test_detector_finds_the_strong_frames_and_resets_between_videos() -> None:
    detector, _ = _detector(TriggerSettings.from_config(batch_size=3, threshold=0.5, suppress_seconds=1.0))
    levels = [0.1, 0.2, 0.9, 0.6, 0.1, 0.1, 0.1, 0.7, 0.2, 0.1]
    for n, level in enumerate(levels):
        detector.add(10 * n, n / 3, np.full((8, 8, 3), int(level * 255), np.uint8))
    result = detector.finish()
    assert [t.frame_index for t in result.triggers] == [20, 70]  # frame 30 (0.6) is within 1 s of 20 (0.9)
    assert result.triggers[0].timestamp == pytest.approx(2 / 3)
    assert result.triggers[0].confidence == pytest.approx(int(0.9 * 255) / 255, rel=1e-6)
    detector.reset()
    empty = detector.finish()
    assert empty.frames_analyzed == 0 and empty.triggers == []


def test_frames_must_come_in_time_order() -> None:
    detector, _ = _detector(TriggerSettings.from_config())
    detector.add(0, 1.0, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="time order"):
        detector.add(1, 1.0, np.zeros((8, 8, 3), np.uint8))


def test_without_a_built_model_the_error_names_the_fix(tmp_path: Path) -> None:
    fix = r"no trigger model in .*trigger: run `engine-build --model trigger --checkpoint FILE`"
    with pytest.raises(MissingModelError, match=fix) as caught:
        open_model("trigger", home=tmp_path)
    assert "\n" not in str(caught.value)
    opened = open_triggers(TriggerSettings.from_config(), home=tmp_path)  # engine-run goes on without it
    (skipped,) = opened.report.skipped
    assert opened.model is None and skipped.stage == "triggers" and not opened.report.entries
    assert skipped.reason == f"no trigger model in {tmp_path / 'trigger'}"


def test_unknown_backend_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="auto, tensorrt, onnxruntime, torch"):
        open_model("trigger", backend="cuda", home=tmp_path)

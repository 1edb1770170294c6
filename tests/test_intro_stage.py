"""Windowed inference and segments: from per-window logits to intro/credits entries."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filmline.engine.errors import BadInputError
from filmline.engine.stages.intro import IntroSettings, best_entries, find_segments, sample_span, window_probabilities

WINDOW = 12


def _logits_of_first_column(windows: np.ndarray) -> np.ndarray:
    """A fake model: the logit of each step is the step's first embedding value."""
    return windows[..., :1].astype(np.float32)


def test_every_second_is_averaged_over_the_windows_that_saw_it():
    calls = []

    def run(windows):
        calls.append(len(windows))
        return np.zeros((len(windows), WINDOW, 2), np.float32)

    probabilities = window_probabilities(np.zeros((50, 3), np.float32), WINDOW, 5, run, batch=4)
    assert probabilities.shape == (50, 2) and np.allclose(probabilities, 0.5)
    assert sum(calls) == 9 and max(calls) <= 4  # starts 0, 5, …, 35 and the last at 38


def test_probabilities_follow_the_model_and_short_videos_are_padded():
    embeddings = np.zeros((7, 2), np.float32)
    embeddings[2:5, 0] = 10.0
    probabilities = window_probabilities(embeddings, WINDOW, 3, _logits_of_first_column)
    assert probabilities.shape == (7, 1)
    assert (probabilities[2:5, 0] > 0.99).all() and np.allclose(probabilities[[0, 1, 5, 6], 0], 0.5)
    with pytest.raises(BadInputError, match="no embeddings"):
        window_probabilities(np.zeros((0, 2), np.float32), WINDOW, 3, _logits_of_first_column)


def test_hysteresis_merge_and_lengths():
    settings = IntroSettings.from_config(high=0.6, low=0.4, min_seconds=5, max_seconds=30, merge_gap=2)
    p = np.zeros(100, np.float32)
    p[10:20] = 0.5  # low only: no segment
    p[30:40] = 0.5
    p[35] = 0.9  # a high second carries the whole low run
    p[42:45] = 0.9  # two seconds apart: merged
    p[60:63] = 0.9  # too short
    p[70:] = 0.9  # [69.5, 99.5]: 30 s, as long as allowed
    segments = find_segments(p, settings)
    assert [(s[0], s[1]) for s in segments] == [(30, 44), (70, 99)]
    assert find_segments(p, IntroSettings.from_config(high=0.6, low=0.4, min_seconds=5, max_seconds=20, merge_gap=2))[-1][:2] == (30, 44)


def test_best_entries_pick_the_most_confident_segment_per_output():
    p = np.zeros((120, 2), np.float32)
    p[5:25, 0] = 0.7
    p[40:60, 0] = 0.95
    p[100:120, 1] = 0.9
    entries = best_entries(p, ("intro", "credits"), IntroSettings.from_config(), "intro_transformer")
    assert entries == [
        {"kind": "intro", "start": 39.5, "end": 59.5, "confidence": 0.95, "method": "intro_transformer"},
        {"kind": "credits", "start": 99.5, "end": 119.5, "confidence": 0.9, "method": "intro_transformer"},
    ]


def test_sample_span():
    assert sample_span(0, 9) == (0.0, 9.5)
    assert sample_span(20, 29) == (19.5, 29.5)
    assert sample_span(3.5, 8.5) == (3.0, 9.0)


def test_settings_defaults_come_from_the_yaml_and_are_checked():
    settings = IntroSettings.from_config()
    assert (settings.min_seconds, settings.max_seconds) == (5, 180) and settings.window is None
    with pytest.raises(BadInputError, match="low <= high"):
        IntroSettings.from_config(high=0.3, low=0.5)
    with pytest.raises(BadInputError, match="stride"):
        IntroSettings.from_config(stride=0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1, width=32), min_size=1, max_size=150),
    st.floats(0.05, 0.95),
    st.floats(0, 1),
    st.integers(0, 4),
)
def test_segments_are_ordered_disjoint_and_valid(values, low, spread, gap):
    p = np.asarray(values, np.float32)
    high = low + (1 - low) * spread * 0.99
    settings = IntroSettings.from_config(high=max(high, low), low=low, min_seconds=3, max_seconds=60, merge_gap=gap)
    segments = find_segments(p, settings)
    for (first, last, confidence), following in zip(segments, segments[1:] + [None]):
        assert 0 <= first <= last < len(p)
        assert p[first] >= low and p[last] >= low and (p[first : last + 1] >= settings.high).any()
        start, end = sample_span(first, last)
        assert 3 <= end - start <= 60
        assert confidence == pytest.approx(float(p[first : last + 1].mean()), rel=1e-5)
        if following is not None:
            assert following[0] - last - 1 > gap

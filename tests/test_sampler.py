"""The timestamp sampler against a brute-force reading of its definition."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filmline.benchmarks.synthetic import GroundTruth
from filmline.engine.decode import FpsSampler, open_decoder, sample_indices
from filmline.engine.errors import BadInputError


def reference(seconds: list[float], fps: float) -> list[int]:
    """The definition, literally: each target before the end picks its nearest frame."""
    if not seconds:
        return []
    if len(seconds) == 1:
        return [0]
    end = seconds[-1] + (seconds[-1] - seconds[-2])
    chosen = set()
    k = 0
    while (t := k / fps) < end:
        chosen.add(min(range(len(seconds)), key=lambda j: (abs(seconds[j] - t), j)))
        k += 1
    return sorted(chosen)


@st.composite
def frame_times(draw: st.DrawFn) -> list[float]:
    """Strictly increasing times on a time base grid: VFR, gaps, non-zero first times."""
    time_base = Fraction(1, draw(st.sampled_from([1000, 12800, 90000, 30000])))
    start = draw(st.integers(0, 3 * time_base.denominator))
    steps = draw(st.lists(st.integers(1, time_base.denominator // 5), max_size=40))
    ticks = [start]
    for step in steps:
        ticks.append(ticks[-1] + step)
    return [float(t * time_base) for t in ticks]


rates = st.one_of(st.sampled_from([0.5, 1, 2, 10, 23.976, 25, 29.97, 60]), st.floats(0.2, 80))


@settings(max_examples=200, deadline=None)
@given(seconds=frame_times(), fps=rates)
def test_matches_the_definition(seconds: list[float], fps: float) -> None:
    chosen = sample_indices(seconds, fps)
    assert chosen == reference(seconds, fps)
    assert all(a < b for a, b in zip(chosen, chosen[1:]))


@settings(max_examples=200, deadline=None)
@given(seconds=frame_times(), fps=rates, offset=st.integers(0, 1000))
def test_streaming_decides_only_this_or_the_previous_frame(
    seconds: list[float], fps: float, offset: int
) -> None:
    sampler = FpsSampler(fps)
    streamed = []
    for position, s in enumerate(seconds):
        index = offset + position  # indices are the caller's, not positions
        picked = sampler.push(index, s)
        assert set(picked) <= {index - 1, index}
        streamed += picked
    streamed += sampler.finish()
    assert streamed == [offset + i for i in sample_indices(seconds, fps)]


def test_one_per_second_of_a_constant_rate() -> None:
    seconds = [k / 25 for k in range(100)]  # 4 s
    assert sample_indices(seconds, 1) == [0, 25, 50, 75]
    assert sample_indices(seconds, 0.5) == [0, 50]


def test_above_the_source_rate_every_frame_once() -> None:
    seconds = [k / 25 for k in range(50)]
    assert sample_indices(seconds, 100) == list(range(50))
    assert sample_indices(seconds, 25) == list(range(50))


def test_variable_rate_picks_by_time_not_count() -> None:
    # Frames 0.1 s apart for 1 s, then 0.5 s apart: the count-based pick would drift.
    seconds = [k / 10 for k in range(10)] + [1 + k / 2 for k in range(6)]
    assert sample_indices(seconds, 1) == [0, 10, 12, 14]


def test_first_frame_after_zero() -> None:
    seconds = [1.0 + k / 10 for k in range(20)]  # first target 0 s, before the first frame
    assert sample_indices(seconds, 1) == [0, 10]


def test_ties_go_to_the_earlier_frame() -> None:
    # Target 0.5 s lies 0.25 s from frames 1 and 2 (binary fractions: an exact tie).
    assert sample_indices([0.0, 0.25, 0.75, 1.0], 2) == [0, 1, 3]


def test_targets_past_the_end_pick_nothing() -> None:
    seconds = [k / 10 for k in range(10)]  # ends at 1.0 s
    assert sample_indices(seconds, 1) == [0]
    assert sample_indices(seconds[:-1] + [0.95], 1) == [0, 9]  # ends at 1.0 s: target 1.0 too


def test_single_and_no_frame() -> None:
    assert sample_indices([3.0], 1) == [0]
    assert sample_indices([], 1) == []


@pytest.mark.parametrize("fps", [0, -1, math.nan, math.inf, "1"])
def test_invalid_rate(fps: object) -> None:
    with pytest.raises(BadInputError, match="fps"):
        FpsSampler(fps)  # type: ignore[arg-type]


def test_times_must_increase() -> None:
    sampler = FpsSampler(1)
    sampler.push(0, 0.0)
    with pytest.raises(ValueError, match="increase"):
        sampler.push(1, 0.0)


@pytest.mark.parametrize("name", ["h264-vfr-start1s.mp4", "hevc-vfr-start1s.mkv"])
def test_decoded_variable_rate_film(films: dict[str, GroundTruth], name: str) -> None:
    """Streaming over a decoder gives what the truth's exact times give."""
    truth = films[name]
    sampler = FpsSampler(2)
    chosen = []
    with open_decoder(truth.path) as decoder:
        for frame in decoder.frames():
            chosen += sampler.push(frame.index, frame.seconds)
    chosen += sampler.finish()
    assert chosen == sample_indices(truth.seconds, 2)
    end = 2 * truth.seconds[-1] - truth.seconds[-2]
    assert len(chosen) == math.ceil(end * 2)  # one frame per target: the source is faster

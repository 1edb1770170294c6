"""The one time module: what people write is read the same everywhere, times print the same
everywhere, and frame times are the exact pts rounded once."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from filmline.engine.timecode import frame_seconds, parse_time, pts_seconds, timecode


@pytest.mark.parametrize("text, seconds", [
    ("01:02:03.5", 3723.5), ("02:03", 123.0), (" 4.25 ", 4.25), ("00:00:05.250", 5.25), ("75:00", 4500.0),
    (12, 12.0), (0.5, 0.5),
])
def test_the_forms_people_write(text, seconds) -> None:
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text, reason", [
    ("1:2:3:4", "is not a time"), ("ten", "is not a time"), ("nan", "is not a time"), (True, "is not a time"),
    (None, "is not a time"), ("-2", "must be >= 0"), (-0.5, "must be >= 0"), ("01:60:00", "60 or more"),
    ("00:00:61", "60 or more"),
])
def test_what_is_not_a_time_says_why(text, reason) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_time(text)


def test_timecode_prints_milliseconds_always_when_needed_or_never() -> None:
    assert timecode(3723.5) == "01:02:03.500"
    assert timecode(59.9996) == "00:01:00.000"  # rounded to the millisecond, carried into the minute
    assert timecode(5.0, "when_needed") == "00:00:05" and timecode(5.25, "when_needed") == "00:00:05.250"
    assert timecode(3599.6, "never") == "01:00:00"
    assert timecode(100 * 3600.0) == "100:00:00.000"


def test_what_timecode_prints_reads_back() -> None:
    for seconds in (0.0, 0.001, 59.999, 3723.5, 7322.042):
        assert parse_time(timecode(seconds)) == pytest.approx(seconds, abs=5e-4)


@pytest.mark.parametrize("time_base", [Fraction(1, 90000), Fraction(1001, 30000), Fraction(1, 1000), Fraction(1, 12800)])
def test_frame_seconds_are_the_exact_pts_rounded_once(time_base: Fraction) -> None:
    rng = np.random.default_rng(0)
    start = int(rng.integers(0, 10**6))
    pts = start + np.sort(rng.integers(0, 10**9, 200))
    expected = [float((int(p) - start) * time_base) for p in pts]
    assert [pts_seconds(int(p), start, time_base) for p in pts] == expected
    assert frame_seconds(pts, start, time_base).tolist() == expected
    assert frame_seconds([], start, time_base).shape == (0,)

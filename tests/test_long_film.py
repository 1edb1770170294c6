"""The gpu suite's long film: parts written in parallel, joined into one stream with one truth."""

from __future__ import annotations

import numpy as np
import pytest

from filmline.benchmarks.long_film import ensure_long_film
from filmline.benchmarks.suites import FilmSpec
from filmline.engine.decode.pyav import PyAVDecoder

pytestmark = pytest.mark.slow  # a benchmark harness run: `python -m pytest -m slow`


def test_joined_parts_decode_as_one_film_with_their_truth(tmp_path):
    spec = FilmSpec("joined", 3, (96, 64), "24", "h264", "mp4", seed=3)
    truth = ensure_long_film(spec, tmp_path, parts=3, workers=2)
    with PyAVDecoder(truth.path) as decoder:
        seconds = [frame.seconds for frame in decoder.frames()]
        assert decoder.corrupt_frames == 0
    assert len(seconds) == truth.frame_count
    np.testing.assert_allclose(seconds, truth.seconds, atol=1e-9)  # exact timestamps across the joins
    starts = [shot.first for shot in truth.shots]
    assert starts == sorted(starts) and truth.shots[-1].last == truth.frame_count - 1
    written = (tmp_path / "joined.mp4").stat().st_mtime_ns
    assert ensure_long_film(spec, tmp_path, parts=3, workers=2) == truth  # reused, not written again
    assert (tmp_path / "joined.mp4").stat().st_mtime_ns == written

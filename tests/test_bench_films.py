"""The benchmark films' timelines and cache, and the harness's small parts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from filmline.benchmarks.films import ensure_film, timeline
from filmline.benchmarks.machine import machine_id
from filmline.benchmarks.measure import time_runs
from filmline.benchmarks.suites import SUITES, FilmSpec
from filmline.benchmarks.synthetic import Dissolve, Fade, Shot, Wipe


def _kinds(shots: list[Shot], fps: float) -> set[str]:
    kinds = set()
    for shot in shots[1:]:
        kinds.add(type(shot.transition).__name__.lower())
        kinds.update(type(effect).__name__.lower() for effect in shot.effects)
        if shot.static:
            kinds.add("static")
        if shot.frames < fps:
            kinds.add("short")
    return kinds


@pytest.mark.parametrize(("seconds", "dense"), [(60, False), (8, True)])
def test_every_kind_appears(seconds: float, dense: bool) -> None:
    shots = timeline(seconds, 25, seed=1, dense=dense)
    assert _kinds(shots, 25) >= {"cut", "dissolve", "fade", "wipe", "flash", "pan", "zoom", "static", "short"}


def test_a_long_timeline_is_mostly_cuts_and_as_long_as_asked() -> None:
    shots = timeline(3600, 25, seed=0)
    frames = sum(s.frames for s in shots) + sum(
        t.out_frames + t.black_frames + t.in_frames if isinstance(t, Fade) else getattr(t, "frames", 0)
        for t in (s.transition for s in shots)
    )
    assert 3600 * 25 <= frames < 3600 * 25 + 13 * 25  # at most one shot (≤ 12 s + transition) over
    transitions = [type(s.transition) for s in shots[1:]]
    share_of_cuts = sum(t not in (Dissolve, Fade, Wipe) for t in transitions) / len(transitions)
    assert 0.6 < share_of_cuts < 0.8
    assert all(s.frames >= 0.65 * 25 - 1 for s in shots)  # nothing shorter than the engine's minimum shot


def test_the_same_seed_gives_the_same_timeline() -> None:
    assert timeline(120, 24, seed=3) == timeline(120, 24, seed=3)
    assert timeline(120, 24, seed=3) != timeline(120, 24, seed=4)


def test_films_are_cached_by_recipe(tmp_path: Path) -> None:
    spec = FilmSpec("tiny", 2, (64, 36), "25", seed=1)
    first = ensure_film(spec, tmp_path)
    written = Path(first.path).stat().st_mtime_ns
    assert ensure_film(spec, tmp_path) == first
    assert Path(first.path).stat().st_mtime_ns == written  # reused, not rewritten
    other = ensure_film(FilmSpec("tiny", 2, (64, 36), "25", seed=2), tmp_path)  # new recipe, same name
    assert Path(other.path).stat().st_mtime_ns != written


def test_suites_are_well_formed() -> None:
    assert {"smoke", "cpu", "gpu", "film-2h"} <= set(SUITES)
    smoke = SUITES["smoke"]
    assert smoke.encoder == "tiny" and len(smoke.films) == 1 and not smoke.needs_gpu
    for suite in SUITES.values():
        assert suite.repeats >= 1 and suite.warmup >= 0
        assert len({f.name for f in suite.films}) == len(suite.films)


def test_time_runs_takes_the_median_after_warmup() -> None:
    calls = []
    timing = time_runs(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5 and len(timing.samples) == 3 and timing.warmup == 2
    assert timing.median == sorted(timing.samples)[1]
    with pytest.raises(ValueError):
        time_runs(lambda: None, 0, 0)


def test_machine_id() -> None:
    assert re.fullmatch(r"cpu-\d+c|[a-z0-9-]+", machine_id())

"""engine-bench's library figure: films/hour for the sequential loop and --workers 1 and 2, each
measured on real child runs of engine-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from filmline.benchmarks.library_bench import measure_library, modes
from filmline.benchmarks.measure import Recorder
from filmline.benchmarks.synthetic import Shot, write_film

pytest.importorskip("ray", reason="Ray is not installed: pip install 'filmline[cluster]'")


@pytest.mark.slow  # three child runs, two of them start Ray
def test_films_per_hour_for_each_way_of_running(tmp_path: Path) -> None:
    films = [write_film(tmp_path / f"f{i}.mkv", [Shot(25), Shot(25)], size=(160, 96), seed=i) for i in range(2)]
    rec = Recorder("test", "test-machine", {"python": "3", "ray": "x", "av": "y"})
    measure_library(rec, films, 1, tmp_path)
    figures = {f["stage"]: f for f in rec.figures}
    assert sorted(figures) == sorted(f"library/{mode}" for mode in modes((1, 2)))
    for figure in figures.values():  # once under way: faster than the whole run with its start-up
        assert figure["unit"] == "films/h" and figure["value"] > figure["end_to_end_films_per_hour"] > 0
    assert figures["library/workers-2"]["goal_vs_sequential"] == 1.8
    assert sorted(p.name for p in (tmp_path / "library-workers-2").glob("*.json")) == ["f0.json", "f1.json"]

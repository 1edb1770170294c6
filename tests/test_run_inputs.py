"""`engine-run` given a library rather than files: a folder (recursive), a glob, a list file with
comments and missing entries; every video found is analysed once, the missing ones are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from filmline.benchmarks.synthetic import Shot, write_film
from filmline.engine.cli import main as engine_run


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """a.mkv at the top, b.mp4 and c.mkv a level down, and a text file that is not a video."""
    root = tmp_path_factory.mktemp("library")
    (root / "season").mkdir()
    for seed, name in enumerate(("a.mkv", "season/b.mp4", "season/c.mkv")):
        write_film(root / name, [Shot(12), Shot(12)], size=(160, 96), seed=seed)
    (root / "season" / "notes.txt").write_text("not a video")
    return root


def _results(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob("*.json"))


def test_a_folder_runs_every_video_under_it(library: Path, tmp_path: Path) -> None:
    assert engine_run([str(library), "--out", str(tmp_path), "--backend", "none", "--quiet"]) == 0
    assert _results(tmp_path) == ["a.json", "b.json", "c.json"]


def test_a_glob_runs_the_videos_it_matches(library: Path, tmp_path: Path) -> None:
    assert engine_run([str(library / "**" / "*.mkv"), "--out", str(tmp_path), "--backend", "none", "--quiet"]) == 0
    assert _results(tmp_path) == ["a.json", "c.json"]


def test_a_list_file_names_its_missing_paths_and_runs_the_rest(library: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    listing = library / "list.txt"
    listing.write_text(f"# the films to run\na.mkv\n{library / 'season' / 'c.mkv'}  # absolute\n\nlost.mkv\n")
    code = engine_run([f"@{listing}", "--out", str(tmp_path / "out"), "--backend", "none", "--quiet"])
    assert code == 2  # a path was missing: the run says so in its exit code
    assert _results(tmp_path / "out") == ["a.json", "c.json"]
    err = capsys.readouterr().err
    assert f"{listing}:5: {library / 'lost.mkv'}: no such file" in err
    assert err.count("no such file") == 1


def test_nothing_to_run_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert engine_run([str(tmp_path / "*.mkv"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"engine-run: {tmp_path / '*.mkv'}: no file matches this pattern; pass video files, folders, globs or @list.txt"]

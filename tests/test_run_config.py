"""`engine-run --config FILE`: a YAML file with any subset of configs/pipeline.yaml's keys in
place of their defaults, flags still winning, and every mistake in it one line naming key and file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from filmline.benchmarks.synthetic import Shot, write_film
from filmline.engine.cli import main as engine_run
from filmline.engine.config import pipeline_defaults


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three shots at 25 fps; the middle one lasts 0.72 s, over the default minimum of 0.6 s."""
    folder = tmp_path_factory.mktemp("film")
    return Path(write_film(folder / "film.mkv", [Shot(30), Shot(18), Shot(30)], size=(160, 96), seed=1).path)


@pytest.fixture(autouse=True)
def offline_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "engine-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def run(film: Path, out: Path, *extra: str) -> dict:
    assert engine_run([str(film), "--out", str(out), "--backend", "none", "--no-progress", "--quiet", *extra]) == 0
    return json.loads((out / "film.json").read_text())


def test_config_file_overlays_the_defaults_and_flags_still_win(film: Path, tmp_path: Path) -> None:
    default = run(film, tmp_path / "default")
    assert len(default["shots"]) == 3
    config = tmp_path / "longer-shots.yaml"
    config.write_text("shots:\n  min_shot_seconds: 1.0\nkeyframes:\n  thumbnail_width: 96\n")
    before = json.dumps(pipeline_defaults(), sort_keys=True)

    overlaid = run(film, tmp_path / "overlaid", "--config", str(config))
    assert overlaid["settings"]["min_shot_seconds"] == 1.0 and overlaid["settings"]["thumbnail_width"] == 96
    assert len(overlaid["shots"]) == 2  # the 0.72 s shot is merged into a neighbour
    assert overlaid["settings"]["threshold"] == default["settings"]["threshold"]  # keys it leaves out keep their defaults
    assert json.dumps(pipeline_defaults(), sort_keys=True) == before  # the packaged defaults are untouched

    flag_wins = run(film, tmp_path / "flag", "--config", str(config), "--min-shot", "0.5")
    assert flag_wins["settings"]["min_shot_seconds"] == 0.5 and len(flag_wins["shots"]) == 3


@pytest.mark.parametrize(
    "text, needles",
    [
        ("shots:\n  min_shot: 1.0\n", ["unknown key 'shots.min_shot'", "shots.min_shot_seconds"]),
        ("fsp: 2\n", ["unknown key 'fsp'"]),
        ("shots:\n  cut_window: 2.5\n", ["'shots.cut_window' must be a whole number"]),
        ("shots: 3\n", ["section 'shots' must be a mapping"]),
        ("fps: [1\n", ["is not valid YAML"]),
        ("backend: tensorrtx\n", ["backend 'tensorrtx'", "choose one of auto"]),
    ],
)
def test_mistakes_in_the_config_file_are_one_line_naming_key_and_file(
    text: str, needles: list[str], film: Path, tmp_path: Path, capsys
) -> None:
    config = tmp_path / "mine.yaml"
    config.write_text(text)
    code = engine_run([str(film), "--out", str(tmp_path / "out"), "--config", str(config)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(config) in err[0], err
    assert all(needle in err[0] for needle in needles), err[0]
    assert not (tmp_path / "out").exists()


def test_engine_config_names_standing_settings_under_config_and_flags(film: Path, tmp_path: Path, capsys,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    standing = tmp_path / "standing.yaml"
    standing.write_text("detector: cheap\nshots:\n  min_shot_seconds: 1.0\nkeyframes:\n  thumbnail_width: 96\n")
    monkeypatch.setenv("ENGINE_CONFIG", str(standing))
    overlaid = run(film, tmp_path / "standing")
    assert overlaid["settings"]["min_shot_seconds"] == 1.0 and len(overlaid["shots"]) == 2
    config = tmp_path / "run.yaml"
    config.write_text("shots:\n  min_shot_seconds: 0.5\n")
    both = run(film, tmp_path / "both", "--config", str(config))  # --config over $ENGINE_CONFIG, key by key
    assert both["settings"]["min_shot_seconds"] == 0.5 and both["settings"]["thumbnail_width"] == 96

    standing.write_text("fsp: 2\n")
    assert engine_run([str(film), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"ENGINE_CONFIG={standing}" in err[0] and "unknown key 'fsp'" in err[0], err


def test_missing_config_file(film: Path, tmp_path: Path, capsys) -> None:
    code = engine_run([str(film), "--out", str(tmp_path / "out"), "--config", str(tmp_path / "nope.yaml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nope.yaml" in err[0]

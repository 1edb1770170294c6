"""`engine-run --series` end to end: episodes decoded once each, the recurring intro and credits
found across them from the cheap per-second features (no weights on this machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from filmline.benchmarks.synthetic_series import EpisodeTruth, write_series
from filmline.engine.cli import main as engine_run


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[EpisodeTruth]]:
    folder = tmp_path_factory.mktemp("season")
    return folder, write_series(folder, episodes=4, intro_seconds=15, credits_seconds=12, episode_seconds=70, seed=2,
                                without_intro=(3,))


def test_series_folder_finds_each_intro_and_credits(season, tmp_path: Path, monkeypatch, capsys) -> None:
    folder, truths = season
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = engine_run([str(folder), "--series", "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    for truth in truths:
        document = json.loads((tmp_path / "out" / f"{Path(truth.path).stem}.json").read_text())
        assert document["series"]["episodes"] == len(truths)
        if truth.intro is None:
            assert document["intro"] is None
        else:
            intro = document["intro"]
            assert intro["method"] == "cross_episode"
            assert abs(intro["start"] - truth.intro[0]) <= 1.0 and abs(intro["end"] - truth.intro[1]) <= 1.0
        credits = document["credits"]
        assert abs(credits["start"] - truth.credits[0]) <= 1.0 and abs(credits["end"] - truth.credits[1]) <= 1.0


def test_series_needs_two_episodes(season, tmp_path: Path, monkeypatch, capsys) -> None:
    _, truths = season
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "home"))
    code = engine_run([truths[0].path, "--series", "--out", str(tmp_path / "out"), "--no-progress", "--backend", "none"])
    err = capsys.readouterr().err
    assert code != 0 and "at least two episodes" in err and "Traceback" not in err


def test_intro_model_on_cheap_features_runs_inside_engine_run(season, tmp_path: Path, monkeypatch, capsys) -> None:
    """An intro model trained on `luma-16x9` features reads them from the same decode."""
    import torch

    from filmline.engine.models.intro import IntroConfig, IntroTransformer, save_checkpoint
    from filmline.export.cli import main as engine_build

    folder, truths = season
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    model = IntroTransformer(IntroConfig.from_yaml(window=60, dim=144, layers=1, heads=4, feedforward=32)).eval()
    checkpoint = save_checkpoint(model, tmp_path / "intro.pt", embedder="luma-16x9")
    assert engine_build(["--model", "intro", "--checkpoint", str(checkpoint)]) == 0
    capsys.readouterr()
    code = engine_run([truths[0].path, "--out", str(tmp_path / "out"), "--backend", "none", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    document = json.loads((tmp_path / "out" / f"{Path(truths[0].path).stem}.json").read_text())
    intro_model = document["models"]["intro"]
    assert intro_model["embedder"] == "luma-16x9" and intro_model["embedder_backend"] == "cheap_pass"
    for kind in ("intro", "credits"):  # untrained weights: whatever it finds has the contract's shape
        entry = document[kind]
        assert entry is None or (entry["method"] == "intro_transformer" and 0 <= entry["start"] < entry["end"])

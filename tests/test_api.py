"""`import filmline`: the Python API gives what `engine-run` writes, typed, and raises its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import filmline
from filmline.benchmarks.synthetic import GroundTruth
from filmline.engine.cli import main as engine_run

pytestmark = pytest.mark.usefixtures("offline_home")  # no artifacts, no hub


def comparable(document: dict) -> dict:
    """The document without what differs between two runs of the same video (clock, timings)."""
    return {key: value for key, value in document.items() if key not in ("engine", "timings")}


def test_analyze_gives_the_document_engine_run_writes(films: dict[str, GroundTruth], tmp_path: Path, capsys) -> None:
    truth = films["h264-cfr.mkv"]
    assert engine_run([truth.path, "--out", str(tmp_path / "cli"), "--fps", "2", "--no-progress"]) == 0
    written = json.loads((tmp_path / "cli" / "h264-cfr.json").read_text())
    capsys.readouterr()

    result = filmline.analyze(truth.path, out=tmp_path / "api", fps=2, progress=False)

    assert "h264-cfr.mkv" not in capsys.readouterr().out  # no summary table from a library call
    assert comparable(result.document) == comparable(written)
    assert result.json_path == tmp_path / "api" / "h264-cfr.json"
    assert json.loads(result.json_path.read_text()) == result.document
    assert json.loads(result.to_json()) == result.document
    assert result.document["settings"]["fps"] == 2
    assert result.method == "cheap_pass_only"  # no encoder weights on this machine
    assert (result.video.frame_count, result.video.codec) == (truth.frame_count, "h264")

    shots = written["shots"]
    assert [(s.start_frame, s.end_frame, s.start_time, s.end_time) for s in result.shots] == \
        [(s["start_frame"], s["end_frame"], s["start_time"], s["end_time"]) for s in shots]
    assert [s.transition_in.kind if s.transition_in else None for s in result.shots] == \
        [s["transition_in"]["kind"] if s["transition_in"] else None for s in shots]
    kinds = {s.transition_in.kind for s in result.shots[1:]}
    assert "cut" in kinds and kinds - {"cut"}  # a cut and a gradual transition, typed
    assert [s.key_frame for s in result.shots] == [s["key_frame"] for s in shots]
    for shot in result.shots:
        assert shot.thumbnail is not None and shot.thumbnail.read_bytes()[:2] == b"\xff\xd8"  # a JPEG on disk
    gradual = next(s.transition_in for s in result.shots[1:] if s.transition_in.kind != "cut")
    assert gradual.span is not None and gradual.span.start_frame <= gradual.frame <= gradual.span.end_frame + 1


def test_analyze_without_out_keeps_nothing_on_disk(films: dict[str, GroundTruth], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = filmline.analyze(films["h264-cfr.mkv"].path, backend="none", triggers=False)
    assert result.json_path is None and len(result.shots) >= 3
    assert all(shot.thumbnail is None and shot.key_frame is not None for shot in result.shots)
    assert all(s["thumbnail"] is None for s in result.document["shots"])
    assert list(tmp_path.iterdir()) == []


def test_analyze_raises_the_errors_engine_run_prints(bad_inputs: dict[str, Path], films: dict[str, GroundTruth],
                                                     tmp_path: Path) -> None:
    with pytest.raises(filmline.BadInputError, match="missing.mp4"):
        filmline.analyze(bad_inputs["missing"], out=tmp_path)
    with pytest.raises(filmline.BadInputError, match="text.mkv"):
        filmline.analyze(bad_inputs["text"], out=tmp_path)
    film = films["h264-cfr.mkv"].path
    with pytest.raises(filmline.BadInputError, match="unknown setting 'speed'.*fps"):
        filmline.analyze(film, speed=2)
    with pytest.raises(filmline.BadInputError, match="--fps must be positive"):
        filmline.analyze(film, fps=-1)
    with pytest.raises(filmline.BadInputError, match="invalid choice: 'cuda-magic'"):
        filmline.analyze(film, backend="cuda-magic")
    assert not list(tmp_path.glob("*.json"))


def test_import_filmline_loads_nothing_heavy() -> None:
    code = ("import sys, filmline; heavy = {'torch', 'av', 'numpy', 'onnxruntime', 'transformers'} & set(sys.modules); "
            "assert not heavy, heavy; assert callable(filmline.analyze); print(filmline.__version__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == filmline.__version__

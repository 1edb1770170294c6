"""What the tools leave on disk: files readable as the umask says, and nothing half-written when
a write fails (a full disk simulated with a file-size limit, which holds for root too)."""

from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from filmline.benchmarks.synthetic import Fade, GroundTruth, Shot, write_film
from filmline.engine.cli import main as engine_run
from filmline.engine.output_files import current_umask, write_atomic

UMASK = 0o027  # neither the usual 0o022 nor tempfile's private 0o077


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    return write_film(tmp_path_factory.mktemp("films") / "film.mkv", [30, Shot(30, Fade(6, 4, 6)), 30], seed=5)


@pytest.fixture(autouse=True)
def no_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "engine-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def umask() -> int:
    previous = os.umask(UMASK)
    try:
        yield UMASK
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _errors(stderr: str) -> list[str]:
    """The error lines, without the notes on stages skipped for want of a model."""
    return [line for line in stderr.splitlines() if not line.startswith("note: ")]


def test_umask_is_read_without_changing_it(umask: int) -> None:
    assert current_umask() == umask
    assert current_umask() == umask


def test_run_output_follows_the_umask(film: GroundTruth, tmp_path: Path, umask: int, capsys) -> None:
    assert engine_run([film.path, "--out", str(tmp_path), "--backend", "none", "--no-progress"]) == 0
    files = [tmp_path / "film.json", tmp_path / "film.shots.csv", *(tmp_path / "film.keyframes").iterdir()]
    assert len(files) > 3
    assert {p.name: _mode(p) for p in files} == {p.name: 0o666 & ~umask for p in files}
    assert _mode(tmp_path / "film.keyframes") == 0o777 & ~umask


def test_checkpoints_and_artifact_folders_follow_the_umask(tmp_path: Path, umask: int) -> None:
    import torch

    from filmline.engine.models.trigger import TriggerConfig, TriggerModel
    from filmline.engine.models.trigger_checkpoint import save_trigger_checkpoint
    from filmline.export.pipeline import staging

    torch.manual_seed(0)
    config = TriggerConfig(encoder="resnet18", width=4, feature_dim=16, hidden_dim=8, image_size=64)
    checkpoint = tmp_path / "trigger.pt"
    save_trigger_checkpoint(checkpoint, TriggerModel(config).eval(), epoch=1, loss=0.0, metadata={})
    assert _mode(checkpoint) == 0o666 & ~umask
    with staging(tmp_path / "artifact") as folder:
        write_atomic(folder / "manifest.json", b"{}")
    assert _mode(tmp_path / "artifact") == 0o777 & ~umask
    assert _mode(tmp_path / "artifact" / "manifest.json") == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifact", "trigger.pt"]  # no temporaries


def _run_with_file_size_limit(args: list[str], limit: int) -> subprocess.CompletedProcess:
    """engine-run in a child whose files cannot grow past `limit` bytes: writes fail as on a full
    disk (EFBIG instead of ENOSPC), whoever runs the test. SIGXFSZ is ignored so that the write
    raises instead of the signal killing the process."""

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    command = [sys.executable, "-m", "filmline.engine.cli", *args, "--backend", "none", "--detector", "cheap", "--no-progress"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, preexec_fn=limit_file_size,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "ENGINE_HOME": os.environ["ENGINE_HOME"]})


def test_full_disk_is_one_line_naming_the_path_and_leaves_nothing(film: GroundTruth, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    done = _run_with_file_size_limit([film.path, "--out", str(out)], limit=64)  # not even a JPEG header fits
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    errors = _errors(done.stderr)
    assert len(errors) == 1, done.stderr
    assert str(out / "film.keyframes") in errors[0] and "free some space" in errors[0]
    assert list(out.iterdir()) == []


def test_a_failed_result_write_leaves_no_result(film: GroundTruth, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    (out / "film.json").mkdir(parents=True)  # the JSON cannot take its name, whoever runs the test
    code = engine_run([film.path, "--out", str(out), "--backend", "none", "--no-progress"])
    errors = _errors(capsys.readouterr().err)
    assert code != 0 and len(errors) == 1 and str(out / "film.json") in errors[0]
    assert sorted(p.name for p in out.iterdir()) == ["film.json"]  # only the folder that was there

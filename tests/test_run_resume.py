"""`engine-run` over several videos: each result written when its video is done, a real Ctrl-C
keeps the finished ones (and says so), and a rerun keeps up-to-date results (`--force` redoes)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from filmline.benchmarks.synthetic import Shot, write_film
from filmline.benchmarks.synthetic_series import EpisodeTruth, write_series
from filmline.engine.cli import main as engine_run


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[EpisodeTruth]]:
    """Three minute-long episodes at 25 fps: long enough that an episode is still decoding a
    moment after it starts."""
    folder = tmp_path_factory.mktemp("season")
    return folder, write_series(folder, episodes=3, intro_seconds=8, credits_seconds=6, episode_seconds=60, fps=25, seed=2)


@pytest.fixture(scope="module")
def two_films(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("films")
    return [Path(write_film(folder / f"{name}.mkv", [Shot(30), Shot(18), Shot(30)], size=(160, 96), seed=seed).path)
            for seed, name in enumerate(("first", "second"))]


@pytest.fixture(autouse=True)
def offline_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "engine-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _wait_for(condition, process: subprocess.Popen, seconds: float = 180.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"engine-run ended before the moment to interrupt it: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("engine-run did not reach the moment to interrupt it")
        time.sleep(0.005)


def test_ctrl_c_keeps_finished_episodes_and_a_rerun_completes_the_season(season, tmp_path: Path, capsys) -> None:
    folder, truths = season
    out = tmp_path / "out"
    args = [str(folder), "--series", "--out", str(out), "--backend", "none", "--detector", "cheap", "--no-progress"]
    process = subprocess.Popen([sys.executable, "-m", "filmline.engine.cli", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    # Ctrl-C once episode 1's result is written and episode 2 is being decoded.
    _wait_for(lambda: (out / "episode_01.json").exists() and any(out.glob(".episode_02.keyframes.*")), process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == 130, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("engine-run: interrupted during episode_02.mkv") and "episode_01.mkv" in last
    assert "no partial output" not in stderr and "Traceback" not in stderr
    assert "episode_01.mkv" in stdout and "episode_02.mkv" not in stdout  # the summary of what finished
    first = json.loads((out / "episode_01.json").read_text())
    assert "series" not in first and first["shots"]  # its own result, the series fields come at the end
    names = sorted(p.name for p in out.iterdir())
    assert names == ["episode_01.html", "episode_01.json", "episode_01.keyframes", "episode_01.series.npy",
                     "episode_01.shots.csv", "index.html"]

    kept_frame = out / first["shots"][0]["thumbnail"]
    kept_at = kept_frame.stat().st_mtime_ns
    assert engine_run(args) == 0
    printed, err = capsys.readouterr()
    assert "note: episode_01.mkv: skipped" in err and "episode_02.mkv: skipped" not in err
    assert kept_frame.stat().st_mtime_ns == kept_at  # not analysed again
    assert "intro skipped" not in err and "intro found by comparing the episodes (3 of 3)" in err
    rows = [line for line in printed.splitlines() if line.startswith("episode_")]
    assert len(rows) == 3 and "(kept)" in rows[0] and "(kept)" not in rows[1]
    for truth in truths:
        document = json.loads((out / f"{Path(truth.path).stem}.json").read_text())
        assert document["series"]["episodes"] == 3
        assert document["intro"]["method"] == "cross_episode"
        assert abs(document["intro"]["start"] - truth.intro[0]) <= 1.0
    assert json.loads((out / "episode_01.json").read_text())["timings"] == first["timings"]


def test_rerun_keeps_up_to_date_results_and_redoes_changed_ones(two_films: list[Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    args = [*map(str, two_films), "--out", str(out), "--backend", "none", "--no-progress"]
    assert engine_run(args) == 0
    capsys.readouterr()
    first = json.loads((out / "first.json").read_text())
    assert first["run"]["input"] == {"size": two_films[0].stat().st_size, "mtime_ns": two_films[0].stat().st_mtime_ns}
    assert first["run"]["settings_hash"].startswith("sha256:")
    written = {p: p.read_bytes() for p in (out / "first.json", out / "second.json")}

    assert engine_run(args) == 0
    printed, err = capsys.readouterr()
    skipped = [line for line in err.splitlines() if "skipped" in line]
    assert skipped == [f"note: {film.name}: skipped, {out / (film.stem + '.json')} is up to date "
                       "(same file, same settings); --force analyses it again" for film in two_films]
    assert all(path.read_bytes() == data for path, data in written.items())
    assert sum("(kept)" in line for line in printed.splitlines()) == 2  # the summary table still lists them

    os.utime(two_films[1], ns=(time.time_ns(), time.time_ns()))  # the second file changed on disk
    assert engine_run(args) == 0
    err = capsys.readouterr().err
    assert "first.mkv: skipped" in err and "second.mkv: skipped" not in err

    assert engine_run([*args, "--min-shot", "0.5"]) == 0  # other settings
    assert "skipped, " not in capsys.readouterr().err
    assert json.loads((out / "first.json").read_text())["settings"]["min_shot_seconds"] == 0.5

    assert engine_run([*args, "--min-shot", "0.5", "--force"]) == 0
    printed, err = capsys.readouterr()
    assert "skipped, " not in err and "(kept)" not in printed


def test_a_json_only_result_is_kept_and_later_views_are_written_without_analysing(two_films: list[Path], tmp_path: Path,
                                                                                capsys) -> None:
    out = tmp_path / "out"
    args = [str(two_films[0]), "--out", str(out), "--backend", "none", "--no-progress"]
    assert engine_run([*args, "--format", "json"]) == 0
    assert not (out / "first.shots.csv").exists()
    result = (out / "first.json").read_bytes()
    capsys.readouterr()

    assert engine_run([*args, "--format", "json"]) == 0
    assert "first.mkv: skipped" in capsys.readouterr().err
    assert (out / "first.json").read_bytes() == result

    assert engine_run([*args, "--format", "csv"]) == 0
    assert "first.mkv: skipped" in capsys.readouterr().err  # not analysed again
    assert (out / "first.json").read_bytes() == result
    rows = (out / "first.shots.csv").read_text().splitlines()
    assert len(rows) == 2 + len(json.loads(result)["shots"])  # PySceneDetect's two header lines, a row per shot


def test_quiet_prints_errors_only(two_films: list[Path], tmp_path: Path, capsys) -> None:
    args = [str(two_films[0]), str(tmp_path / "missing.mkv"), "--out", str(tmp_path / "out")]
    assert engine_run(args) == 2
    printed, err = capsys.readouterr()
    assert "note: " in err and printed  # what --quiet leaves out
    assert engine_run([*args, "--quiet", "--force"]) == 2
    printed, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert printed == "" and len(lines) == 1 and lines[0].startswith("engine-run: ") and "missing.mkv" in lines[0]
    assert (tmp_path / "out" / "first.json").exists()


def test_skipped_stage_notes_are_one_short_line_each(two_films: list[Path], tmp_path: Path, capsys) -> None:
    assert engine_run([str(two_films[0]), "--out", str(tmp_path), "--no-progress"]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert {line.split()[1] for line in notes} == {"encoder", "triggers", "intro", "vlm"}
    for line in notes:
        assert len(line.replace(str(tmp_path), "")) < 200, line
        assert "HF_HUB_OFFLINE" not in line and "neither a folder" not in line, line  # no nested error text
    encoder = json.loads((tmp_path / "first.json").read_text())["models"]["skipped"][0]
    assert encoder["stage"] == "encoder" and "HF_HUB_OFFLINE" in encoder["detail"]  # the whole story stays in the result


def test_every_console_script_prints_the_version(capsys) -> None:
    from importlib.metadata import distribution

    import filmline

    scripts = [e for e in distribution("filmline").entry_points if e.group == "console_scripts"]
    assert {e.name for e in scripts} >= {"engine-run", "engine-build", "engine-train", "engine-eval", "engine-bench"}
    for script in scripts:
        with pytest.raises(SystemExit) as exit_:
            script.load()(["--version"])
        assert exit_.value.code == 0
        assert capsys.readouterr().out == f"filmline {filmline.__version__}\n", script.name
    found = shutil.which("engine-run") or pytest.skip("engine-run not installed (pip install -e .)")
    done = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == f"filmline {filmline.__version__}\n"


def test_ctrl_c_while_the_model_describes_a_video_removes_its_key_frames(two_films: list[Path], tmp_path: Path) -> None:
    """The key frames take their final name before the vision-language stage runs; an interrupt
    there must not leave them behind without a result."""
    import threading

    from tests.chat_server import ChatServer, Reply, completion

    asked = threading.Event()

    def slow_answer(request, nth) -> Reply:
        asked.set()
        return Reply(body=completion("Fight").body, delay_s=1.0)

    server = ChatServer(slow_answer).start()
    out = tmp_path / "out"
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "filmline.engine.cli", str(two_films[0]), "--out", str(out), "--backend", "none",
             "--no-progress", "--detector", "cheap", "--vlm", "openai", "--vlm-url", server.url, "--vlm-model", "test-model"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
        _wait_for(asked.is_set, process)
        assert (out / "first.keyframes").is_dir()  # in place while the model is asked
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        server.stop()
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == (
        "engine-run: interrupted during first.mkv, whose unfinished output was removed; no video was finished")
    assert list(out.iterdir()) == []

"""`engine-run --speak`: the summary read aloud into `<stem>.summary.wav` by espeak-ng: a real
16-bit PCM WAV of plausible length that is not silence; a run without a summary says so and writes
nothing; a missing speech engine is one line with the install command, before any analysis."""

from __future__ import annotations

import importlib.util
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from filmline.benchmarks.report_film import synthetic_document
from filmline.benchmarks.synthetic import Shot, write_film
from filmline.engine.cli import main as engine_run
from filmline.engine.writers.speech import ESPEAK_INSTALL, Speaker, summary_text

pytestmark = pytest.mark.usefixtures("offline_home")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason=ESPEAK_INSTALL)
CHEAP = ["--detector", "cheap", "--backend", "none", "--no-triggers", "--no-intro", "--no-progress"]

SUMMARY = "A chase through a night market ends when the courier is caught on the harbour bridge."
TRIGGER_SUMMARY = "Two triggers: a crash at the market and a fall on the bridge."


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> Path:
    return write_film(tmp_path_factory.mktemp("speech") / "clip.mp4", [Shot(20), Shot(20)], seed=2).path


@needs_espeak
def test_summary_wav(tmp_path: Path) -> None:
    document = synthetic_document(shots=12, seconds=120.0, thumbnails=False)
    document["summary"] = SUMMARY
    document["triggers"]["video_summary"] = TRIGGER_SUMMARY
    path = Speaker(None).speak(document, tmp_path, "film")
    assert path == tmp_path / "film.summary.wav"
    with wave.open(str(path), "rb") as wav:
        assert wav.getcomptype() == "NONE" and wav.getsampwidth() == 2  # 16-bit PCM
        seconds = wav.getnframes() / wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
    words = len(summary_text(document).split())
    assert words == len(SUMMARY.split()) + len(TRIGGER_SUMMARY.split())  # both summaries are read
    assert 0.2 * words <= seconds <= 1.5 * words
    assert np.sqrt(np.mean(samples**2)) > 300  # speech, not silence (full scale is 32767)
    assert [p.name for p in tmp_path.iterdir()] == ["film.summary.wav"]  # no temporary left


@needs_espeak
def test_run_without_summary_says_so(film: Path, tmp_path: Path, capsys) -> None:
    assert engine_run([str(film), "--out", str(tmp_path), *CHEAP, "--speak"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "no summary to speak" in line]
    assert len(notes) == 1 and "--vlm" in notes[0]
    assert (tmp_path / "clip.json").is_file() and not list(tmp_path.glob("*.wav"))


def test_missing_espeak_is_one_line_before_any_analysis(film: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    out = tmp_path / "out"
    assert engine_run([str(film), "--out", str(out), *CHEAP, "--speak"]) == 3
    err = capsys.readouterr().err.strip()
    assert err == f"engine-run: --speak needs espeak-ng, which is not installed: {ESPEAK_INSTALL}"
    assert not (out / "clip.json").exists()


@pytest.mark.skipif(importlib.util.find_spec("piper") is not None, reason="piper-tts is installed")
def test_piper_voice_needs_piper(film: Path, tmp_path: Path, capsys) -> None:
    voice = tmp_path / "voice.onnx"
    voice.write_bytes(b"")
    assert engine_run([str(film), "--out", str(tmp_path / "out"), *CHEAP, "--speak-voice", str(voice)]) == 3
    assert capsys.readouterr().err.strip().endswith("Piper, which is not installed: pip install piper-tts")

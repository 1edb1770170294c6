"""The result document's numbers: rounded where float noise would show, the video's path absolute."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from filmline.benchmarks.synthetic import write_film
from filmline.engine.cli import main as engine_run
from filmline.engine.result import SCORE_KEYS, rounded_document


def _floats(value, key=None):
    """(key, float) for every float in a JSON value; a float in a list reports the list's key."""
    if isinstance(value, float):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _floats(v, key if key in SCORE_KEYS else k)
    elif isinstance(value, list):
        for v in value:
            yield from _floats(v, key)


def test_times_to_the_microsecond_scores_to_four_decimals_path_absolute(
    tiny_siglip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "engine-home"))
    # NTSC rate: frame k at k * 1001/30000 s, whose float sums show noise (24.024000000000004).
    write_film(tmp_path / "ntsc.mp4", [40, 40, 40], size=(160, 96), fps=Fraction(30000, 1001))
    monkeypatch.chdir(tmp_path)
    # A random tiny encoder: tau = 1 keeps every cut, each with the similarity it measured.
    args = ["ntsc.mp4", "--out", "out", "--weights", str(tiny_siglip_dir), "--threshold", "1.0", "--no-progress"]
    assert engine_run(args) == 0, capsys.readouterr().err
    document = json.loads((tmp_path / "out" / "ntsc.json").read_text())
    assert document["video"]["path"] == str(tmp_path / "ntsc.mp4")
    numbers = list(_floats(document))
    assert any(key == "similarity" for key, _ in numbers)  # the cuts' scores are there to check
    for key, number in numbers:
        decimals = 4 if key in SCORE_KEYS else 6
        assert round(number, decimals) == number, (key, number)
    assert document["video"]["fps"] == pytest.approx(30000 / 1001, abs=1e-6)


def test_rounding_reaches_every_section_and_keeps_the_rest() -> None:
    document = {
        "shots": [{"start_time": 0.1 + 0.2, "similarity": 0.123456789, "key_frame": 3,
                   "label_probabilities": {"Fight": 0.987654321, "none": 0.012345679}}],
        "triggers": {"triggers": [{"timestamp": 24.024000000000004, "trigger_confidence": 0.55555555}]},
        "truncated": False, "path": "/a/b.mkv", "missing": None,
    }
    assert rounded_document(document) == {
        "shots": [{"start_time": 0.3, "similarity": 0.1235, "key_frame": 3,
                   "label_probabilities": {"Fight": 0.9877, "none": 0.0123}}],
        "triggers": {"triggers": [{"timestamp": 24.024, "trigger_confidence": 0.5556}]},
        "truncated": False, "path": "/a/b.mkv", "missing": None,
    }

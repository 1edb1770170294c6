"""`engine-bench --suite smoke` writes complete reports, and the README section follows them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from filmline.benchmarks import readme_results
from filmline.benchmarks.cli import main
from filmline.benchmarks.report import write_report

HAVE_PEER = importlib.util.find_spec("scenedetect") is not None
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
# The smoke suite runs whole benchmarks (about a minute); `python -m pytest -m slow` runs them.
SLOW = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    out = root / "results" / "2000-01-01-test"
    argv = ["--suite", "smoke", "--out", str(out), "--cache", str(root / "cache"), "--repeats", "1", "--warmup", "0"]
    assert main(argv) == 0
    return out


@SLOW
def test_every_figure_says_what_how_and_where(smoke: Path) -> None:
    report = json.loads((smoke / "report.json").read_text())
    section = report["suites"]["smoke"]
    assert section["command"].startswith("engine-bench --suite smoke")
    stages = {figure["stage"] for figure in section["figures"]}
    assert {"decode", "decode_and_thumbnail", "cheap_pass", "encoder", "end_to_end"} <= stages
    assert any(stage.startswith("kernel/") for stage in stages)
    backends = {f["setup"]["backend"] for f in section["figures"] if f["stage"] == "encoder"}
    assert backends == {"onnxruntime", "torch"}
    for figure in section["figures"]:
        assert figure["command"] == section["command"] and figure["machine"] == report["machine"]["id"]
        assert figure["versions"]["python"] and figure["input"]
        assert figure["value"] is not None and figure["value"] > 0
        if figure["unit"] != "ms":
            assert figure["timing"]["repeats"] == 1 and figure["timing"]["median_seconds"] > 0
    assert {s["stage"] for s in section["skipped"]} >= {"vlm/openai", "encoder/tensorrt"}
    vlm = {(f["stage"], f["unit"]) for f in section["figures"] if f["stage"].startswith("vlm/")}
    assert {("vlm/actions_scored/transformers", "requests/s"), ("vlm/captions/transformers", "tokens/s")} <= vlm
    assert any("random weights give the same arithmetic as real ones" in note for note in section["notes"])
    assert "random" in section["encoder"]["weights"]


@SLOW
def test_side_by_side_rows(smoke: Path) -> None:
    section = json.loads((smoke / "report.json").read_text())["suites"]["smoke"]
    rows = {row["tool"]: row for row in section["side_by_side"]}
    expected = {"filmline (cheap pass only)", "filmline (encoder: onnxruntime)"}
    if HAVE_PEER:
        expected |= {"pyscenedetect detect-adaptive", "pyscenedetect detect-content"}
    assert set(rows) == expected
    cheap = rows["filmline (cheap pass only)"]
    assert cheap["time_vs_filmline_cheap_pass"] == 1.0 and cheap["realtime_factor"] > 1
    assert set(cheap["f1"]) == {"0f", "2f", "1s"} and all(0 <= v <= 1 for v in cheap["f1"].values())
    assert cheap["f1"]["1s"] >= 0.5  # a floor against a broken scorer, not a quality bar
    assert rows["filmline (encoder: onnxruntime)"]["f1"] is None  # random weights: timing only
    for row in rows.values():
        assert 30 < row["peak_rss_mib"] < 4000  # each process's own peak, not the harness's
    if HAVE_PEER:
        assert rows["pyscenedetect detect-content"]["peak_rss_mib"] < cheap["peak_rss_mib"]  # no torch there


@SLOW
def test_markdown_and_plots(smoke: Path) -> None:
    text = (smoke / "report.md").read_text()
    assert "## Suite `smoke`" in text and "| smoke-dense.mkv | filmline (cheap pass only) |" in text
    assert "### Not measured here" in text
    pngs = sorted(p.name for p in smoke.glob("*.png"))
    if HAVE_MATPLOTLIB:
        assert pngs == ["smoke-side-by-side.png", "smoke-stages.png"]
        assert all((smoke / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
        assert "![smoke-stages.png](smoke-stages.png)" in text


@SLOW
def test_another_suite_joins_the_report_and_plots_are_optional(smoke: Path, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "report.json").write_text((smoke / "report.json").read_text())
    section = json.loads((smoke / "report.json").read_text())["suites"]["smoke"]
    section["description"] = "a second suite"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real_find_spec(name, *a))
    write_report(folder, "cpu", section)
    report = json.loads((folder / "report.json").read_text())
    assert list(report["suites"]) == ["smoke", "cpu"]
    assert report["suites"]["cpu"]["plots"] == []
    assert "matplotlib is not installed" in report["suites"]["cpu"]["notes"][-1]
    text = (folder / "report.md").read_text()
    assert text.index("## Suite `smoke`") < text.index("## Suite `cpu`")


@SLOW
def test_readme_section_is_generated(smoke: Path, tmp_path: Path, capsys) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- results:start -->\nold numbers\n<!-- results:end -->\n\ntail\n")
    argv = ["--readme", str(readme), "--results", str(smoke.parent)]
    assert readme_results.main([*argv, "--check"]) == 1
    assert readme_results.main(argv) == 0
    text = readme.read_text()
    assert "old numbers" not in text and text.endswith("<!-- results:end -->\n\ntail\n")
    assert "| smoke-dense.mkv | filmline (cheap pass only) |" in text and "2000-01-01-test/report.md" in text
    assert readme_results.main([*argv, "--check"]) == 0
    readme.write_text("# no markers\n")
    assert readme_results.main(argv) == 2
    assert "markers" in capsys.readouterr().err


def test_gpu_suite_without_a_gpu_is_one_line(tmp_path: Path, capsys) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["--suite", "gpu", "--out", str(tmp_path), "--cache", str(tmp_path)]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["engine-bench: suite gpu needs a CUDA device and none is visible; run --suite cpu"]


@SLOW
def test_vlm_suite_times_the_tasks_alone(tmp_path: Path, capsys) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the default is the 7B-shaped model")
    assert main(["--suite", "vlm", "--out", str(tmp_path / "default"), "--cache", str(tmp_path)]) == 4
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("engine-bench: suite vlm times random:llava-1.5-7b")

    out = tmp_path / "tiny"
    assert main(["--suite", "vlm", "--vlm-model", "random:tiny", "--out", str(out), "--cache", str(tmp_path),
                 "--warmup", "0", "--repeats", "1"]) == 0
    section = json.loads((out / "report.json").read_text())["suites"]["vlm"]
    stages = {f["stage"] for f in section["figures"]}
    assert stages == {"vlm/actions_scored/transformers", "vlm/actions_constrained/transformers",
                      "vlm/captions/transformers"}
    assert section["side_by_side"] == [] and section["encoder"] is None
    assert "random weights" in " ".join(section["notes"]) and "## Suite `vlm`" in (out / "report.md").read_text()

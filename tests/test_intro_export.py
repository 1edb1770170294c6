"""engine-build --model intro: a published-format checkpoint → ONNX (dynamic batch) → parity → manifest,
and the built model on ONNX Runtime and PyTorch through the model layer (`open_model`)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from filmline import export
from filmline.engine.errors import BadInputError, MissingModelError
from filmline.engine.models.intro import IntroConfig, IntroTransformer, load_checkpoint
from filmline.engine.backends import open_model
from filmline.engine.stages.intro import IntroModel, IntroSettings
from filmline.export.cli import main

_HAS_TENSORRT = subprocess.run([sys.executable, "-c", "import tensorrt"], capture_output=True).returncode == 0
TINY = IntroConfig.from_yaml(window=60, dim=32, layers=2, heads=16, feedforward=48)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, str]:
    """(artifact home, published checkpoint, what engine-build printed) for a tiny published model."""
    folder = tmp_path_factory.mktemp("intro_build")
    torch.manual_seed(0)
    state = dict(IntroTransformer(TINY).state_dict())
    state["clip.visual.proj"] = torch.zeros(8, 4)  # the seed saves its CLIP tower alongside
    torch.save(state, folder / "seed_intro.pth")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["--model", "intro", "--checkpoint", str(folder / "seed_intro.pth"), "--out", str(folder / "home" / "intro")])
    assert code == 0, printed.getvalue()
    return folder / "home", folder / "seed_intro.pth", printed.getvalue()


def test_manifest(built):
    home, checkpoint, printed = built
    manifest = export.read_manifest(home / "intro")
    assert manifest["model"] == "intro" and manifest["family"] == "intro_transformer"
    assert manifest["embedder"] == "clip-b32"  # the intro paper reads CLIP ViT-B/32 embeddings
    assert manifest["input"]["shape"] == ["batch", 60, 32] and manifest["output"]["heads"] == ["intro"]
    assert manifest["weights"]["source"] == str(checkpoint) and manifest["weights"]["revision"].startswith("sha256:")
    assert manifest["config"]["layers"] == 2 and manifest["config"]["heads"] == 16
    assert any("CLIP tower" in note for note in manifest["checkpoint_notes"]) and "CLIP tower" in printed
    parity = manifest["parity"]["onnxruntime"]
    assert parity["passed"] and parity["min_cosine"] > 0.9999 and parity["max_abs_error"] < 1e-4
    assert parity["batches"] == [1, 3]
    for name in manifest["files"].values():
        assert (home / "intro" / name).is_file()
    if not _HAS_TENSORRT:
        assert manifest["built"] == ["onnx"] and "TensorRT is not installed" in printed
    assert [p.name for p in home.iterdir()] == ["intro"]  # no staging folder left


def test_onnx_has_dynamic_batch(built):
    import onnx

    graph = onnx.load(str(built[0] / "intro" / "model.onnx")).graph
    batch_axis = graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_axis.dim_param and not batch_axis.dim_value
    assert graph.input[0].name == "embeddings" and graph.output[0].name == "logits"


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_built_model_matches_pytorch(built, backend):
    home, checkpoint, _ = built
    model = IntroModel(open_model("intro", backend, home=home))
    assert model.backend == backend and model.embedder == "clip-b32" and model.window == 60
    reference = load_checkpoint(checkpoint).model
    embeddings = np.random.default_rng(1).standard_normal((150, 32)).astype(np.float32)
    settings = IntroSettings.from_config()
    with torch.inference_mode():
        expected = torch.sigmoid(reference(torch.from_numpy(embeddings[None, :60]))).numpy()[0]
    got = model.probabilities(embeddings, settings)
    assert got.shape == (150, 1)
    # seconds 0-9 are seen by the first window only (stride 10)
    np.testing.assert_allclose(got[:10], expected[:10], atol=1e-5)
    for entry in model.detect(embeddings, settings):
        assert entry["kind"] == "intro" and entry["method"] == "intro_transformer"


def test_wrong_embeddings_are_refused(built):
    model = IntroModel(open_model("intro", "onnxruntime", home=built[0]))
    with pytest.raises(BadInputError, match="reads 32-d clip-b32 embeddings"):
        model.detect(np.zeros((100, 512), np.float32), IntroSettings.from_config())
    with pytest.raises(BadInputError, match="window 30 differs"):
        model.detect(np.zeros((100, 32), np.float32), IntroSettings.from_config(window=30))


def test_second_build_is_reused(built, capsys):
    home, checkpoint, _ = built
    assert main(["--model", "intro", "--checkpoint", str(checkpoint), "--out", str(home / "intro")]) == 0
    assert "up to date" in capsys.readouterr().out


def test_no_artifact_says_how_to_build(tmp_path):
    with pytest.raises(MissingModelError, match=r"no intro model in .*engine-build --model intro --checkpoint FILE"):
        open_model("intro", home=tmp_path)
    with pytest.raises(BadInputError, match="unknown backend"):
        open_model("intro", backend="tpu", home=tmp_path)


def test_strict_build_fails_in_one_line(tmp_path, capsys):
    state = dict(IntroTransformer(TINY).state_dict())
    state["optimizer_step"] = torch.zeros(1)
    torch.save(state, tmp_path / "extra.pth")
    code = main(["--model", "intro", "--checkpoint", str(tmp_path / "extra.pth"), "--out", str(tmp_path / "intro"), "--strict"])
    err = capsys.readouterr().err
    assert code == BadInputError.exit_code
    assert len(err.strip().splitlines()) == 1 and "optimizer_step" in err and "Traceback" not in err
    assert not (tmp_path / "intro").exists()

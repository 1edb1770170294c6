"""Runners: one contract over every runtime, the factory's choice, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from filmline import export
from filmline.engine.backends import BACKENDS, available_backends, open_model
from filmline.engine.errors import BackendError, BadInputError, MissingModelError

_STATUS = {status.name: status for status in available_backends()}
_BACKEND_PARAMS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(not _STATUS[name].available, reason=_STATUS[name].detail),
    )
    for name in BACKENDS
]


def _pixels(runner, batch: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, 3, runner.image_size, runner.image_size), dtype=np.float32)


@pytest.mark.parametrize("backend", _BACKEND_PARAMS)
def test_runner_contract(backend, tiny_siglip_home):
    runner = open_model("siglip", backend, home=tiny_siglip_home)
    manifest = export.read_manifest(tiny_siglip_home / "siglip")
    assert runner.name == backend
    assert runner.embedding_dim == manifest["embedding_dim"]
    assert runner.image_size == manifest["input"]["image_size"]
    assert list(runner.mean) == manifest["input"]["mean"]
    assert runner.manifest_hash == export.manifest_hash(tiny_siglip_home / "siglip")
    assert runner.device in ("cpu", "cuda") and runner.precision in ("fp32", "fp16")

    out = runner.run(_pixels(runner, 3))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert out.shape == (3, runner.embedding_dim)

    tensor_out = runner.run(torch.from_numpy(_pixels(runner, 2)))
    assert isinstance(tensor_out, torch.Tensor) and tensor_out.dtype == torch.float32
    assert tuple(tensor_out.shape) == (2, runner.embedding_dim)

    with pytest.raises(ValueError, match="expects pixels"):
        runner.run(np.zeros((1, 3, runner.image_size + 1, runner.image_size), np.float32))


def test_torch_and_onnxruntime_agree(tiny_siglip_home):
    on_torch = open_model("siglip", "torch", home=tiny_siglip_home)
    on_ort = open_model("siglip", "onnxruntime", home=tiny_siglip_home)
    pixels = _pixels(on_torch, 5, seed=3)
    expected, got = on_torch.run(pixels), on_ort.run(pixels)
    norms = np.linalg.norm(expected, axis=1) * np.linalg.norm(got, axis=1)
    cosine = (expected * got).sum(1) / norms
    assert cosine.min() > 0.9999
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU auto may prefer other runtimes")
def test_auto_picks_onnxruntime_on_cpu(tiny_siglip_home):
    assert open_model("siglip", home=tiny_siglip_home).name == "onnxruntime"


@pytest.mark.skipif(_STATUS["tensorrt"].available, reason="TensorRT is usable here")
def test_explicit_tensorrt_unavailable_names_why(tiny_siglip_home):
    with pytest.raises(BackendError) as caught:
        open_model("siglip", "tensorrt", home=tiny_siglip_home)
    message = str(caught.value)
    assert "tensorrt" in message and ("not installed" in message or "CUDA" in message)
    assert "onnxruntime" in message  # the alternative
    assert "\n" not in message


def test_no_artifact_torch_loads_weights_directly(tmp_path, tiny_siglip_dir):
    runner = open_model("siglip", home=tmp_path, weights=str(tiny_siglip_dir))
    assert runner.name == "torch" and runner.manifest_hash is None
    assert runner.run(_pixels(runner, 1)).shape == (1, runner.embedding_dim)


def test_weights_other_than_the_artifact(tiny_siglip_home, tiny_siglip_dir, tmp_path):
    from tests.tiny_models import save_tiny_siglip

    same = open_model("siglip", home=tiny_siglip_home, weights=str(tiny_siglip_dir))
    assert same.name == "onnxruntime" or torch.cuda.is_available()
    other = str(save_tiny_siglip(tmp_path / "other", seed=1))
    runner = open_model("siglip", home=tiny_siglip_home, weights=other)
    assert runner.name == "torch" and runner.manifest_hash is None
    with pytest.raises(BadInputError, match="was built from"):
        open_model("siglip", "onnxruntime", home=tiny_siglip_home, weights=other)


def test_nothing_loadable_says_how_to_enable(tmp_path, monkeypatch):
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache("google/siglip-base-patch16-224", "config.json"), str):
        pytest.skip("the real SigLIP is in this machine's Hugging Face cache")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingModelError, match="engine-build --model siglip --weights DIR"):
        open_model("siglip", home=tmp_path)


def test_explicit_onnxruntime_without_artifact(tmp_path):
    with pytest.raises(MissingModelError, match="engine-build --model siglip"):
        open_model("siglip", "onnxruntime", home=tmp_path)


def test_bad_names(tmp_path):
    with pytest.raises(BadInputError, match="choose one of auto, tensorrt, onnxruntime, torch"):
        open_model("siglip", "tensorflow", home=tmp_path)
    with pytest.raises(BadInputError, match="unknown model"):
        open_model("nope", home=tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU auto may try PyTorch first")
def test_broken_artifact_is_not_silently_skipped(tmp_path, tiny_siglip_home):
    import shutil

    folder = tmp_path / "siglip"
    shutil.copytree(tiny_siglip_home / "siglip", folder)
    (folder / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(BackendError, match="ONNX Runtime cannot load"):
        open_model("siglip", home=tmp_path)


def test_available_backends_reports_every_runtime():
    assert [status.name for status in available_backends()] == list(BACKENDS)
    assert _STATUS["onnxruntime"].available and _STATUS["torch"].available
    assert all(status.detail for status in _STATUS.values())


class _TinyScorer(torch.nn.Module):
    """A stand-in for a new model: windows of 3 features [B, 3, 4] → two scores per window [B, 2]."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.linear(windows).sum(dim=1)


def _load_tiny_scorer(artifact, weights):
    from filmline.engine.backends.base import FEATURE_WINDOWS, ModelInput

    return _TinyScorer(), ModelInput(artifact.name, FEATURE_WINDOWS, (3, 4), manifest=artifact.manifest)


def _tiny_scorer_entry():
    from filmline.engine.backends.base import FEATURE_WINDOWS
    from filmline.engine.backends.entry import ModelEntry

    return ModelEntry(kind=FEATURE_WINDOWS, build_fix="engine-build --model tiny-scorer", load_torch=_load_tiny_scorer,
                      needs_manifest=False, cuda_graphs=False)


TINY_SCORER = _tiny_scorer_entry()


def test_a_new_model_is_one_entry_one_registry_line_and_one_export_config(tmp_path, monkeypatch):
    """What adding a model takes: its `ModelEntry` named in the registry opens it on PyTorch; its
    `ExportConfig` on the shared export path builds an artifact the same opener then prefers."""
    from filmline.engine import registry
    from filmline.engine.backends.base import FEATURE_WINDOWS, ModelInput
    from filmline.export.pipeline import BuildRequest, ExportConfig, ModelBuild, build_artifact

    monkeypatch.setitem(registry.TABLE["model"], "tiny-scorer", "tests.test_backends:TINY_SCORER")
    windows = np.random.default_rng(0).standard_normal((5, 3, 4), dtype=np.float32)
    on_torch = open_model("tiny-scorer", home=tmp_path)  # nothing built yet: PyTorch, citing no manifest
    assert (on_torch.name, on_torch.manifest_hash, on_torch.input.kind) == ("torch", None, FEATURE_WINDOWS)
    expected = on_torch.run(windows)
    assert expected.shape == (5, 2)

    config = ExportConfig(
        module=_TinyScorer(), model_input=ModelInput("tiny-scorer", FEATURE_WINDOWS, (3, 4)), input_name="windows",
        output_name="scores", dummy=lambda batch, rng: rng.standard_normal((batch, 3, 4), dtype=np.float32),
        tolerance=lambda precision: (0.9999, 1e-4), label="tiny-scorer",
    )
    fields = {"model": "tiny-scorer", "input": {"name": "windows", "shape": ["batch", 3, 4]}}
    result = build_artifact(BuildRequest("tiny-scorer", out=tmp_path / "tiny-scorer"), {"model": "tiny-scorer"},
                            lambda: ModelBuild(config, {"model": "tiny-scorer"}, fields), progress=lambda line: None)
    assert result.manifest["parity"]["onnxruntime"]["passed"]
    built = open_model("tiny-scorer", home=tmp_path)
    assert (built.name, built.item_shape) == ("onnxruntime", (3, 4))
    assert built.manifest_hash == export.manifest_hash(tmp_path / "tiny-scorer")
    np.testing.assert_allclose(built.run(windows), expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"expects feature windows \[B, 3, 4\]"):
        built.run(np.zeros((1, 4, 4), np.float32))

"""The PyTorch runner in reduced precision and with CUDA graphs, against its own fp32 reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from filmline.engine.backends.torch_runner import TorchRunner
from tests.tiny_models import tiny_torch_runner

needs_cuda = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
PARITY = 0.999  # cosine of every embedding to the fp32 one


def _pixels(runner: TorchRunner, batch: int, seed: int) -> np.ndarray:
    size = runner.image_size
    return np.random.default_rng(seed).standard_normal((batch, 3, size, size), dtype=np.float32)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def reference(tiny_siglip_dir) -> TorchRunner:
    return tiny_torch_runner(tiny_siglip_dir)


def test_cpu_defaults_to_the_fp32_reference(reference):
    assert (reference.device, reference.precision, reference.cuda_graphs) == ("cpu", "fp32", False)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_keeps_every_embedding(tiny_siglip_dir, reference, precision):
    """The same module cast to bf16/fp16 (what runs on a GPU), on the CPU: cosine ≥ 0.999 each."""
    runner = tiny_torch_runner(tiny_siglip_dir, precision=precision)
    assert runner.precision == precision
    pixels = _pixels(runner, 16, seed=11)
    got = runner.run(pixels)
    assert got.dtype == np.float32 and got.shape == (16, runner.embedding_dim)
    assert _cosines(got, reference.run(pixels)).min() >= PARITY


def test_options_are_checked(tiny_siglip_dir):
    with pytest.raises(ValueError, match="Invalid precision 'int8'"):
        tiny_torch_runner(tiny_siglip_dir, precision="int8")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda_graphs needs a CUDA device"):
            tiny_torch_runner(tiny_siglip_dir, cuda_graphs=True)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("device", [pytest.param("cuda", marks=needs_cuda)])
def test_cuda_graphs_match_the_reference(tiny_siglip_dir, reference, precision, device):
    """Graphs at 1, 8 and 32: batches of 1, 5 (padded to 8), 32 and 45 (32 + 13 padded to 32)
    give the fp32 reference's embeddings, and the same as eager execution in that precision."""
    graphed = tiny_torch_runner(tiny_siglip_dir, device, precision=precision, cuda_graphs=True, graph_batches=(1, 8, 32))
    eager = tiny_torch_runner(tiny_siglip_dir, device, precision=precision, cuda_graphs=False)
    for batch, seed in ((1, 1), (5, 2), (32, 3), (45, 4), (5, 5)):
        pixels = _pixels(graphed, batch, seed)
        got = graphed.run(pixels)
        assert got.shape == (batch, graphed.embedding_dim)
        assert _cosines(got, reference.run(pixels)).min() >= PARITY
        assert _cosines(got, eager.run(pixels)).min() >= 0.9999  # padding may change GEMM tiling, not results
    on_device = graphed.run(torch.from_numpy(_pixels(graphed, 3, 6)).to(device))
    assert on_device.device.type == "cuda" and on_device.dtype == torch.float32


def test_engine_run_precision_flag_reaches_the_result(tmp_path, monkeypatch, tiny_siglip_dir, films):
    import json

    from filmline.engine.cli import main

    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "home"))
    film = films["h264-cfr.mkv"].path
    argv = [film, "--out", str(tmp_path), "--backend", "torch", "--weights", str(tiny_siglip_dir), "--precision", "bf16",
            "--no-progress", "--no-triggers", "--no-intro"]
    assert main(argv) == 0
    document = json.loads((tmp_path / "h264-cfr.json").read_text())
    assert document["models"]["encoder"]["precision"] == "bf16"

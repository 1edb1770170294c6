"""The dispatcher's rule and the public functions' argument checks."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from filmline import kernels
from filmline.kernels import KernelUnavailableError, _dispatch, reference

_TRITON = importlib.util.find_spec("triton") is not None
_INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
needs_cpu_triton = pytest.mark.skipif(
    not (_TRITON and _INTERPRETED), reason="Triton on the CPU needs TRITON_INTERPRET=1"
)


@pytest.fixture(autouse=True)
def _no_env_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_dispatch.ENV_VAR, raising=False)


def test_auto_on_cpu_is_reference() -> None:
    assert kernels.resolve_impl(None, torch.zeros(2)) == "reference"
    assert kernels.resolve_impl("auto", torch.zeros(2)) == "reference"


@needs_cpu_triton
def test_argument_forces_each_implementation() -> None:
    x = torch.zeros(2)
    assert kernels.resolve_impl("triton", x) == "triton"
    assert kernels.resolve_impl("reference", x) == "reference"


@needs_cpu_triton
@pytest.mark.parametrize("choice", ["triton", "reference"])
def test_env_var_forces_each_implementation(monkeypatch: pytest.MonkeyPatch, choice: str) -> None:
    monkeypatch.setenv(_dispatch.ENV_VAR, choice)
    assert kernels.resolve_impl(None, torch.zeros(2)) == choice


@needs_cpu_triton
def test_argument_wins_over_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_dispatch.ENV_VAR, "triton")
    assert kernels.resolve_impl("reference", torch.zeros(2)) == "reference"


@needs_cpu_triton
def test_public_function_runs_the_chosen_implementation(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def spy(emb: torch.Tensor, max_lag: int) -> torch.Tensor:
        calls.append("reference")
        return torch.zeros(max_lag, emb.shape[0])

    monkeypatch.setattr(reference, "adjacent_similarity", spy)
    x = torch.randn(4, 8)
    monkeypatch.setenv(_dispatch.ENV_VAR, "reference")
    kernels.adjacent_similarity(x)
    monkeypatch.setenv(_dispatch.ENV_VAR, "triton")
    out = kernels.adjacent_similarity(x)
    assert calls == ["reference"] and out[0, 0] != 0  # the second call ran Triton


def test_bad_names_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="'auto', 'triton', 'reference'"):
        kernels.adjacent_similarity(torch.randn(3, 4), impl="cuda")
    monkeypatch.setenv(_dispatch.ENV_VAR, "fast")
    with pytest.raises(ValueError, match="FILMLINE_KERNELS"):
        kernels.adjacent_similarity(torch.randn(3, 4))


def test_mixed_devices_are_rejected() -> None:
    with pytest.raises(ValueError, match="one device"):
        kernels.resolve_impl("auto", torch.zeros(2), torch.zeros(2, device="meta"))


def test_forced_triton_without_triton(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = _dispatch._TritonState(None, False, "ImportError: No module named 'triton'")
    monkeypatch.setattr(_dispatch, "_triton_state", lambda: missing)
    with pytest.raises(KernelUnavailableError, match="cannot be imported"):
        kernels.adjacent_similarity(torch.randn(3, 4), impl="triton")
    assert kernels.resolve_impl("auto", torch.zeros(2)) == "reference"


def test_forced_triton_on_cpu_without_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = _dispatch._TritonState({}, False, "")
    monkeypatch.setattr(_dispatch, "_triton_state", lambda: compiled)
    with pytest.raises(KernelUnavailableError, match="TRITON_INTERPRET=1"):
        kernels.match_runs(torch.randn(3, 4), torch.randn(2, 4), 0.5, impl="triton")


def test_import_without_triton() -> None:
    """`import kernels` and the reference path need no Triton; forcing Triton says why not."""
    script = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch\nfrom filmline import kernels\n"
        "kernels.adjacent_similarity(torch.randn(3, 4))\n"
        "try:\n"
        "    kernels.adjacent_similarity(torch.randn(3, 4), impl='triton')\n"
        "except kernels.KernelUnavailableError as err:\n"
        "    print(err)\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert "Triton cannot be imported" in result.stdout


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_auto_on_cuda_is_triton() -> None:
    if _INTERPRETED or not _TRITON:
        pytest.skip("auto picks Triton only when it is installed and compiled, not interpreted")
    assert kernels.resolve_impl(None, torch.zeros(2, device="cuda")) == "triton"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: kernels.adjacent_similarity(torch.randn(3)), "2-D tensor"),
        (lambda: kernels.adjacent_similarity(torch.randn(3, 4).double()), "float32, float16"),
        (lambda: kernels.adjacent_similarity([[1.0]]), "torch.Tensor"),
        (lambda: kernels.adjacent_similarity(torch.randn(3, 4), 0), r"1\.\.8"),
        (lambda: kernels.adjacent_similarity(torch.randn(3, 4), 9), r"1\.\.8"),
        (lambda: kernels.adjacent_similarity(torch.randn(3, 4), True), "int"),
        (lambda: kernels.shot_centroids(torch.randn(5, 4), torch.tensor([0, 3, 2])), "non-decreasing"),
        (lambda: kernels.shot_centroids(torch.randn(5, 4), torch.tensor([0, 6])), r"\[0, 5\]"),
        (lambda: kernels.shot_centroids(torch.randn(5, 4), torch.tensor([-1, 2])), r"\[0, 5\]"),
        (lambda: kernels.shot_centroids(torch.randn(5, 4), torch.tensor([0.0, 2.0])), "integer"),
        (lambda: kernels.shot_centroids(torch.randn(5, 4), torch.tensor([[0, 2]])), "1-D"),
        (lambda: kernels.match_runs(torch.randn(5, 4), torch.randn(5, 3), 0.5), "same embedding"),
        (lambda: kernels.match_runs(torch.randn(5, 4), torch.randn(5, 4), float("nan")), "real"),
        (lambda: kernels.match_runs(torch.randn(5, 4), torch.randn(5, 4), "0.5"), "real"),
        (lambda: kernels.frame_stats_rgb(torch.zeros(1, 8, 8, 3)), "uint8"),
        (lambda: kernels.frame_stats_rgb(torch.zeros(1, 8, 8, 4, dtype=torch.uint8)), "3 channels"),
        (lambda: kernels.frame_stats_rgb(torch.zeros(1, 8, 8, 3, dtype=torch.uint8)), "larger than"),
        (
            lambda: kernels.frame_stats_rgb(
                torch.zeros(1, 8, 8, 3, dtype=torch.uint8), thumb_size=(2, 2), bins_per_channel=9
            ),
            r"1\.\.8",
        ),
        (
            lambda: kernels.frame_stats_rgb(
                torch.zeros(1, 8, 8, 3, dtype=torch.uint8), torch.zeros(3, 2), thumb_size=(2, 2)
            ),
            "prev_luma",
        ),
        (
            lambda: kernels.frame_stats_rgb(
                torch.zeros(1, 8, 8, 3, dtype=torch.uint8), thumb_size=(0, 2)
            ),
            "positive",
        ),
        (
            lambda: kernels.frame_stats_nv12(
                torch.zeros(1, 8, 8, dtype=torch.uint8),
                torch.zeros(1, 8, 8, 2, dtype=torch.uint8),
                thumb_size=(2, 2),
            ),
            "uv must have shape",
        ),
    ],
)
def test_invalid_arguments(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()

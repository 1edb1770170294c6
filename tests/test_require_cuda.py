"""On a GPU runner `FILMLINE_REQUIRE_CUDA=1` turns a skipped CUDA test into a failure (conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="here the CUDA tests run instead of skipping")
def test_a_skipped_gpu_test_fails_when_cuda_is_required() -> None:
    test = "tests/test_kernels_dispatch.py::test_auto_on_cuda_is_triton"  # marked gpu, skips without CUDA
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu", test],
                          cwd=ROOT, env={**os.environ, "FILMLINE_REQUIRE_CUDA": "1"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0, done.stdout
    assert "FILMLINE_REQUIRE_CUDA=1, but this GPU test was skipped: needs a CUDA device" in done.stdout

"""Shared test setup: every fixture more than one test module uses is defined or imported here.

Triton kernels run on the CPU through Triton's interpreter when no GPU is present; the variable
must be set before any kernel module is imported, hence here.

On a GPU runner, `FILMLINE_REQUIRE_CUDA=1` turns the skip of any test marked `gpu` into a
failure, so a broken CUDA set-up cannot pass as "skipped".
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# engine-run's default shot detector is `auto` (TransNetV2 where its weights are installed, which
# they are wherever the package is). The suite's runs, in this process and in the engine-runs it
# starts, take tests/cheap_detector.yaml as $ENGINE_CONFIG (standing settings under any --config):
# the cheap pass unless a test passes --detector, so a run in a fresh
# ENGINE_HOME does not export the network first, and the tests written for the cheap pass keep
# testing it (tests/test_transnetv2*.py test the rest).
os.environ["ENGINE_CONFIG"] = str(Path(__file__).with_name("cheap_detector.yaml"))

# Shared session fixtures: synthetic films and broken files, tiny encoders in Hugging Face format.
from tests.tiny_models import tiny_clip_dir, tiny_siglip_dir, tiny_siglip_home  # noqa: E402,F401
from tests.tiny_vlms import tiny_llava_dir, tiny_llava_interleave_dir, tiny_llava_next_dir, tiny_llava_onevision_dir  # noqa: E402,F401
from tests.videos import bad_inputs, corrupt_film, films, open_gop_films, truncated_film  # noqa: E402,F401


_TRITON = importlib.util.find_spec("triton") is not None
REQUIRE_CUDA = os.environ.get("FILMLINE_REQUIRE_CUDA") == "1"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    if REQUIRE_CUDA and report.skipped and item.get_closest_marker("gpu") is not None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = f"FILMLINE_REQUIRE_CUDA=1, but this GPU test was skipped: {reason}"
    return report


@pytest.fixture
def offline_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No built artifacts and no hub: what a fresh machine without weights looks like. Modules
    that run engine-run use it for every test: `pytestmark = pytest.mark.usefixtures("offline_home")`."""
    home = tmp_path / "engine-home"
    monkeypatch.setenv("ENGINE_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture(
    params=[
        pytest.param(
            "cpu",
            marks=pytest.mark.skipif(
                not (_TRITON and os.environ.get("TRITON_INTERPRET") == "1"), reason="Triton on the CPU needs TRITON_INTERPRET=1"
            ),
        ),
        pytest.param(
            "cuda",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
            ],
        ),
    ]
)
def device(request: pytest.FixtureRequest) -> str:
    """Where the Triton kernels can run here: the interpreter on the CPU, or a GPU."""
    return request.param

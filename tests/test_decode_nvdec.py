"""The NVDEC decoder: when it is chosen and why not, what it feeds the hardware, how its frames
convert; and, on a GPU, the same frames, timestamps and sampled frames as PyAV."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from filmline.benchmarks.synthetic import GroundTruth, write_film
from filmline.engine.cli import main as engine_run
from filmline.engine.decode import NvdecEnvironment, nvdec_environment, nvdec_fallback_reason, open_decoder, sample_indices
from filmline.engine.decode.chunks import ChunkedDecoder
from filmline.engine.decode.nvdec import NvdecFrame, annexb_packets
from filmline.engine.decode.demux import keyframe_pts, open_container, stream_format
from filmline.engine.decode.pyav import SCALING, PyAVDecoder, PyAVFrame
from filmline.engine.gpu_preprocess import YuvFormat
from tests.videos import FILMS

READY = NvdecEnvironment(cuda=True)
NO_NVDEC_HERE = not torch.cuda.is_available() or nvdec_environment() != READY


@pytest.mark.parametrize(
    ("codec", "profile", "pixel_format", "environment", "needle"),
    [
        ("h264", "High", "yuv420p", READY, None),
        ("hevc", "Main", "yuv420p", READY, None),
        ("h264", "Constrained Baseline", "yuvj420p", READY, None),
        ("mpeg4", "Simple Profile", "yuv420p", READY, "MPEG-4 Part 2"),
        ("vp9", "Profile 0", "yuv420p", READY, "VP9"),
        ("hevc", "Main 10", "yuv420p10le", READY, "8-bit 4:2:0"),
        ("h264", "High 4:4:4 Predictive", "yuv444p", READY, "8-bit 4:2:0"),
        ("h264", "Extended", "yuv420p", READY, "Extended profile"),
        ("h264", "High", "yuv420p", NvdecEnvironment(cuda=False), "no CUDA device"),
        ("h264", "High", "yuv420p", NvdecEnvironment(True, libnvcuvid_error="libnvcuvid.so.1: cannot open"),
         "NVIDIA_DRIVER_CAPABILITIES"),
        ("h264", "High", "yuv420p", NvdecEnvironment(True, pynvvideocodec_error="No module named 'PyNvVideoCodec'"),
         "pip install PyNvVideoCodec"),
        ("mpeg4", "Simple Profile", "yuv420p", NvdecEnvironment(cuda=False), "no CUDA device"),  # the machine first
    ],
)
def test_fallback_decision(codec: str, profile: str, pixel_format: str, environment: NvdecEnvironment,
                           needle: str | None) -> None:
    reason = nvdec_fallback_reason(codec, profile, pixel_format, environment)
    if needle is None:
        assert reason is None
    else:
        assert needle in reason and "\n" not in reason


def test_mpeg4_part2_goes_to_pyav(tmp_path: Path) -> None:
    path = tmp_path / "divx.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    fmt = stream_format(path)
    assert fmt.codec == "mpeg4"
    assert "MPEG-4 Part 2" in nvdec_fallback_reason(fmt.codec, fmt.profile, fmt.pixel_format, READY)
    reasons: list[str] = []
    with open_decoder(path, "nvdec", on_fallback=reasons.append) as decoder:
        assert decoder.BACKEND_NAME == "pyav" and sum(1 for _ in decoder.frames()) == 10
    assert len(reasons) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_without_cuda_nvdec_falls_back_with_a_reason_and_auto_quietly(films: dict[str, GroundTruth]) -> None:
    path = films["h264-cfr.mkv"].path
    assert nvdec_environment() == NvdecEnvironment(cuda=False)
    reasons: list[str] = []
    assert open_decoder(path, "nvdec", on_fallback=reasons.append).BACKEND_NAME == "pyav"
    assert reasons == ["no CUDA device (NVDEC needs an NVIDIA GPU)"]
    assert open_decoder(path, "auto", on_fallback=reasons.append).BACKEND_NAME == "pyav"
    assert len(reasons) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_engine_run_says_once_why_it_decodes_with_pyav(films: dict[str, GroundTruth], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("ENGINE_HOME", str(tmp_path / "home"))
    videos = [films["h264-cfr.mkv"].path, films["hevc-cfr.mp4"].path]
    code = engine_run([*videos, "--out", str(tmp_path), "--backend", "none", "--decoder", "nvdec",
                       "--decode-sessions", "2", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note: decoding with PyAV:")]
    assert notes == ["note: decoding with PyAV: no CUDA device (NVDEC needs an NVIDIA GPU)"]
    for video in videos:
        document = json.loads((tmp_path / f"{Path(video).stem}.json").read_text())
        assert document["video"]["decoder"] == "pyav"
        assert document["video"]["frame_count"] == films["h264-cfr.mkv"].frame_count


def _nv12_frames(path: str, count: int = 3) -> list[tuple[PyAVFrame, NvdecFrame]]:
    """PyAV's frames, and the same pictures as `NvdecFrame`s made from their NV12 planes."""
    info = PyAVDecoder(path).info
    fmt = stream_format(path)
    yuv = YuvFormat.from_ffmpeg(fmt.colorspace, fmt.color_range)
    size, display = (info.coded_width, info.coded_height), (info.width, info.height)
    with av.open(path) as container:
        pictures = [f.to_ndarray(format="nv12") for _, f in zip(range(count), container.decode(video=0))]
    return [(frame, NvdecFrame(frame.index, frame.pts, frame.seconds, torch.from_numpy(nv12), size, yuv,
                               info.rotation, display))
            for frame, nv12 in zip(PyAVDecoder(path).frames(), pictures)]


@pytest.mark.parametrize("name", FILMS)
@pytest.mark.parametrize("size", [None, (64, 36), (224, 224)])
def test_nv12_frames_look_like_pyav_frames(films: dict[str, GroundTruth], name: str,
                                           size: tuple[int, int] | None) -> None:
    """The same picture at the same size as swscale's, within what its fixed-point writer and
    chroma sharing differ by on these noisy textures (a wrong colour matrix or range is 4.7 and
    5.1 levels off at full size; a wrong orientation tens)."""
    for pyav_frame, nvdec_frame in _nv12_frames(films[name].path):
        expected = pyav_frame.to_rgb(*(size or ())).astype(np.int16)
        got = nvdec_frame.to_rgb(*(size or ()))
        assert got.shape == expected.shape and got.dtype == np.uint8
        assert np.abs(got.astype(np.int16) - expected).mean() < (3.5 if size is None else 7.0)


@pytest.mark.parametrize(("name", "corner", "size"), [
    ("h264-rot90.mp4", "top_right", None), ("h264-rot90.mp4", "top_right", (48, 80)),
    ("h264-sar2.mkv", "top_left", None), ("h264-sar2.mkv", "top_left", (160, 48)),
])
def test_nv12_frames_show_display_orientation(films: dict[str, GroundTruth], name: str, corner: str,
                                              size: tuple[int, int] | None) -> None:
    """The marker painted top-left in the stored picture ends up where a player shows it."""
    (_, frame), = _nv12_frames(films[name].path, count=1)
    image = frame.to_rgb(*(size or ()))
    n = min(image.shape[:2]) // 8
    corners = {"top_left": image[:n, :n], "top_right": image[:n, -n:], "bottom_left": image[-n:, :n],
               "bottom_right": image[-n:, -n:]}
    means = {key: float(patch.mean()) for key, patch in corners.items()}
    assert means.pop(corner) > 240 and max(means.values()) < 200


def test_nv12_planes_are_what_the_statistics_kernel_takes(films: dict[str, GroundTruth]) -> None:
    from filmline import kernels

    (_, frame), = _nv12_frames(films["h264-cfr.mkv"].path, count=1)
    y, uv = frame.nv12()
    assert y.shape == (96, 160) and uv.shape == (48, 80, 2)
    stats = kernels.frame_stats_nv12(y[None], uv[None])
    assert stats.luma.shape == (1, 36, 64)
    assert abs(float(stats.luma.mean()) - float(y.float().mean())) < 1.0


def test_annexb_chunks_decode_on_their_own(open_gop_films: dict[str, Path]) -> None:
    """Each chunk's packets, as NVDEC gets them, decode from a fresh decoder (no extradata, no
    earlier packets) into exactly the sequential decode's frames of that chunk: the parameter
    sets travel with every keyframe, open-GOP keyframes included."""
    for name in ("natural.mkv", "natural.mp4"):
        path = open_gop_films[name]
        sequential = {f.pts: f.to_rgb(64, 36) for f in PyAVDecoder(path).frames()}
        edges = [None, *keyframe_pts(path)[1:], None]
        container = open_container(path)
        stream = container.streams.video[0]
        decoded: dict[int, np.ndarray] = {}
        for start, end in zip(edges, edges[1:]):
            fresh = av.CodecContext.create("h264", "r")
            for packet in [*annexb_packets(path, container, stream, start), None]:
                if packet is not None:
                    packet, pts = av.Packet(bytes(packet)), packet.pts
                    packet.pts = pts
                for frame in fresh.decode(packet):
                    if (start is None or frame.pts >= start) and (end is None or frame.pts < end):
                        decoded[frame.pts] = frame.reformat(64, 36, "rgb24", interpolation=SCALING).to_ndarray()
        container.close()
        assert sorted(decoded) == sorted(sequential)
        assert all(np.array_equal(decoded[pts], sequential[pts]) for pts in sequential)


@pytest.mark.gpu
@pytest.mark.skipif(NO_NVDEC_HERE, reason="needs a CUDA device with NVDEC and PyNvVideoCodec")
@pytest.mark.parametrize("name", FILMS)
@pytest.mark.parametrize("sessions", [1, 3], ids=["one-session", "three-sessions"])
def test_nvdec_gives_pyavs_frames_times_and_samples(films: dict[str, GroundTruth], name: str, sessions: int) -> None:
    path = films[name].path
    expected = [(f.index, f.pts, f.seconds, f.to_rgb(64, 36)) for f in PyAVDecoder(path).frames()]
    with open_decoder(path, "nvdec", sessions=sessions) as decoder:
        assert decoder.BACKEND_NAME == "nvdec"
        assert isinstance(decoder, ChunkedDecoder) == (sessions > 1)
        got = []
        for frame in decoder.frames():
            assert frame.to_tensor(64, 36).device.type == "cuda"
            got.append((frame.index, frame.pts, frame.seconds, frame.to_rgb(64, 36)))
        assert decoder.corrupt_frames == 0
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    seconds = [e[2] for e in expected]
    for fps in (1, 2.5, 10):
        assert sample_indices([g[2] for g in got], fps) == sample_indices(seconds, fps)
    difference = np.abs(np.stack([g[3] for g in got]).astype(np.int16) - np.stack([e[3] for e in expected]))
    assert difference.mean() < 7.0  # as `test_nv12_frames_look_like_pyav_frames`: NVDEC's NV12 is FFmpeg's


@pytest.mark.gpu
@pytest.mark.skipif(NO_NVDEC_HERE, reason="needs a CUDA device with NVDEC and PyNvVideoCodec")
def test_nvdec_open_gop_chunks_and_the_pipeline_match_pyav(open_gop_films: dict[str, Path],
                                                           tmp_path: Path) -> None:
    from filmline.engine.cli import build_parser
    from filmline.engine.run_settings import build_run_settings
    from filmline.engine.pipeline import analyze_video
    from tests.videos import RecordingTap

    for name in ("natural.mkv", "natural.mp4", "cuts.mkv"):
        path = open_gop_films[name]
        with open_decoder(path, "nvdec", sessions=4) as decoder:
            got = [(f.index, f.pts) for f in decoder.frames()]
        assert got == [(f.index, f.pts) for f in PyAVDecoder(path).frames()]
    path = open_gop_films["cuts.mkv"]
    settings = build_run_settings(build_parser().parse_args([str(path)])).shots
    taken = {}
    for backend in ("pyav", "nvdec"):
        (tmp_path / backend).mkdir()
        tap = RecordingTap()
        analysis = analyze_video(path, settings, None, tmp_path / backend, decoder_backend=backend,
                                 decode_sessions=4, taps=[tap])
        assert analysis.decoder_backend == backend
        taken[backend] = tap.taken
    assert taken["nvdec"] == taken["pyav"] and taken["pyav"]

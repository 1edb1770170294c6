"""Video decoding: one `Decoder` protocol, one module per backend, chosen by name.

Backends are imported only when asked for, so a machine without a GPU video stack never imports
one. `auto` takes NVDEC where it can decode the stream (a CUDA device, the driver's libnvcuvid,
PyNvVideoCodec, a codec and format NVDEC takes here), else PyAV. A request NVDEC cannot honour
falls back to PyAV with one line saying why (`nvdec_fallback_reason`). With several decode
sessions the stream is cut at keyframes and decoded in parallel (`engine.decode.chunks`).
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filmline.engine import registry
from filmline.engine.decode.base import Decoder, Frame, VideoInfo
from filmline.engine.decode.sampler import FpsSampler, sample_indices
from filmline.engine.errors import BadInputError, first_line

# What the NVDEC path takes: codecs (FFmpeg name → what users call it) and 8-bit 4:2:0 pictures,
# the NV12 surfaces the GPU statistics and preprocessing read.
NVDEC_CODECS = {"h264": "H.264", "hevc": "HEVC"}
NVDEC_PIXEL_FORMATS = ("yuv420p", "yuvj420p", "nv12")
NVDEC_UNSUPPORTED_PROFILES = {("h264", "Extended"): "H.264 Extended profile"}
CODEC_NAMES = {"mpeg4": "MPEG-4 Part 2", "mpeg2video": "MPEG-2", "vp9": "VP9", "vp8": "VP8", "av1": "AV1"}


@dataclass(frozen=True)
class NvdecEnvironment:
    """Whether this machine can run NVDEC at all; each `*_error` is None when that part is fine."""

    cuda: bool
    libnvcuvid_error: str | None = None
    pynvvideocodec_error: str | None = None


@functools.lru_cache(maxsize=1)
def nvdec_environment() -> NvdecEnvironment:
    """This machine's `NvdecEnvironment`, probed once. Later parts are probed only when the
    earlier ones are there (PyNvVideoCodec's import loads the driver's libraries)."""
    import torch

    if not torch.cuda.is_available():
        return NvdecEnvironment(cuda=False)
    try:
        ctypes.CDLL("libnvcuvid.so.1")
    except OSError as err:
        return NvdecEnvironment(cuda=True, libnvcuvid_error=first_line(err))
    try:
        from filmline.engine.decode.nvdec import pynvvideocodec

        pynvvideocodec()
    except Exception as err:  # ImportError, or the RuntimeError its driver check raises
        return NvdecEnvironment(cuda=True, pynvvideocodec_error=first_line(err))
    return NvdecEnvironment(cuda=True)


def nvdec_fallback_reason(codec: str, profile: str | None, pixel_format: str | None,
                          environment: NvdecEnvironment) -> str | None:
    """Why this stream cannot be decoded with NVDEC here, in one line; None when it can."""
    if not environment.cuda:
        return "no CUDA device (NVDEC needs an NVIDIA GPU)"
    if environment.libnvcuvid_error is not None:
        return (f"the driver's video decoder libnvcuvid.so.1 does not load ({environment.libnvcuvid_error}); "
                "in a container, add 'video' to NVIDIA_DRIVER_CAPABILITIES")
    if environment.pynvvideocodec_error is not None:
        return (f"PyNvVideoCodec cannot be imported ({environment.pynvvideocodec_error}); "
                "install it with pip install PyNvVideoCodec")
    if codec not in NVDEC_CODECS:
        name = CODEC_NAMES.get(codec, codec)
        return f"the video is {name}; the NVDEC path takes {' and '.join(NVDEC_CODECS.values())}"
    if (codec, profile) in NVDEC_UNSUPPORTED_PROFILES:
        return f"NVDEC cannot decode {NVDEC_UNSUPPORTED_PROFILES[codec, profile]}"
    if pixel_format not in NVDEC_PIXEL_FORMATS:
        return (f"the pictures are {pixel_format} ({NVDEC_CODECS[codec]} {profile or ''}); "
                "the NVDEC path takes 8-bit 4:2:0 only")
    return None


def open_decoder(path: str | Path, backend: str = "auto", *, sessions: int | None = None,
                 on_fallback: Callable[[str], None] | None = None) -> Decoder:
    """Open `path` with the named backend ("auto" picks the best one that can decode it).

    `sessions`: concurrent decode sessions on keyframe chunks of the file; None picks one per
    NVDEC engine on the GPU, one on the CPU (FFmpeg's threads already use every core). When
    "nvdec" (or "auto" on a machine with CUDA) falls back to PyAV, `on_fallback` gets the reason.
    """
    if sessions is not None and sessions < 1:
        raise BadInputError(f"decode sessions must be at least 1, got {sessions}; try --decode-sessions 1")
    if backend not in ("auto", *registry.names("decoder")):
        valid = ", ".join(["auto", *registry.names("decoder")])
        raise BadInputError(f"unknown decoder backend {backend!r}; valid values: {valid}")
    name = _nvdec_or_pyav(Path(path), backend, on_fallback) if backend in ("auto", "nvdec") else backend
    try:
        decoder_class = registry.lookup("decoder", name)
    except ImportError as err:
        raise BadInputError(
            f"decoder backend {name!r} cannot be used here ({err}); "
            "install its dependencies or pass backend='pyav'"
        ) from err
    decoder = decoder_class(path)
    if sessions is None:
        sessions = _nvdec_engines(path) if name == "nvdec" else 1
    if sessions == 1:
        return decoder
    from filmline.engine.decode.chunks import ChunkedDecoder

    return ChunkedDecoder(decoder, path, sessions)


def _nvdec_or_pyav(path: Path, backend: str, on_fallback: Callable[[str], None] | None) -> str:
    """NVDEC when it can decode `path` here, else PyAV; a fallback is reported unless it is
    "auto" on a machine without CUDA, where PyAV is simply the decoder."""
    from filmline.engine.decode.demux import stream_format

    environment = nvdec_environment()
    if backend == "auto" and not environment.cuda:
        return "pyav"
    stream = stream_format(path)
    reason = nvdec_fallback_reason(stream.codec, stream.profile, stream.pixel_format, environment)
    if reason is None:
        return "nvdec"
    if on_fallback is not None:
        on_fallback(reason)
    return "pyav"


def _nvdec_engines(path: str | Path) -> int:
    from filmline.engine.decode.nvdec import decoder_engines

    return decoder_engines(path)





__all__ = [
    "Decoder",
    "FpsSampler",
    "Frame",
    "NvdecEnvironment",
    "VideoInfo",
    "nvdec_environment",
    "nvdec_fallback_reason",
    "open_decoder",
    "sample_indices",
]

"""The GPU decoder: NVDEC through PyNvVideoCodec, frames kept in GPU memory as NV12.

PyAV demuxes (so timestamps, seeking and keyframes are exactly the CPU path's) and hands the
packets, in Annex B with the parameter sets before every keyframe, to PyNvVideoCodec's core
decoder. Each decoded surface reaches PyTorch through DLPack without leaving the GPU and is
copied once, device to device, into a tensor the frame owns (the decoder reuses its surfaces on
the next packet, while frames wait in the pipeline). Colour conversion and scaling run on the
GPU too, with the resampling `engine.gpu_preprocess` defines (swscale's AREA).

UNVERIFIED: written to PyNvVideoCodec 2.2's API (`CreateDecoder`, `PacketData`, `Decode`,
`DecodedFrame.getPTS`, `__dlpack__`, `GetDecoderCaps`) as its documentation, samples and
binary describe it, on a machine without a GPU; `benchmarks/device/decode_check.sh` checks it
on one (frames, timestamps and sampled frames against PyAV). Everything here that needs no GPU
(packets, colour conversion, chunking) is tested on the CPU.
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Iterator
from pathlib import Path

import av
import numpy as np
import torch
from av.bitstream import BitStreamFilterContext

from filmline.engine.decode.base import VideoInfo
from filmline.engine.decode.chunks import FrameNumbering, clip_to_chunk
from filmline.engine.decode.demux import StreamFormat, demux_from, no_frames_error, open_container, stream_format
from filmline.engine.decode.pyav import PyAVDecoder, stored_size
from filmline.engine.errors import BackendError, BadInputError, first_line
from filmline.engine.gpu_preprocess import YuvFormat, nv12_to_levels
from filmline.engine.timecode import pts_seconds

# FFmpeg codec name → the bitstream filters that turn its packets into what NVDEC parses:
# Annex B start codes, and the parameter sets (SPS/PPS, VPS for HEVC) in front of every keyframe,
# so a session can start at any keyframe, an open GOP's non-IDR ones included.
ANNEX_B_FILTERS = {
    "h264": "h264_mp4toannexb,dump_extra",
    "hevc": "hevc_mp4toannexb,dump_extra",
}


@functools.lru_cache(maxsize=1)
def pynvvideocodec():
    """The PyNvVideoCodec module (imported once, on first use: it loads the driver's libraries)."""
    import PyNvVideoCodec

    return PyNvVideoCodec


def decoder_engines(path: str | Path, gpu: int = 0) -> int:
    """How many NVDEC engines the GPU has for this video's codec (one decode session each)."""
    nvc = pynvvideocodec()
    try:
        demuxer = nvc.CreateDemuxer(filename=str(path))
        caps = nvc.GetDecoderCaps(gpuid=gpu, codec=demuxer.GetNvCodecId(), chromaformat=demuxer.ChromaFormat(),
                                  bitdepth=demuxer.BitDepth())
    except Exception as err:  # PyNvVideoCodec raises its own exception types and RuntimeError
        raise BackendError(f"{path}: NVDEC's capabilities cannot be read ({first_line(err)}); "
                           "pass --decode-sessions N, or decode with --decoder pyav") from err
    return max(1, int(caps.get("num_decoder_engines", 1)))


def annexb_packets(
    path: Path, container: av.container.InputContainer, stream: av.video.stream.VideoStream, start_pts: int | None
) -> Iterator[av.Packet]:
    """The stream's packets from the keyframe at `start_pts` (None: the start), as NVDEC takes them."""
    filters = ANNEX_B_FILTERS.get(stream.codec_context.name)
    if filters is None:
        raise BadInputError(f"{path}: NVDEC is not set up for {stream.codec_context.name}; "
                            "decode it with --decoder pyav")
    annexb = BitStreamFilterContext(filters, in_stream=stream)
    for packet in demux_from(path, container, stream, start_pts):
        yield from annexb.filter(packet)
    yield from annexb.filter(None)


class NvdecFrame:
    """One decoded frame in GPU memory: its NV12 planes, converted to RGB only when asked.

    `to_tensor` is the GPU accessor (uint8 RGB on the device, for GPU preprocessing); `to_rgb`
    is the same image on the host, as every `Frame` gives it. `nv12()`, `yuv` and `rotation` are
    what `engine.gpu_preprocess.DevicePreprocessor.from_nv12` takes. The planes need not be on a
    GPU: the same code converts NV12 that PyAV decoded, which is how the CPU tests check it.
    """

    __slots__ = ("index", "pts", "seconds", "yuv", "rotation", "_nv12", "_size", "_display_size")

    def __init__(self, index: int, pts: int, seconds: float, nv12: torch.Tensor, size: tuple[int, int],
                 yuv: YuvFormat, rotation: int, display_size: tuple[int, int]) -> None:
        width, height = size
        if width % 2 or tuple(nv12.shape) != (height + (height + 1) // 2, width) or nv12.dtype != torch.uint8:
            raise BackendError(
                f"NVDEC frame is {nv12.dtype} {tuple(nv12.shape)}, expected uint8 NV12 "
                f"({height + (height + 1) // 2}, {width}) for a {width}x{height} picture; decode with --decoder pyav"
            )
        self.index = index
        self.pts = pts
        self.seconds = seconds
        self.yuv = yuv
        self.rotation = rotation  # clockwise degrees
        self._nv12 = nv12
        self._size = size
        self._display_size = display_size

    def nv12(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Y uint8 [H, W] and interleaved chroma uint8 [ceil(H/2), W/2, 2], stored orientation.

        On a GPU the planes are marked as used by the caller's current stream, so their memory is
        not handed out again (the frame was decoded on its session's stream) before the caller's
        work on them is done."""
        width, height = self._size
        if self._nv12.is_cuda:
            self._nv12.record_stream(torch.cuda.current_stream(self._nv12.device))
        return self._nv12[:height], self._nv12[height:].view(-1, width // 2, 2)

    def to_tensor(self, width: int | None = None, height: int | None = None) -> torch.Tensor:
        """uint8 RGB `[height, width, 3]` on the frame's device, display orientation; sizes as
        `base.Frame.to_rgb`."""
        w, h, quarter_turns = stored_size(width, height, self._display_size, self.rotation)
        y, uv = self.nv12()
        levels = nv12_to_levels(y[None], uv[None], self.yuv, w, h)[0]
        image = levels.permute(1, 2, 0).to(torch.uint8).contiguous()
        if quarter_turns:
            image = torch.rot90(image, k=-quarter_turns, dims=(0, 1)).contiguous()
        return image

    def to_rgb(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        """uint8 RGB `[height, width, 3]` on the host; see `base.Frame.to_rgb`."""
        return self.to_tensor(width, height).cpu().numpy()

    def __repr__(self) -> str:
        return (f"NvdecFrame(index={self.index}, pts={self.pts}, seconds={self.seconds:.3f}, "
                f"stored={self._size[0]}x{self._size[1]}, device={self._nv12.device})")


class NvdecDecoder:
    """Every frame of one video in presentation order, decoded by NVDEC into GPU memory.

    `info` is PyAV's reading of the file (the same numbers on both paths). Frames whose decode
    fails are skipped and counted in `corrupt_frames`; a frame whose timestamp does not advance
    is dropped and counted, as on the CPU path, and so are frames that never come (`frames_lost`).
    """

    BACKEND_NAME = "nvdec"

    def __init__(self, path: str | Path, *, gpu: int = 0) -> None:
        self._path = Path(path)
        self._gpu = gpu
        self.info = PyAVDecoder(self._path).info
        self.format = stream_format(self._path)
        self.corrupt_frames = 0
        self.frames_lost = 0

    def frames(self) -> Iterator[NvdecFrame]:
        """Decode the whole stream in one session; each call is a fresh pass and count."""
        self.corrupt_frames = 0
        self.frames_lost = 0
        numbering = FrameNumbering(self.info)
        session = self.range_session()
        frames = session.frames_between(None, None)
        try:
            for frame in frames:
                if numbering.take(frame):
                    yield frame
        finally:
            frames.close()
            session.close()
            self.corrupt_frames = session.corrupt_frames + numbering.dropped
        self.frames_lost = numbering.lost.count(self.corrupt_frames)
        if numbering.count == 0:
            raise no_frames_error(self._path)

    def range_session(self, concurrent: int = 1) -> NvdecSession:
        """A decode session of its own (one NVDEC engine); `concurrent` does not change it."""
        return NvdecSession(self._path, self.info, self.format, self._gpu)

    def close(self) -> None:
        """Sessions live only while `frames()` (or a chunked decoder) runs."""

    def __enter__(self) -> NvdecDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NvdecSession:
    """One PyNvVideoCodec decoder on its own CUDA stream, fed by a PyAV demuxer of its own;
    decodes chunk after chunk (each starting at a keyframe), flushing the decoder in between."""

    def __init__(self, path: Path, info: VideoInfo, fmt: StreamFormat, gpu: int) -> None:
        nvc = pynvvideocodec()
        self._nvc = nvc
        self._path = path
        self._info = info
        self._yuv = YuvFormat.from_ffmpeg(fmt.colorspace, fmt.color_range)
        self._device = torch.device("cuda", gpu)
        self._cuda_stream = torch.cuda.Stream(device=self._device)
        try:
            codec = nvc.CreateDemuxer(filename=str(path)).GetNvCodecId()
            self._decoder = nvc.CreateDecoder(gpuid=gpu, codec=codec, cudacontext=0,
                                              cudastream=self._cuda_stream.cuda_stream, usedevicememory=True)
        except Exception as err:  # PyNvVideoCodec raises its own exception types and RuntimeError
            raise BackendError(f"{path}: NVDEC cannot start a decoder ({first_line(err)}); "
                               "decode with --decoder pyav") from err
        self._decode_error = getattr(nvc, "PyNvVCException", RuntimeError)
        self._container = open_container(path)
        self._stream = self._container.streams.video[0]
        self.corrupt_frames = 0

    def frames_between(self, start_pts: int | None, end_pts: int | None) -> Generator[NvdecFrame, None, None]:
        """The frames with `start_pts` <= pts < `end_pts` (None: open end), in presentation order."""
        return clip_to_chunk(self._frames_from(start_pts), start_pts, end_pts, self._count_corrupt)

    def close(self) -> None:
        self._container.close()
        self._decoder = None  # frees its NVDEC engine for the next session

    def _frames_from(self, start_pts: int | None) -> Iterator[NvdecFrame | None]:
        flushed = False
        try:
            for packet in annexb_packets(self._path, self._container, self._stream, start_pts):
                yield from self._decode(packet)
            flushed = True
            yield from self._decode(None)
        finally:
            if not flushed:  # the chunk ended early: empty the decoder for the next one
                self._decode(None)

    def _decode(self, packet: av.Packet | None) -> list[NvdecFrame | None]:
        """Feed one packet (None: end of stream, which flushes); the frames that came out."""
        data = self._nvc.PacketData()
        if packet is not None:
            payload = np.frombuffer(packet, dtype=np.uint8)  # alive until Decode returns
            data.bsl_data, data.bsl, data.pts = payload.ctypes.data, payload.size, packet.pts
        try:
            decoded = self._decoder.Decode(data)
        except self._decode_error:
            return [None]
        info = self._info
        size = (info.coded_width, info.coded_height)
        frames: list[NvdecFrame | None] = []
        with torch.cuda.stream(self._cuda_stream):
            for surface in decoded:
                pts = int(surface.getPTS())
                nv12 = torch.from_dlpack(surface).reshape(-1, info.coded_width).clone()
                seconds = pts_seconds(pts, info.start_pts, info.time_base)
                frames.append(NvdecFrame(-1, pts, seconds, nv12, size, self._yuv, info.rotation,
                                         (info.width, info.height)))
        self._cuda_stream.synchronize()  # frames go to other threads and streams from here
        return frames

    def _count_corrupt(self) -> None:
        self.corrupt_frames += 1

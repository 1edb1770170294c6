"""Encoder input on the device: NV12 (or RGB) frames → resized, normalised pixels, without the host.

What it computes is defined by what swscale computes for the CPU path (`Frame.to_rgb(S, S)`, then
`engine.preprocess.to_pixels`), the ideal that swscale's fixed-point code approximates:

1. Resampling in YUV, per plane, separably: a shrinking axis takes *area averages* (each output
   pixel is the mean of the source it covers, fractional pixels weighted by coverage; swscale's
   `AREA`); a growing axis is *bilinear* between pixel centres, clamped at the edges (what
   swscale's `AREA` does when enlarging). Chroma is resampled from its half-size grid straight to
   the output size, from where the stream sites it (left of its two luma columns unless tagged
   otherwise, as FFmpeg's H.264 and HEVC decoders report), so every output pixel has its own.
2. Y'CbCr → R'G'B' with the stream's matrix (BT.601, BT.709 or BT.2020) and range (limited or
   full), clipped to [0, 255] and rounded to 8 bits: the uint8 image the CPU path hands on.
3. `(x / 255 - mean) / std`, channels first, exactly as `to_pixels` computes it.

Measured against swscale (tests/test_gpu_preprocess.py): with flags `AREA | FULL_CHR_H_INT` the
result is within one 8-bit level (1/255 of the pixel range) everywhere, on shrinking and growing
sizes and every matrix. The engine's CPU path uses plain `AREA`, where swscale's packed-RGB writer
shares one chroma sample between two output pixels and its lookup tables truncate: about 1.5
levels darker on average and a few levels apart at sharp colour edges; the test measures that
difference too and bounds it.

Resampling is two matrix products per plane with weights made once per size (fp32: uint8 values
are exact and the weights sum to 1, so the error stays far under a level, TF32 included), then
colour conversion, rounding and normalisation, a few elementwise kernels on the small output.
Every step is plain PyTorch, so the same code runs on the CPU (where the tests check it) and on
CUDA (UNVERIFIED there until `benchmarks/device/gpu_session.sh` runs its CUDA tests).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

# Kr, Kb of each matrix; Kg = 1 - Kr - Kb.
_LUMA_WEIGHTS = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722), "bt2020": (0.2627, 0.0593),
                 "smpte240m": (0.212, 0.087), "fcc": (0.30, 0.11)}
# FFmpeg's AVColorSpace codes → matrix. Anything else (2 = unspecified among them) is BT.601,
# which is what swscale assumes for an untagged stream whatever its size.
_AV_COLORSPACES = {1: "bt709", 4: "fcc", 5: "bt601", 6: "bt601", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}
_AV_RANGE_FULL = 2  # AVCOL_RANGE_JPEG
# Where a 4:2:0 chroma sample sits, as the (horizontal, vertical) offset of the output's footprint
# on the chroma grid, in chroma pixels: a sample left of its two luma columns (MPEG-2, H.264 and
# HEVC's default) is a quarter chroma pixel to the left of the centre.
_CHROMA_OFFSETS = {"center": (0.0, 0.0), "left": (0.25, 0.0), "topleft": (0.25, 0.25), "top": (0.0, 0.25),
                   "bottomleft": (0.25, -0.25), "bottom": (0.0, -0.25)}
# FFmpeg's AVChromaLocation codes; 0 (unspecified) is read as the centre, as swscale does.
_AV_CHROMA_LOCATIONS = {1: "left", 2: "center", 3: "topleft", 4: "top", 5: "bottomleft", 6: "bottom"}


@dataclass(frozen=True)
class YuvFormat:
    """How a stream's Y'CbCr maps to R'G'B': the matrix, whether the range is full (0-255), and
    where the chroma samples sit. The defaults are an untagged H.264 or HEVC stream's, which is
    what FFmpeg's decoders report for one: BT.601, limited range, chroma left."""

    matrix: str = "bt601"
    full_range: bool = False
    chroma_location: str = "left"

    def __post_init__(self) -> None:
        if self.matrix not in _LUMA_WEIGHTS:
            raise ValueError(f"Invalid colour matrix {self.matrix!r}. Supported values are {', '.join(_LUMA_WEIGHTS)}.")
        if self.chroma_location not in _CHROMA_OFFSETS:
            raise ValueError(f"Invalid chroma location {self.chroma_location!r}. "
                             f"Supported values are {', '.join(_CHROMA_OFFSETS)}.")

    @classmethod
    def from_ffmpeg(cls, colorspace: int | None, color_range: int | None, chroma_location: int | None = 1) -> "YuvFormat":
        """From FFmpeg's tags (`AVFrame.colorspace`, `.color_range`, `.chroma_location`), read as
        swscale reads them. PyAV does not expose the chroma location; FFmpeg's H.264 and HEVC
        decoders report `left` (1) unless the stream says otherwise."""
        location = _AV_CHROMA_LOCATIONS.get(chroma_location or 0, "center")
        return cls(_AV_COLORSPACES.get(colorspace or 2, "bt601"), color_range == _AV_RANGE_FULL, location)

    @property
    def chroma_offset(self) -> tuple[float, float]:
        """(horizontal, vertical) shift of the output footprint on the chroma grid, chroma pixels."""
        return _CHROMA_OFFSETS[self.chroma_location]

    def affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """`A` [3, 3] and `c` [3] with R'G'B' = A @ (Y, Cb, Cr) + c, in 8-bit units."""
        kr, kb = _LUMA_WEIGHTS[self.matrix]
        kg = 1.0 - kr - kb
        rows = torch.tensor([
            [1.0, 0.0, 2 * (1 - kr)],
            [1.0, -2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg],
            [1.0, 2 * (1 - kb), 0.0],
        ], dtype=torch.float64)
        if self.full_range:
            luma_scale, chroma_scale, luma_zero = 1.0, 1.0, 0.0
        else:
            luma_scale, chroma_scale, luma_zero = 255 / 219, 255 / 224, 16.0
        matrix = rows * torch.tensor([luma_scale, chroma_scale, chroma_scale], dtype=torch.float64)
        offset = -(matrix @ torch.tensor([luma_zero, 128.0, 128.0], dtype=torch.float64))
        return matrix, offset


BT601_LIMITED = YuvFormat()


def resample_matrix(source: int, out: int, span: float | None = None, offset: float = 0.0) -> torch.Tensor:
    """Weights [out, source] (float64, rows summing to 1) that resample one axis as swscale's AREA.

    The output's `out` pixels cover `span` source pixels (default `source`; a chroma plane of an
    odd-sized frame covers half the luma size, a little less than its sample count), shifted by
    `offset` source pixels (chroma siting). Shrinking: output pixel i averages the source interval
    [i, i + 1) · span / out + offset by coverage. Growing: bilinear between pixel centres, clamped
    at the edges.
    """
    if source < 1 or out < 1:
        raise ValueError(f"sizes must be positive, got source {source} and out {out}")
    span = float(source if span is None else span)
    step = span / out
    positions = torch.arange(source, dtype=torch.float64)
    if out <= span:
        low = torch.arange(out, dtype=torch.float64) * step + offset
        high = low + step
        weights = (torch.minimum(high[:, None], positions[None, :] + 1) - torch.maximum(low[:, None], positions[None, :]))
    else:
        centres = ((torch.arange(out, dtype=torch.float64) + 0.5) * step - 0.5 + offset).clamp(0, source - 1)
        weights = 1 - (centres[:, None] - positions[None, :]).abs()
    weights = weights.clamp(min=0)
    return weights / weights.sum(dim=1, keepdim=True)


def nv12_to_levels(y: torch.Tensor, uv: torch.Tensor, yuv: YuvFormat, width: int, height: int) -> torch.Tensor:
    """NV12 planes → R'G'B' at `width` x `height`: float32 [B, 3, height, width] holding whole
    8-bit levels (0-255), the image swscale would hand on (steps 1 and 2 of the module's doc).

    `y` uint8 [B, H, W], interleaved chroma `uv` uint8 [B, H/2, W/2, 2] (ceil sizes for odd
    frames), stored orientation, on any device.
    """
    _check_planes(y, uv)
    source_h, source_w = y.shape[1:]
    luma = resample_planes(y.to(torch.float32), width, height)
    shift_w, shift_h = yuv.chroma_offset
    chroma = resample_planes(uv.permute(0, 3, 1, 2).to(torch.float32), width, height,
                             (source_w / 2, shift_w), (source_h / 2, shift_h))
    matrix, offset = _affine(yuv, y.device)
    rgb = torch.einsum("ij,bjhw->bihw", matrix, torch.cat([luma.unsqueeze(1), chroma], dim=1))
    return rgb.add_(offset.view(1, 3, 1, 1)).clamp_(0.0, 255.0).round_()


def resample_planes(planes: torch.Tensor, width: int, height: int, along_w: tuple[float, float] | None = None,
                    along_h: tuple[float, float] | None = None) -> torch.Tensor:
    """float `planes` [..., H, W] → [..., height, width] by `resample_matrix` along both axes;
    `along_*` is the (span, offset) of a chroma axis."""
    rows = _weights(planes.shape[-2], height, *(along_h or (None, 0.0)), planes.device)
    cols = _weights(planes.shape[-1], width, *(along_w or (None, 0.0)), planes.device)
    return rows @ planes @ cols.T


class DevicePreprocessor:
    """Frames on `device` → encoder pixels float [B, 3, size, size], normalised with mean/std."""

    def __init__(self, size: int, mean: Sequence[float], std: Sequence[float], device: str | torch.device = "cuda",
                 dtype: torch.dtype = torch.float32) -> None:
        self.size = int(size)
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.dtype = dtype
        std_t = torch.tensor(std, dtype=torch.float32, device=self.device)
        self._scale = (1.0 / (255.0 * std_t)).view(1, 3, 1, 1)
        self._shift = (torch.tensor(mean, dtype=torch.float32, device=self.device) / std_t).view(1, 3, 1, 1)

    def from_nv12(self, y: torch.Tensor, uv: torch.Tensor, yuv: YuvFormat = BT601_LIMITED,
                  rotation: int = 0) -> torch.Tensor:
        """`y` uint8 [B, H, W] and interleaved chroma `uv` uint8 [B, H/2, W/2, 2] (NVDEC's NV12
        planes, cropped to the picture) → pixels [B, 3, S, S]; `rotation` clockwise degrees."""
        return self._normalise(nv12_to_levels(y, uv, yuv, self.size, self.size), rotation)

    def from_rgb(self, rgb: torch.Tensor, rotation: int = 0) -> torch.Tensor:
        """uint8 RGB [B, H, W, 3] (a decoder's own colour conversion) → pixels [B, 3, S, S].

        Resampled in R'G'B' rather than Y'CbCr: the same numbers up to the rounding of the
        full-size RGB image and clipping, so within a level or two of `from_nv12`.
        """
        if not isinstance(rgb, torch.Tensor) or rgb.dtype != torch.uint8 or rgb.ndim != 4 or rgb.shape[3] != 3:
            raise ValueError(f"rgb must be a uint8 tensor [B, H, W, 3], got {_describe(rgb)}")
        planes = resample_planes(rgb.permute(0, 3, 1, 2).to(torch.float32), self.size, self.size)
        return self._normalise(planes.clamp_(0.0, 255.0).round_(), rotation)

    def _normalise(self, levels: torch.Tensor, rotation: int) -> torch.Tensor:
        """`(x / 255 - mean) / std` as `to_pixels` computes it, then the clockwise `rotation`."""
        if rotation % 90:
            raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
        pixels = levels * self._scale - self._shift
        if rotation % 360:
            pixels = torch.rot90(pixels, k=-(rotation // 90), dims=(2, 3))
        return pixels.to(self.dtype).contiguous()


# Made once per size / format and device: a copy to the GPU per frame would also wait for its queue.
@functools.lru_cache(maxsize=64)
def _weights(source: int, out: int, span: float | None, offset: float, device: torch.device) -> torch.Tensor:
    return resample_matrix(source, out, span, offset).to(device=device, dtype=torch.float32)


@functools.lru_cache(maxsize=16)
def _affine(yuv: YuvFormat, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return tuple(t.to(device=device, dtype=torch.float32) for t in yuv.affine())


def _check_planes(y: torch.Tensor, uv: torch.Tensor) -> None:
    for name, plane, ndim in (("y", y, 3), ("uv", uv, 4)):
        if not isinstance(plane, torch.Tensor) or plane.dtype != torch.uint8 or plane.ndim != ndim:
            layout = "[B, H, W]" if name == "y" else "[B, H/2, W/2, 2]"
            raise ValueError(f"{name} must be a uint8 tensor {layout}, got {_describe(plane)}")
    batch, height, width = y.shape
    fits = (uv.shape[0] == batch and uv.shape[3] == 2 and uv.shape[1] in (height // 2, (height + 1) // 2)
            and uv.shape[2] in (width // 2, (width + 1) // 2))
    if not fits or y.device != uv.device:
        raise ValueError(f"uv must have shape [{batch}, {height // 2}, {width // 2}, 2] (ceil sizes allowed) on "
                         f"{y.device} for y {list(y.shape)}, got {list(uv.shape)} on {uv.device}")


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} {list(value.shape)}"
    return type(value).__name__

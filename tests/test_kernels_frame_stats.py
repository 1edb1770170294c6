"""frame_stats_rgb / frame_stats_nv12: reference against the definition, Triton against it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from filmline import kernels
from filmline.kernels import FrameStats, reference





def random_rgb(batch: int, height: int, width: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, height, width, 3), dtype=torch.uint8, generator=generator)


def random_nv12(
    batch: int, height: int, width: int, seed: int, ceil_chroma: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 256, (batch, height, width), dtype=torch.uint8, generator=generator)
    hc, wc = ((height + 1) // 2, (width + 1) // 2) if ceil_chroma else (height // 2, width // 2)
    uv = torch.randint(0, 256, (batch, hc, wc, 2), dtype=torch.uint8, generator=generator)
    return y, uv


def brute_stats(
    luma: np.ndarray, channels: np.ndarray, thumb: tuple[int, int], bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Thumbnails and histograms by the definition: luma [B, H, W], channels [B, H, W, 3]."""
    batch, height, width = luma.shape
    th, tw = thumb
    thumbs = np.zeros((batch, th, tw))
    hist = np.zeros((batch, bins**3))
    for b in range(batch):
        for i in range(th):
            r0, r1 = (i * height) // th, -((-(i + 1) * height) // th)
            for j in range(tw):
                c0, c1 = (j * width) // tw, -((-(j + 1) * width) // tw)
                thumbs[b, i, j] = luma[b, r0:r1, c0:c1].mean()
        for r in range(height):
            for c in range(width):
                q = [int(v) * bins // 256 for v in channels[b, r, c]]
                hist[b, (q[0] * bins + q[1]) * bins + q[2]] += 1
    return thumbs, hist / (height * width)


@pytest.mark.parametrize(("height", "width", "thumb", "bins"), [(5, 7, (2, 3), 2), (6, 4, (6, 4), 3)])
def test_reference_rgb_matches_definition(
    height: int, width: int, thumb: tuple[int, int], bins: int
) -> None:
    frames = random_rgb(2, height, width, seed=height)
    prev = torch.rand(*thumb) * 255
    stats = reference.frame_stats_rgb(frames, prev, thumb, bins)
    rgb = frames.double().numpy()
    luma = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    thumbs, hist = brute_stats(luma, frames.numpy(), thumb, bins)
    np.testing.assert_allclose(stats.luma.numpy(), thumbs, atol=1e-4)
    np.testing.assert_allclose(stats.hist.numpy(), hist, atol=1e-7)
    diff = [np.abs(thumbs[0] - prev.numpy()).mean(), np.abs(thumbs[1] - thumbs[0]).mean()]
    np.testing.assert_allclose(stats.diff.numpy(), diff, atol=1e-4)


@pytest.mark.parametrize("ceil_chroma", [False, True])
def test_reference_nv12_matches_definition(ceil_chroma: bool) -> None:
    y, uv = random_nv12(2, 7, 9, seed=3, ceil_chroma=ceil_chroma)
    stats = reference.frame_stats_nv12(y, uv, None, (3, 4), 4)
    hc, wc = uv.shape[1], uv.shape[2]
    channels = np.zeros((2, 7, 9, 3), dtype=np.int64)
    for r in range(7):
        for c in range(9):
            channels[:, r, c, 0] = y[:, r, c].numpy()
            channels[:, r, c, 1:] = uv[:, min(r // 2, hc - 1), min(c // 2, wc - 1)].numpy()
    thumbs, hist = brute_stats(y.double().numpy(), channels, (3, 4), 4)
    np.testing.assert_allclose(stats.luma.numpy(), thumbs, atol=1e-4)
    np.testing.assert_allclose(stats.hist.numpy(), hist, atol=1e-7)
    assert stats.diff[0] == 0.0


def test_uniform_frame() -> None:
    frames = torch.empty(1, 10, 12, 3, dtype=torch.uint8)
    frames[..., 0], frames[..., 1], frames[..., 2] = 200, 100, 30
    stats = kernels.frame_stats_rgb(frames, thumb_size=(3, 5), bins_per_channel=4, impl="reference")
    torch.testing.assert_close(stats.luma, torch.full((1, 3, 5), 0.299 * 200 + 0.587 * 100 + 0.114 * 30))
    assert stats.hist[0, (3 * 4 + 1) * 4 + 0] == 1.0 and stats.hist.sum() == 1.0


def assert_stats_close(got: FrameStats, want: FrameStats) -> None:
    assert got.luma.shape == want.luma.shape and got.hist.shape == want.hist.shape
    torch.testing.assert_close(got.luma, want.luma, atol=1e-4, rtol=0)
    torch.testing.assert_close(got.hist, want.hist, atol=0, rtol=0)
    torch.testing.assert_close(got.diff, want.diff, atol=1e-4, rtol=0)


RESOLUTIONS = [
    (1, 9, 16, (9, 16), 4),  # thumbnail as large as the frame
    (2, 61, 45, (7, 13), 3),  # odd sizes, overlapping cells, bins not a power of two
    (3, 97, 131, (9, 16), 4),
    (1, 30, 50, (12, 20), 8),  # 512 bins
]


@pytest.mark.parametrize(("batch", "height", "width", "thumb", "bins"), RESOLUTIONS)
def test_triton_rgb_matches_reference(
    device: str, batch: int, height: int, width: int, thumb: tuple[int, int], bins: int
) -> None:
    frames = random_rgb(batch, height, width, seed=height * width).to(device)
    prev = torch.rand(*thumb, device=device) * 255 if batch > 1 else None
    kwargs = dict(thumb_size=thumb, bins_per_channel=bins)
    got = kernels.frame_stats_rgb(frames, prev, impl="triton", **kwargs)
    assert_stats_close(got, kernels.frame_stats_rgb(frames, prev, impl="reference", **kwargs))


@pytest.mark.parametrize(("batch", "height", "width", "thumb", "bins"), RESOLUTIONS)
def test_triton_nv12_matches_reference(
    device: str, batch: int, height: int, width: int, thumb: tuple[int, int], bins: int
) -> None:
    y, uv = random_nv12(batch, height, width, seed=height + width, ceil_chroma=height % 2 == 1)
    y, uv = y.to(device), uv.to(device)
    prev = torch.rand(*thumb, device=device) * 255 if batch > 1 else None
    kwargs = dict(thumb_size=thumb, bins_per_channel=bins)
    got = kernels.frame_stats_nv12(y, uv, prev, impl="triton", **kwargs)
    assert_stats_close(got, kernels.frame_stats_nv12(y, uv, prev, impl="reference", **kwargs))


def test_triton_default_options(device: str) -> None:
    frames = random_rgb(1, 40, 70, seed=12).to(device)
    assert_stats_close(
        kernels.frame_stats_rgb(frames, impl="triton"),
        kernels.frame_stats_rgb(frames, impl="reference"),
    )


def test_triton_non_contiguous(device: str) -> None:
    planar = torch.randint(0, 256, (2, 3, 50, 41), dtype=torch.uint8)
    frames = planar.permute(0, 2, 3, 1)[:, 3:44, 2:39].to(device)  # channel-planar, cropped
    y, uv = random_nv12(2, 60, 80, seed=6)
    y, uv = y[:, 4:47, 6:71].to(device), uv[:, 2:23, 3:35].to(device)
    assert not frames.is_contiguous() and not y.is_contiguous() and not uv.is_contiguous()
    kwargs = dict(thumb_size=(5, 8), bins_per_channel=4)
    assert_stats_close(
        kernels.frame_stats_rgb(frames, impl="triton", **kwargs),
        kernels.frame_stats_rgb(frames, impl="reference", **kwargs),
    )
    assert_stats_close(
        kernels.frame_stats_nv12(y, uv, impl="triton", **kwargs),
        kernels.frame_stats_nv12(y, uv, impl="reference", **kwargs),
    )


@pytest.mark.parametrize("impl", ["triton", "reference"])
def test_batches_continue_across_calls(device: str, impl: str) -> None:
    """Stats of a batch split in two, chained by prev_luma, equal those of the whole batch."""
    frames = random_rgb(4, 23, 37, seed=8).to(device)
    y, uv = random_nv12(4, 23, 37, seed=9)
    y, uv = y.to(device), uv.to(device)
    kwargs = dict(thumb_size=(4, 6), impl=impl)
    for run in (
        lambda s, prev: kernels.frame_stats_rgb(frames[s], prev, **kwargs),
        lambda s, prev: kernels.frame_stats_nv12(y[s], uv[s], prev, **kwargs),
    ):
        whole = run(slice(0, 4), None)
        first = run(slice(0, 3), None)
        second = run(slice(3, 4), first.luma[-1])
        torch.testing.assert_close(torch.cat([first.luma, second.luma]), whole.luma)
        torch.testing.assert_close(torch.cat([first.hist, second.hist]), whole.hist)
        torch.testing.assert_close(torch.cat([first.diff, second.diff]), whole.diff)
        assert whole.diff[0] == 0.0 and (whole.diff[1:] > 0).all()


def test_empty_batch(device: str) -> None:
    for impl in ("triton", "reference"):
        stats = kernels.frame_stats_rgb(
            torch.zeros(0, 20, 30, 3, dtype=torch.uint8, device=device), thumb_size=(4, 5), impl=impl
        )
        assert stats.luma.shape == (0, 4, 5) and stats.hist.shape == (0, 64) and stats.diff.shape == (0,)


def test_repr_shows_shapes() -> None:
    stats = kernels.frame_stats_rgb(random_rgb(2, 8, 8, seed=1), thumb_size=(2, 2), impl="reference")
    assert "luma=(2, 2, 2)" in repr(stats) and "hist=(2, 64)" in repr(stats)

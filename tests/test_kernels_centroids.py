"""shot_centroids: the reference against the definition, Triton against the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from filmline import kernels
from filmline.kernels import reference

DTYPES = [torch.float32, torch.float16, torch.bfloat16]




def brute_centroids(x: torch.Tensor, offsets: list[int]) -> tuple[np.ndarray, list[int]]:
    """The definition, shot by shot and row by row in float64."""
    rows = x.double().numpy()
    centroids, keys = [], []
    for lo, hi in zip(offsets[:-1], offsets[1:]):
        if lo == hi:
            centroids.append(np.zeros(rows.shape[1]))
            keys.append(-1)
            continue
        units = [r / max(np.linalg.norm(r), 1e-12) for r in rows[lo:hi]]
        centroid = np.mean(units, axis=0)
        scale = max(np.linalg.norm(centroid), 1e-12)
        cosines = [u @ centroid / scale for u in units]
        centroids.append(centroid)
        tied = [i for i, c in enumerate(cosines) if c >= max(cosines) - reference.KEY_TIE_TOL]
        keys.append(lo + tied[0])
    return np.array(centroids).reshape(len(keys), rows.shape[1]), keys


def random_offsets(n: int, n_shots: int, generator: torch.Generator) -> torch.Tensor:
    """Sorted cut points in [0, n], with repeats (empty shots) likely."""
    cuts = torch.randint(0, n + 1, (n_shots + 1,), generator=generator)
    return torch.sort(cuts).values


@pytest.mark.parametrize("seed", range(4))
def test_reference_matches_definition(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(13, 5, generator=generator)
    x[4] = 0.0
    x[9] = x[7]  # a tie when both are in one shot
    offsets = random_offsets(13, 6, generator)
    centroids, keys = reference.shot_centroids(x, offsets)
    want_c, want_k = brute_centroids(x, offsets.tolist())
    np.testing.assert_allclose(centroids.numpy(), want_c, atol=1e-6)
    assert keys.tolist() == want_k


def test_two_row_shot_is_a_tie_resolved_to_the_first_row(device: str) -> None:
    """Both rows of a two-row shot are equally close to its mean: the first must win."""
    torch.manual_seed(8)
    x = torch.randn(64, 200, device=device)
    offsets = torch.arange(0, 65, 2)
    for impl in ("triton", "reference"):
        assert kernels.shot_centroids(x, offsets, impl=impl)[1].tolist() == list(range(0, 64, 2))


def test_reference_ties_empty_and_zero_shots() -> None:
    x = torch.zeros(8, 4)
    x[1] = x[3] = torch.tensor([1.0, 2.0, 0.0, 0.0])
    x[2] = torch.tensor([0.0, 0.0, 1.0, 0.0])
    offsets = torch.tensor([1, 4, 4, 6, 8])  # rows before 1 belong to no shot
    centroids, keys = reference.shot_centroids(x, offsets)
    assert keys.tolist() == [1, -1, 4, 6]  # tie -> lowest; empty -> -1; all-zero -> first row
    assert (centroids[1] == 0).all() and (centroids[3] == 0).all()
    assert not centroids.isnan().any()


@pytest.mark.parametrize(
    ("n", "dim", "n_shots"),
    [(1, 16, 1), (1, 16, 3), (37, 100, 5), (300, 64, 12), (90, 512, 4), (61, 768, 7), (40, 1152, 3)],
)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_triton_matches_reference(
    device: str, n: int, dim: int, n_shots: int, dtype: torch.dtype
) -> None:
    generator = torch.Generator().manual_seed(n * dim + n_shots)
    x = torch.randn(n, dim, generator=generator).to(device=device, dtype=dtype)
    offsets = random_offsets(n, n_shots, generator)
    offsets[-1] = n
    got_c, got_k = kernels.shot_centroids(x, offsets, impl="triton")
    want_c, want_k = kernels.shot_centroids(x, offsets, impl="reference")
    assert got_c.shape == (n_shots, dim) and got_c.dtype == torch.float32
    assert got_k.dtype == torch.int64
    torch.testing.assert_close(got_c, want_c, atol=2e-6, rtol=0)
    assert torch.equal(got_k, want_k)


def test_triton_one_long_shot(device: str) -> None:
    """A shot longer than one row block, and shots that leave rows out at both ends."""
    torch.manual_seed(5)
    x = torch.randn(200, 96, device=device)
    offsets = torch.tensor([3, 180, 181, 197])
    got = kernels.shot_centroids(x, offsets, impl="triton")
    want = kernels.shot_centroids(x, offsets, impl="reference")
    torch.testing.assert_close(got[0], want[0], atol=2e-6, rtol=0)
    assert torch.equal(got[1], want[1])


@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_triton_non_contiguous(device: str, layout: str) -> None:
    torch.manual_seed(11)
    if layout == "transposed":
        x = torch.randn(64, 50, device=device, dtype=torch.bfloat16).T
    else:
        x = torch.randn(100, 192, device=device)[::2, ::3]
    offsets = torch.tensor([0, 10, 10, 33, 50], dtype=torch.int32)
    got = kernels.shot_centroids(x, offsets, impl="triton")
    want = reference.shot_centroids(x, offsets.to(device=device, dtype=torch.int64))
    torch.testing.assert_close(got[0], want[0], atol=2e-6, rtol=0)
    assert torch.equal(got[1], want[1])


def test_triton_ties_and_zero_rows(device: str) -> None:
    torch.manual_seed(2)
    x = torch.randn(30, 40, device=device)
    offsets = torch.tensor([0, 10, 21, 21, 25, 30])
    # Shot 1: noisy copies of one direction, and three equal rows of the noise-free mean,
    # which are nearest to the centroid: a three-way tie.
    x[10:21] = x[10] + 0.3 * torch.randn(11, 40, device=device)
    x[12] = x[15] = x[20] = x[10:21].mean(dim=0)
    x[21:25] = 0.0  # shot 3 is all zeros
    for impl in ("triton", "reference"):
        centroids, keys = kernels.shot_centroids(x, offsets, impl=impl)
        assert keys[1] == 12 and keys[2] == -1 and keys[3] == 21
        assert not centroids.isnan().any() and (centroids[2:4] == 0).all()


@pytest.mark.parametrize("offsets", [[], [0], [7]])
def test_no_shots(device: str, offsets: list[int]) -> None:
    x = torch.randn(9, 24, device=device)
    for impl in ("triton", "reference"):
        centroids, keys = kernels.shot_centroids(x, torch.tensor(offsets, dtype=torch.int64), impl=impl)
        assert centroids.shape == (0, 24) and keys.shape == (0,)
        assert centroids.dtype == torch.float32 and keys.dtype == torch.int64


def test_only_empty_shots(device: str) -> None:
    x = torch.randn(5, 16, device=device)
    for impl in ("triton", "reference"):
        centroids, keys = kernels.shot_centroids(x, torch.tensor([2, 2, 2]), impl=impl)
        assert keys.tolist() == [-1, -1] and (centroids == 0).all()

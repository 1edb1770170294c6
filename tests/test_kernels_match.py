"""match_runs: the reference against the definition, Triton against the reference, planted runs."""

from __future__ import annotations

import pytest
import torch

from filmline import kernels
from filmline.kernels import reference

DTYPES = [torch.float32, torch.float16, torch.bfloat16]




def brute_runs(a: torch.Tensor, b: torch.Tensor, threshold: float) -> tuple[list[int], list[int]]:
    """The definition: walk every diagonal pair by pair."""
    hits = (reference.unit_rows(a) @ reference.unit_rows(b).T >= threshold).tolist()
    n, m = a.shape[0], b.shape[0]
    lengths, starts = [], []
    for d in range(-(n - 1), m):
        best, best_start, run = 0, -1, 0
        for i in range(n):
            if 0 <= i + d < m and hits[i][i + d]:
                run += 1
                if run > best:
                    best, best_start = run, i - run + 1
            else:
                run = 0
        lengths.append(best)
        starts.append(best_start)
    return lengths, starts


def repetitive(n: int, m: int, dim: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Rows drawn from a small vocabulary, so matches and runs of several pairs are common."""
    vocab = torch.randn(5, dim, generator=generator)
    a = vocab[torch.randint(0, 5, (n,), generator=generator)]
    b = vocab[torch.randint(0, 5, (m,), generator=generator)]
    return a + 0.3 * torch.randn(n, dim, generator=generator), b


@pytest.mark.parametrize(("n", "m"), [(1, 1), (1, 6), (6, 1), (9, 14), (17, 8)])
@pytest.mark.parametrize("threshold", [-0.2, 0.5, 0.95])
def test_reference_matches_definition(n: int, m: int, threshold: float) -> None:
    generator = torch.Generator().manual_seed(n * 31 + m)
    a, b = repetitive(n, m, 6, generator)
    lengths, starts = reference.match_runs(a, b, threshold)
    assert (lengths.tolist(), starts.tolist()) == brute_runs(a, b, threshold)


def test_reference_chunks_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the cosine matrix a few rows at a time changes nothing."""
    generator = torch.Generator().manual_seed(4)
    a, b = repetitive(23, 19, 8, generator)
    whole = reference.match_runs(a, b, 0.6)
    monkeypatch.setattr(reference, "_MATCH_CHUNK_ELEMENTS", 19 * 3)
    chunked = reference.match_runs(a, b, 0.6)
    assert all(torch.equal(x, y) for x, y in zip(whole, chunked))


@pytest.mark.parametrize(
    ("n", "m", "dim"),
    [
        (1, 1, 16),
        (1, 7, 16),
        (7, 1, 16),
        (37, 100, 16),
        (130, 70, 64),
        (20, 30, 512),
        (25, 18, 768),
        (9, 21, 1152),
    ],
)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_triton_matches_reference(device: str, n: int, m: int, dim: int, dtype: torch.dtype) -> None:
    generator = torch.Generator().manual_seed(n + m + dim)
    a, b = repetitive(n, m, dim, generator)
    a, b = a.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype)
    got = kernels.match_runs(a, b, 0.8, impl="triton")
    want = kernels.match_runs(a, b, 0.8, impl="reference")
    assert got[0].shape == (n + m - 1,) and got[0].dtype == torch.int64
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_triton_non_contiguous_and_mixed_dtypes(device: str) -> None:
    generator = torch.Generator().manual_seed(9)
    a, b = repetitive(40, 90, 48, generator)
    a = a.to(device).T.contiguous().T  # column-major
    b = torch.cat([b, b], dim=1).to(device=device, dtype=torch.float16)[:, ::2]
    assert not a.is_contiguous() and not b.is_contiguous()
    got = kernels.match_runs(a, b, 0.7, impl="triton")
    want = reference.match_runs(a, b, 0.7)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


@pytest.mark.parametrize("impl", ["triton", "reference"])
def test_planted_runs_are_found(device: str, impl: str) -> None:
    """Copies of a's passages in b show up as runs of exactly their length, at their offset.

    The long run crosses several row tiles of the Triton kernel; two equal runs on one
    diagonal check that the earliest wins.
    """
    torch.manual_seed(21)
    a = torch.randn(260, 32, device=device)
    b = torch.randn(300, 32, device=device)
    b[40:190] = a[10:160]  # run of 150 on diagonal d = 30
    b[0:5] = a[255:260]  # run of 5 starting at the last rows of a: d = -255
    b[250:257] = a[100:107]  # two runs of 7 on diagonal d = 150
    b[290:297] = a[140:147]
    lengths, starts = kernels.match_runs(a, b, 0.8, impl=impl)
    n = a.shape[0]
    assert (lengths[30 + n - 1].item(), starts[30 + n - 1].item()) == (150, 10)
    assert (lengths[-255 + n - 1].item(), starts[-255 + n - 1].item()) == (5, 255)
    assert (lengths[150 + n - 1].item(), starts[150 + n - 1].item()) == (7, 100)
    planted = torch.zeros_like(lengths, dtype=torch.bool)
    planted[[30 + n - 1, -255 + n - 1, 150 + n - 1]] = True
    assert (lengths[~planted] <= 1).all()  # random 32-d vectors almost never reach 0.8
    assert ((starts == -1) == (lengths == 0)).all()


def test_zero_vectors_and_threshold_zero(device: str) -> None:
    torch.manual_seed(1)
    a = torch.randn(30, 16, device=device)
    b = torch.randn(20, 16, device=device)
    a[5:12] = 0.0
    b[:] = 0.0
    for threshold in (0.0, 0.01):
        got = kernels.match_runs(a, b, threshold, impl="triton")
        want = kernels.match_runs(a, b, threshold, impl="reference")
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    # cos with a zero vector is 0: every pair matches at threshold 0, none above it.
    assert got[0].max() == 0 and (got[1] == -1).all()
    full = kernels.match_runs(a, b, 0.0, impl="triton")[0]
    assert full[a.shape[0] - 1] == min(a.shape[0], b.shape[0])


@pytest.mark.parametrize(("n", "m"), [(0, 0), (0, 5), (4, 0)])
def test_empty_inputs(device: str, n: int, m: int) -> None:
    a, b = torch.randn(n, 8, device=device), torch.randn(m, 8, device=device)
    for impl in ("triton", "reference"):
        lengths, starts = kernels.match_runs(a, b, 0.5, impl=impl)
        assert lengths.shape == (0,) and starts.shape == (0,) and starts.dtype == torch.int64

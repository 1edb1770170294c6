"""adjacent_similarity: the reference against the definition, Triton against the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from filmline import kernels
from filmline.kernels import reference

DTYPES = [torch.float32, torch.float16, torch.bfloat16]




def brute_adjacent(x: torch.Tensor, max_lag: int) -> np.ndarray:
    """The definition, one pair at a time in float64."""
    rows = x.double().numpy()
    n = rows.shape[0]
    out = np.zeros((max_lag, n))
    for k in range(1, max_lag + 1):
        for i in range(n - k):
            a, b = rows[i], rows[i + k]
            denom = max(np.linalg.norm(a), 1e-12) * max(np.linalg.norm(b), 1e-12)
            out[k - 1, i] = a @ b / denom
    return out


@pytest.mark.parametrize(("n", "dim", "max_lag"), [(0, 4, 2), (1, 4, 1), (2, 3, 3), (9, 5, 4)])
def test_reference_matches_definition(n: int, dim: int, max_lag: int) -> None:
    torch.manual_seed(n * 7 + dim)
    x = torch.randn(n, dim)
    if n > 3:
        x[3] = 0.0
    out = reference.adjacent_similarity(x, max_lag)
    assert out.shape == (max_lag, n) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), brute_adjacent(x, max_lag), atol=1e-6)


@pytest.mark.parametrize(
    ("n", "dim", "max_lag"),
    [(1, 16, 1), (2, 33, 3), (77, 512, 2), (45, 768, 8), (19, 1152, 4), (300, 64, 5)],
)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_triton_matches_reference(
    device: str, n: int, dim: int, max_lag: int, dtype: torch.dtype
) -> None:
    torch.manual_seed(n + dim + max_lag)
    x = torch.randn(n, dim, device=device).to(dtype)
    got = kernels.adjacent_similarity(x, max_lag, impl="triton")
    want = kernels.adjacent_similarity(x, max_lag, impl="reference")
    assert got.shape == (max_lag, n) and got.dtype == torch.float32
    torch.testing.assert_close(got, want, atol=2e-6, rtol=0)


@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_triton_non_contiguous(device: str, layout: str) -> None:
    torch.manual_seed(3)
    if layout == "transposed":
        x = torch.randn(96, 70, device=device, dtype=torch.float16).T  # [70, 96], stride (1, 70)
    else:
        x = torch.randn(140, 300, device=device)[::2, ::3]  # [70, 100]
    assert not x.is_contiguous()
    got = kernels.adjacent_similarity(x, 3, impl="triton")
    torch.testing.assert_close(got, reference.adjacent_similarity(x, 3), atol=2e-6, rtol=0)


def test_zero_vectors_give_zero_not_nan(device: str) -> None:
    x = torch.randn(40, 48, device=device)
    x[[0, 5, 6, 39]] = 0.0
    for impl in ("triton", "reference"):
        out = kernels.adjacent_similarity(x, 2, impl=impl)
        assert not out.isnan().any()
        assert (out[0, [4, 5, 6, 38]] == 0).all() and (out[1, [3, 4, 5, 37]] == 0).all()


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_sequences(device: str, n: int) -> None:
    x = torch.randn(n, 8, device=device)
    for impl in ("triton", "reference"):
        out = kernels.adjacent_similarity(x, 3, impl=impl)
        assert out.shape == (3, n) and (out == 0).all()


def test_identical_rows_have_cosine_one() -> None:
    x = torch.randn(1, 32).repeat(5, 1) * torch.arange(1.0, 6.0)[:, None]
    out = kernels.adjacent_similarity(x, 2, impl="reference")
    torch.testing.assert_close(out[0, :4], torch.ones(4))
    torch.testing.assert_close(out[1, :3], torch.ones(3))

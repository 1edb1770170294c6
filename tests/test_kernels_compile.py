"""Every Triton kernel compiles for a real GPU (sm_90), without spilling registers.

The interpreter tests check what the kernels compute but not that Triton's compiler accepts them
(layouts, gather, histogram lowering). Triton compiles ahead of time without a GPU, so this runs
in CPU-only CI too. It runs in a subprocess because kernels must be defined with the
interpreter off. Launch parameters mirror the wrappers' own constants (contiguous rows,
16-byte-aligned pointers, as the JIT would specialise them).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("triton") is None, reason="Triton is not installed"
)


def compile_all() -> None:
    """Compiles one launch configuration of each kernel; prints one line of resource use each."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from filmline.kernels import triton_centroids as tc
    from filmline.kernels import triton_frame_stats as tf
    from filmline.kernels import triton_match as tm
    from filmline.kernels import triton_similarity as ts

    cuobjdump = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"

    def build(fn, types: dict, constexprs: dict, num_warps: int) -> None:
        names = fn.arg_names
        signature = {n: "constexpr" if n in constexprs else types.get(n, "i32") for n in names}
        aligned = [
            n
            for n in names
            if signature[n].startswith("*") or (signature[n] == "i32" and (n == "D" or "stride" in n))
        ]
        source = ASTSource(
            fn=fn,
            signature=signature,
            constexprs={(names.index(k),): v for k, v in constexprs.items()},
            attrs={(names.index(n),): [["tt.divisibility", 16]] for n in aligned},
        )
        options = {"num_warps": num_warps}
        kernel = triton.compile(source, target=GPUTarget("cuda", 90, 32), options=options)
        usage = "no cuobjdump"
        if cuobjdump.exists():
            cubin = Path(os.environ["KERNEL_TMP"]) / f"{fn.__name__}.cubin"
            cubin.write_bytes(kernel.asm["cubin"])
            dump = subprocess.run(
                [str(cuobjdump), "--dump-resource-usage", str(cubin)],
                capture_output=True,
                text=True,
            ).stdout
            usage = next(line.strip() for line in dump.splitlines() if "REG:" in line)
        print(f"{fn.__name__}: {usage}", flush=True)

    fp = {"eps": "fp32", "tie_tol": "fp32", "threshold": "fp32"}
    build(
        ts._adjacent_cos_kernel,
        {"x_ptr": "*bf16", "out_ptr": "*fp32", **fp},
        {"stride_d": 1, "MAX_LAG": 8, "LAG_P2": 8, "BLOCK_N": ts._BLOCK_N_MORE_LAGS,
         "BLOCK_D": ts._BLOCK_D},
        ts._NUM_WARPS,
    )
    build(
        tc._shot_centroid_kernel,
        {"x_ptr": "*fp16", "offsets_ptr": "*i64", "centroid_ptr": "*fp32", "key_ptr": "*i64", **fp},
        {"stride_d": 1, "BLOCK_R": 4, "BLOCK_D": 2048},
        tc._NUM_WARPS,
    )
    build(
        tm._row_inv_norm_kernel,
        {"x_ptr": "*fp16", "out_ptr": "*fp32", **fp},
        {"stride_d": 1, "BLOCK_N": tm._NORM_BLOCK_N, "BLOCK_D": tm._NORM_BLOCK_D},
        4,
    )
    for dtype, dot_fp32 in (("*fp16", False), ("*fp32", True)):
        build(
            tm._match_runs_kernel,
            {"a_ptr": dtype, "b_ptr": dtype, "inv_a_ptr": "*fp32", "inv_b_ptr": "*fp32",
             "length_ptr": "*i64", "start_ptr": "*i64", **fp},
            {"stride_ad": 1, "stride_bd": 1, "DOT_FP32": dot_fp32, "BLOCK_T": tm._BLOCK_T,
             "BLOCK_DIAG": tm._BLOCK_DIAG, "BLOCK_K": tm._BLOCK_K,
             "LOG_T": tm._BLOCK_T.bit_length() - 1},
            tm._NUM_WARPS,
        )
    for nv12 in (False, True):
        build(
            tf._frame_stats_kernel,
            {"px_ptr": "*u8", "uv_ptr": "*u8", "luma_ptr": "*fp32", "count_ptr": "*i32"},
            {"KR": 0.299, "KG": 0.587, "KB": 0.114, "NV12": nv12, "BINS": 8, "NB_P2": 512,
             "CELLS": tf._MAX_CELLS, "BLOCK_R": tf._MAX_BLOCK_R, "BLOCK_W": tf._MAX_BLOCK_W},
            tf._NUM_WARPS,
        )


def test_kernels_compile_for_sm90_without_spills(tmp_path: Path) -> None:
    pytest.importorskip("triton.backends.nvidia")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "TRITON_INTERPRET": "0", "KERNEL_TMP": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "from tests.test_kernels_compile import compile_all; compile_all()"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 7
    assert not [line for line in lines if "STACK:" in line and "STACK:0 " not in line], lines

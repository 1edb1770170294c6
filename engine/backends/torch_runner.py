"""PyTorch: a model's original weights as a module (the model layer's `load_torch` loads them).

The fallback that needs no build, and the reference the others are checked against: fp32 on the
CPU. On CUDA it is the fast path where TensorRT is absent: fp16 (or bf16) weights, PyTorch's fused
attention (SDPA) for a Hugging Face encoder, and one CUDA graph per batch size (where the model's
entry allows it). A graph is captured the first time its size is needed; a batch is padded up to
the smallest captured size that holds it (larger ones run in chunks of the largest), so a replay
launches the whole model at once instead of several hundred kernels one by one. fp16 and bf16 keep every embedding's cosine to the fp32 one above 0.999
(tests/test_torch_runner_precision.py).

A runner is not thread-safe: the graphs share their input buffers and memory pool. Callers that
encode from several threads serialise on the runner (`engine.encoder_queue` does).
"""

from __future__ import annotations

import numpy as np
import torch

from filmline.engine.backends.base import ModelInput, Pixels, Runner

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
GRAPH_BATCHES = (1, 8, 32, 64, 128, 256)  # captured on first use; a batch pads up to the next one
_GRAPH_WARMUP = 3  # eager runs on a side stream before capture (cuBLAS handles, autotuning)


class TorchRunner(Runner):
    """Runs `module` (float [B, *item_shape] → float [B, ...]) on `device` (default: CUDA when
    available, else the CPU).

    `precision` fp32 | fp16 | bf16 (default fp16 on CUDA, fp32 on the CPU); `cuda_graphs`
    (default on for CUDA; CUDA only) replays a captured graph per size in `graph_batches`.
    """

    name = "torch"

    def __init__(
        self,
        module: torch.nn.Module,
        info: ModelInput,
        device: str | None = None,
        *,
        precision: str | None = None,
        cuda_graphs: bool | None = None,
        graph_batches: tuple[int, ...] = GRAPH_BATCHES,
    ) -> None:
        super().__init__(info)
        self._device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        on_cuda = self._device.type == "cuda"
        precision = precision or ("fp16" if on_cuda else "fp32")
        if precision not in PRECISIONS:
            raise ValueError(f"Invalid precision {precision!r}. Supported values are {', '.join(PRECISIONS)}.")
        if cuda_graphs and not on_cuda:
            raise ValueError(f"cuda_graphs needs a CUDA device; this runner is on {self._device}")
        self._dtype = PRECISIONS[precision]
        inner = getattr(module, "model", None)
        if on_cuda and hasattr(inner, "set_attn_implementation"):
            inner.set_attn_implementation("sdpa")  # loaded eager for export; fused kernels here
        self._module = module.to(self._device, self._dtype).eval()
        self.device = self._device.type
        self.precision = precision
        self.cuda_graphs = on_cuda if cuda_graphs is None else cuda_graphs
        self._graph_batches = tuple(sorted(graph_batches))
        self._graphs: dict[int, _CapturedBatch] = {}
        self._pool = torch.cuda.graph_pool_handle() if self.cuda_graphs else None

    def run(self, pixels: Pixels) -> Pixels:
        self._check_shape(pixels)
        on_host = isinstance(pixels, np.ndarray)
        tensor = torch.from_numpy(np.asarray(pixels, dtype=np.float32)) if on_host else pixels
        tensor = tensor.to(self._device, self._dtype, non_blocking=True)
        with torch.inference_mode():
            if self.cuda_graphs:
                embeddings = torch.cat([self._replay(part) for part in tensor.split(self._graph_batches[-1])])
            else:
                embeddings = self._module(tensor).float()
        return embeddings.cpu().numpy() if on_host else embeddings

    def _replay(self, part: torch.Tensor) -> torch.Tensor:
        size = next(b for b in self._graph_batches if b >= len(part))
        if size not in self._graphs:
            self._graphs[size] = _CapturedBatch(self._module, size, part.shape[1:], self._dtype, self._device, self._pool)
        return self._graphs[size].run(part)


class _CapturedBatch:
    """One CUDA graph of the encoder at a fixed batch size, with its static input and output."""

    def __init__(self, encoder: torch.nn.Module, batch: int, shape: torch.Size, dtype: torch.dtype, device: torch.device,
                 pool: object) -> None:
        self.batch = batch
        self.input = torch.zeros((batch, *shape), dtype=dtype, device=device)
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(_GRAPH_WARMUP):
                encoder(self.input)
        torch.cuda.current_stream(device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        # thread_local: other threads (decoding, the cheap pass) may use CUDA while this captures.
        with torch.cuda.graph(self.graph, pool=pool, capture_error_mode="thread_local"):
            self.output = encoder(self.input)

    def run(self, part: torch.Tensor) -> torch.Tensor:
        count = len(part)
        self.input[:count].copy_(part)
        if count < self.batch:
            self.input[count:].zero_()
        self.graph.replay()
        # A copy: the next replay (of any size: they share a pool) overwrites the output buffer.
        return self.output[:count].to(torch.float32, copy=True)

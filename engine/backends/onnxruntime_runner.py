"""ONNX Runtime: the exported graph on the CUDA provider when present, else on the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from filmline.engine.backends.base import ModelInput, Pixels, Runner
from filmline.engine.cpus import usable_cpus
from filmline.engine.errors import BackendError

_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


class OnnxRuntimeRunner(Runner):
    """Runs `model.onnx`. Torch input is copied through the host (the runtime owns its memory)."""

    name = "onnxruntime"

    def __init__(self, onnx_path: Path, info: ModelInput) -> None:
        super().__init__(info)
        providers = ["CPUExecutionProvider"]
        if "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self._session = ort.InferenceSession(
                str(onnx_path), sess_options=session_options(), providers=providers
            )
        except Exception as err:  # onnxruntime raises its own pybind types for every failure
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise BackendError(
                f"ONNX Runtime cannot load {onnx_path} ({first}): rebuild with "
                f"`engine-build --model {info.model} --force`"
            ) from err
        on_cuda = self._session.get_providers()[0] == "CUDAExecutionProvider"
        self.device = "cuda" if on_cuda else "cpu"
        graph_input, graph_output = self._session.get_inputs()[0], self._session.get_outputs()[0]
        self._input, self._output = graph_input.name, graph_output.name
        self._dtype = _NUMPY_TYPES.get(graph_input.type, np.float32)
        self.precision = "fp16" if self._dtype == np.float16 else "fp32"

    def run(self, pixels: Pixels) -> Pixels:
        self._check_shape(pixels)
        on_host = isinstance(pixels, np.ndarray)
        array = pixels if on_host else pixels.detach().cpu().numpy()
        feed = np.ascontiguousarray(array, dtype=self._dtype)
        output = self._session.run([self._output], {self._input: feed})[0]
        embeddings = output.astype(np.float32, copy=False)
        if on_host:
            return embeddings
        import torch

        return torch.from_numpy(embeddings).to(pixels.device)


def session_options() -> ort.SessionOptions:
    """All graph optimisations; intra-op threads = the cores this process should use (ORT's
    default counts the machine's cores, which oversubscribes containers, pinned processes and
    Ray actors)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = usable_cpus()
    options.inter_op_num_threads = 1
    return options


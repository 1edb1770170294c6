"""TensorRT: a serialized engine run on the current torch CUDA stream.

Imported only where `import tensorrt` works (the factory guards the import). Written against the
documented TensorRT 10 API (docs/NVIDIA.md: deserialize, set_input_shape, set_tensor_address with
torch tensors, execute_async_v3 on torch's stream); UNVERIFIED: TensorRT cannot be installed on
any machine this project is tested on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorrt as trt
import torch

from filmline.engine.backends.base import ModelInput, Pixels, Runner
from filmline.engine.errors import BackendError

_TORCH_TYPES = {trt.float32: torch.float32, trt.float16: torch.float16}


class TensorRTRunner(Runner):
    """Runs `model.plan`; batches beyond the engine's profile maximum are run in chunks."""

    name = "tensorrt"
    device = "cuda"

    def __init__(self, engine_path: Path, info: ModelInput, precision: str) -> None:
        super().__init__(info)
        if not torch.cuda.is_available():
            raise BackendError("TensorRT needs a CUDA device and none is visible: use onnxruntime")
        self.precision = precision
        self._device = torch.device("cuda", torch.cuda.current_device())
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)  # must outlive the engine
        self._engine = self._runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self._engine is None:
            raise BackendError(
                f"TensorRT {trt.__version__} cannot load {engine_path} (built by another TensorRT "
                f"version or for another GPU): run `engine-build --model {info.model} --force`"
            )
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        modes = {name: self._engine.get_tensor_mode(name) for name in names}
        inputs = [name for name in names if modes[name] == trt.TensorIOMode.INPUT]
        outputs = [name for name in names if modes[name] == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise BackendError(
                f"{engine_path} has inputs {inputs} and outputs {outputs}, expected one of each: "
                f"run `engine-build --model {info.model} --force`"
            )
        self._input, self._output = inputs[0], outputs[0]
        self._input_type = _TORCH_TYPES[self._engine.get_tensor_dtype(self._input)]
        self._output_type = _TORCH_TYPES[self._engine.get_tensor_dtype(self._output)]
        _, _, largest = self._engine.get_tensor_profile_shape(self._input, 0)
        self._max_batch = int(largest[0])

    def run(self, pixels: Pixels) -> Pixels:
        self._check_shape(pixels)
        on_host = isinstance(pixels, np.ndarray)
        tensor = torch.from_numpy(np.asarray(pixels, dtype=np.float32)) if on_host else pixels
        tensor = tensor.to(self._device, self._input_type, non_blocking=True).contiguous()
        chunks = [self._run_chunk(part) for part in tensor.split(self._max_batch)]
        embeddings = torch.cat(chunks).float()
        return embeddings.cpu().numpy() if on_host else embeddings

    def _run_chunk(self, tensor: torch.Tensor) -> torch.Tensor:
        self._context.set_input_shape(self._input, tuple(tensor.shape))
        shape = tuple(self._context.get_tensor_shape(self._output))
        output = torch.empty(shape, dtype=self._output_type, device=self._device)
        self._context.set_tensor_address(self._input, tensor.data_ptr())
        self._context.set_tensor_address(self._output, output.data_ptr())
        stream = torch.cuda.current_stream(self._device)
        if not self._context.execute_async_v3(stream.cuda_stream):
            raise BackendError(f"TensorRT failed to run {self.model} on a batch of {len(tensor)}")
        return output

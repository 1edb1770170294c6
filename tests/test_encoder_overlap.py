"""The encoder queue's worker thread: same embeddings as encoding inline, bounded, errors surface."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from filmline.engine.backends.base import Runner
from filmline.engine.decode.pyav import PyAVDecoder
from filmline.engine.encoder_queue import EncoderQueue
from tests.tiny_models import tiny_torch_runner


DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device")])]


@pytest.fixture(scope="module", params=DEVICES)
def runner(request, tiny_siglip_dir) -> Runner:
    """The tiny SigLIP on PyTorch: fp32 on the CPU; on CUDA fp16 with graphs, its own stream and
    the device preprocessor."""
    return tiny_torch_runner(tiny_siglip_dir, request.param)


def _images(runner: Runner, count: int, seed: int = 0) -> list[np.ndarray]:
    size = runner.image_size
    return list(np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8))


class _GatedRunner(Runner):
    """The real runner, made to wait at each batch until the test opens the gate: a slow encoder."""

    def __init__(self, inner: Runner) -> None:
        self.__dict__.update(inner.__dict__)
        self.name, self.device, self.precision = inner.name, inner.device, inner.precision
        self.inner = inner
        self.gate = threading.Event()

    def run(self, pixels):
        self.gate.wait()
        return self.inner.run(pixels)


@pytest.mark.parametrize("batch", [1, 8])
def test_overlap_gives_the_synchronous_embeddings_in_order(runner, batch):
    images = _images(runner, 29)
    frames = [3 * i + 1 for i in range(len(images))]
    results = []
    for overlap in (False, True):
        queue = EncoderQueue(runner, batch, overlap=overlap)
        for frame, image in zip(frames, images):
            queue.add(frame, image)
        queue.flush()
        results.append((list(queue.frames), queue.embeddings()))
        queue.reset()
        assert queue.frames == [] and queue.embeddings().shape == (0, runner.embedding_dim)
    (sync_frames, sync_embeddings), (frames_out, embeddings) = results
    assert frames_out == sync_frames == frames
    np.testing.assert_array_equal(embeddings, sync_embeddings)


def test_the_queue_bound_holds_while_the_encoder_is_slow(runner):
    """With the encoder stalled, the caller fills one batch for the worker, `depth` waiting and
    one of its own, then waits; once the encoder moves, every frame comes out in order. The time
    it waited counts as the caller's time on the encoder."""
    gated = _GatedRunner(runner)
    batch, depth = 4, 2
    queue = EncoderQueue(gated, batch, depth=depth)
    images = _images(runner, 40, seed=1)
    added = []

    def feed() -> None:
        for index, image in enumerate(images):
            queue.add(index, image)
            added.append(index)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    most = (depth + 2) * batch - 1  # the add that fills batch depth + 2 cannot hand it over
    deadline = time.monotonic() + 30
    while len(added) < most and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert len(added) == most and feeder.is_alive()
    threading.Timer(0.2, gated.gate.set).start()
    feeder.join(timeout=30)
    queue.flush()
    assert queue.frames == list(range(len(images)))
    expected = EncoderQueue(runner, batch, overlap=False)
    for index, image in enumerate(images):
        expected.add(index, image)
    expected.flush()
    np.testing.assert_array_equal(queue.embeddings(), expected.embeddings())
    assert queue.seconds_spent >= 0.2 and queue.busy_seconds > 0
    assert expected.busy_seconds <= expected.seconds_spent  # inline: the encoding is the caller's time


def test_a_failing_batch_is_raised_in_the_caller(runner):
    queue = EncoderQueue(runner, 2)
    queue.add(0, _images(runner, 1)[0])
    queue.add(1, np.zeros((runner.image_size + 2, runner.image_size + 2, 3), np.uint8))  # not stackable
    with pytest.raises(ValueError):
        queue.flush()
    queue.add(2, _images(runner, 1)[0])  # the queue goes on after the error
    queue.flush()
    assert queue.frames == [2]


def test_add_frame_on_the_host_is_add_of_to_rgb(runner, films):
    """A decoded frame without device planes is scaled by `to_rgb`, as the pipeline does."""
    by_frame, by_image = EncoderQueue(runner, 4), EncoderQueue(runner, 4, overlap=False)
    size = runner.image_size
    with PyAVDecoder(films["h264-cfr.mkv"].path) as decoder:
        for frame in decoder.frames():
            if frame.index % 10 == 0:
                by_frame.add_frame(frame)
                by_image.add(frame.index, frame.to_rgb(size, size))
    by_frame.flush()
    by_image.flush()
    assert by_frame.frames == by_image.frames and len(by_frame.frames) > 5
    np.testing.assert_array_equal(by_frame.embeddings(), by_image.embeddings())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_frames_are_prepared_on_the_gpu(tiny_siglip_dir, films):
    """NV12 frames already on the GPU go through the device preprocessor and the worker's stream,
    and embed like the host path's frames (which differ by the CPU scaler's known error)."""
    from filmline.engine.decode.nvdec import NvdecFrame
    from filmline.engine.gpu_preprocess import YuvFormat

    cuda = tiny_torch_runner(tiny_siglip_dir, "cuda")
    on_device, on_host = EncoderQueue(cuda, 4), EncoderQueue(cuda, 4)
    assert on_device.preprocessor is not None
    with PyAVDecoder(films["h264-cfr.mkv"].path) as decoder:
        info = decoder.info
        for frame in decoder.frames():
            packed = torch.from_numpy(frame._frame.reformat(format="nv12").to_ndarray()).cuda()
            nv12 = NvdecFrame(frame.index, frame.pts, frame.seconds, packed, (info.coded_width, info.coded_height),
                              YuvFormat(), info.rotation, (info.width, info.height))
            on_device.add_frame(nv12)
            on_host.add_frame(frame)
    on_device.flush()
    on_host.flush()
    a, b = on_device.embeddings(), on_host.embeddings()
    assert on_device.frames == on_host.frames
    assert ((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min() >= 0.99

"""Per-video embeddings at 1 frame/s for training and scoring, computed once and cached on disk.

Two kinds of embedder: an image encoder built with engine-build (`clip-b32`, the intro paper's, or
`siglip`), run through the shared backends; or `luma-WxH`, the W×H luminance thumbnail of each
frame, standardised (zero mean, unit spread per frame; a flat frame is all zeros). The second
needs no weights, so intros can be learned and tested on any machine; a model trained on it
reads only that embedder, which its checkpoint records.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from filmline.engine.decode import FpsSampler, open_decoder
from filmline.engine.errors import BadInputError
from filmline.engine.luma_features import luma_embeddings, luma_size
from filmline.engine.output_files import atomic_path

FPS = 1.0


def sample_images(path: str | Path, size: tuple[int, int], fps: float = FPS) -> np.ndarray:
    """uint8 RGB `[T, h, w, 3]` of the frames nearest to 0, 1/fps, 2/fps … seconds."""
    images: list[np.ndarray] = []
    sampler = FpsSampler(fps)
    previous = None
    with open_decoder(path) as decoder:
        for frame in decoder.frames():
            for index in sampler.push(frame.index, frame.seconds):
                chosen = frame if index == frame.index else previous
                images.append(chosen.to_rgb(*size))
            previous = frame
        for _ in sampler.finish():
            images.append(previous.to_rgb(*size))
    return np.stack(images) if images else np.zeros((0, size[1], size[0], 3), np.uint8)


class Embedder:
    """Turns a video into its [T, D] embeddings at 1 frame/s with one loaded encoder."""

    def __init__(self, name: str, *, backend: str = "auto", weights: str | None = None, batch: int = 32) -> None:
        self.name = name
        self._luma = luma_size(name)
        self._queue = None
        if self._luma is not None:
            self.identity = name
            return
        from filmline.engine.backends import open_model
        from filmline.engine.config import encoder_names
        from filmline.engine.encoder_queue import EncoderQueue

        if name not in encoder_names():
            choices = ", ".join(encoder_names())
            raise BadInputError(f"unknown embedder '{name}': choose {choices} or luma-WxH (e.g. luma-32x18)")
        runner = open_model(name, backend, weights=weights)
        self._queue = EncoderQueue(runner, batch)
        self.identity = f"{name}:{runner.manifest_hash or weights}"

    def __call__(self, path: str | Path) -> np.ndarray:
        if self._luma is not None:
            return luma_embeddings(sample_images(path, self._luma))
        queue = self._queue
        queue.reset()
        size = queue.image_size
        for index, image in enumerate(sample_images(path, (size, size))):
            queue.add(index, image)
        queue.flush()
        return queue.embeddings()


class EmbeddingCache:
    """`<folder>/<stem>-<key>.npy`; the key covers the file (path, size, mtime) and the embedder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, path: Path, embedder: Embedder) -> np.ndarray:
        stat = path.stat()
        identity = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{embedder.identity}"
        key = hashlib.sha256(identity.encode()).hexdigest()[:16]
        target = self.folder / f"{path.stem}-{key}.npy"
        if target.is_file():
            return np.load(target)
        embeddings = embedder(path)
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as temporary, temporary.open("wb") as handle:
            np.save(handle, embeddings)
        return embeddings

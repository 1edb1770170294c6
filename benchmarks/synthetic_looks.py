"""The pictures of the synthetic films: each shot's texture, its motion and zoom, and how two
shots are composed into one frame (alpha blends, wipes) and lit by a flash.

Only the textures of the current and the previous shot are kept, so the memory a film needs does
not grow with its length.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

Layer = tuple[int, int, float]  # (shot, motion position in pixels, zoom); None is black


class Step(NamedTuple):
    """One frame: `a` blended into `b` by `alpha` (or wiped, if `wipe` names a direction), then
    lit towards white by `flash`. `own`: the shot this frame shows unblended; `event`: the hard
    negative it belongs to."""

    a: Layer | None
    b: Layer | None
    alpha: float
    blend_kind: str | None
    wipe: str | None = None
    flash: float = 0.0
    own: int | None = None
    event: str | None = None

    def visible(self) -> set[int | None]:
        """The shots (None: black) this frame shows any of."""
        shot_a = self.a[0] if self.a else None
        return {shot_a} if self.alpha == 0 else {shot_a, self.b[0] if self.b else None}


class Looks:
    """Each shot's texture, made on first use and dropped once the film has moved past it.
    With `pictures` (uint8 RGB photographs or video frames), shot n shows pictures[n % len]
    instead of colour noise: real textures, for motion that looks like a camera's."""

    def __init__(self, seed: int, width: int, height: int, pictures: Sequence[np.ndarray] = ()) -> None:
        self._seed, self._width, self._height = seed, width, height
        self._pictures = list(pictures)
        self._shots: dict[int, _ShotLook] = {}

    def render(self, step: Step) -> np.ndarray:
        """The frame as uint8 RGB [height, width, 3]."""
        a = self._pixels(step.a)
        if step.alpha and step.wipe:
            a = _wipe(a, self._pixels(step.b), step.alpha, step.wipe)
        elif step.alpha:
            a = (1 - step.alpha) * a + step.alpha * self._pixels(step.b)
        if step.flash:
            a = (1 - step.flash) * a + step.flash * 255.0
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)

    def _pixels(self, layer: Layer | None) -> np.ndarray:
        if layer is None:
            return np.zeros((self._height, self._width, 3), np.float32)
        shot, position, zoom = layer
        if shot not in self._shots:
            for old in [s for s in self._shots if s < shot - 1]:
                del self._shots[old]
            rng = np.random.default_rng([self._seed, shot])
            picture = self._pictures[shot % len(self._pictures)] if self._pictures else None
            self._shots[shot] = _ShotLook(rng, self._width, self._height, picture)
        return self._shots[shot].at(position, zoom)


def _wipe(old: np.ndarray, new: np.ndarray, alpha: float, direction: str) -> np.ndarray:
    """`new` on the fraction `alpha` of the picture on the side the edge comes from."""
    out = old.copy()
    height, width = old.shape[:2]
    across = round(alpha * (width if direction in ("right", "left") else height))
    if direction == "right":
        out[:, :across] = new[:, :across]
    elif direction == "left":
        out[:, width - across :] = new[:, width - across :]
    elif direction == "down":
        out[:across] = new[:across]
    else:
        out[height - across :] = new[height - across :]
    return out


_MOTIONS = [(0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)]  # (dy, dx) per frame


class _ShotLook:
    """Periodic smooth colour noise (so it can wrap while it drifts) over a colour gradient; or
    a picture, mirrored into a tile twice its size (periodic too, without seams)."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, picture: np.ndarray | None = None) -> None:
        if picture is not None:
            fitted = _resize(picture, width, height).astype(np.float32)
            tile = np.concatenate([fitted, fitted[:, ::-1]], axis=1)
            self._texture = np.concatenate([tile, tile[::-1]], axis=0)
            self._base = np.zeros((height, width, 3), np.float32)
            self._motion = _MOTIONS[rng.integers(8)]
            return
        noise = rng.standard_normal((height, width, 3))
        fy = np.fft.fftfreq(height)[:, None]
        fx = np.fft.rfftfreq(width)[None, :]
        sigma = 4 / max(width, height)  # blobs about a tenth of the frame across
        low_pass = np.exp(-(fx**2 + fy**2) / (2 * sigma**2))[..., None]
        spectrum = np.fft.rfft2(noise, axes=(0, 1)) * low_pass
        texture = np.fft.irfft2(spectrum, s=(height, width), axes=(0, 1))
        texture = (texture - texture.mean((0, 1))) / texture.std((0, 1))
        angle = rng.uniform(0, 2 * np.pi)
        y, x = np.mgrid[0:height, 0:width]
        ramp = (x / width - 0.5) * np.cos(angle) + (y / height - 0.5) * np.sin(angle)
        tint = rng.uniform(-1, 1, 3)  # the gradient's colour; the shot's mean stays grey
        self._texture = (40 * texture).astype(np.float32)
        self._base = (128 + 40 * ramp[..., None] * tint).astype(np.float32)
        self._motion = _MOTIONS[rng.integers(8)]

    def at(self, t: int, zoom: float = 1.0) -> np.ndarray:
        """The picture after `t` pixels of motion, magnified `zoom` times about its centre."""
        dy, dx = self._motion
        height, width = self._base.shape[:2]
        tile_height, tile_width = self._texture.shape[:2]
        if zoom == 1.0:
            moved = np.roll(self._texture, (dy * t, dx * t), axis=(0, 1))[:height, :width]
            return moved + self._base
        rows = np.floor((np.arange(height) - height / 2) / zoom + height / 2).astype(np.int64)
        cols = np.floor((np.arange(width) - width / 2) / zoom + width / 2).astype(np.int64)
        texture = self._texture[(rows - dy * t) % tile_height][:, (cols - dx * t) % tile_width]
        return texture + self._base[np.clip(rows, 0, height - 1)][:, np.clip(cols, 0, width - 1)]


def _resize(picture: np.ndarray, width: int, height: int) -> np.ndarray:
    """`picture` scaled to cover width × height and cropped to it (Pillow, Lanczos)."""
    from PIL import Image

    image = Image.fromarray(picture)
    scale = max(width / image.width, height / image.height)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    image = image.resize(size, Image.LANCZOS)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return np.asarray(image.crop((left, top, left + width, top + height)))

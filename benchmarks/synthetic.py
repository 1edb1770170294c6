"""Small test films whose structure is known exactly: shots, cuts, fades, dissolves, timing.

Each shot shows its own smooth colour-noise texture drifting one pixel per frame over a fixed
colour gradient; all shots share the same mean brightness and colour spread, so telling them
apart takes more than a mean colour, while consecutive frames of one shot differ a little but
never by nothing. Everything is seeded: the same arguments give the same film.

Blends (the fade and dissolve frames) are `(1 - alpha) * outgoing + alpha * incoming`; the
j-th of n blended frames (j = 0 … n-1) has alpha = (j + 1) / (n + 1), so no blended frame is
ever purely one side. Fades blend with black. During a dissolve both shots keep moving.

Truth conventions (`GroundTruth`): frames are 0-based in presentation order; `seconds` are
measured from the first frame, as the decoders report them; a cut is the index of a frame
showing nothing of what the frame before it showed (shot → shot, shot → black, black → shot,
or a shot straight into a blend that lacks it); a gradual transition is (kind, first, last), exactly its blended frames; a shot is (first, last),
exactly the frames showing it unblended. Black frames and blended frames belong to no shot.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple, Sequence

import av
import numpy as np

CODECS = {
    "h264": ("libx264", {"preset": "veryfast", "crf": "18"}),
    "hevc": ("libx265", {"preset": "ultrafast", "crf": "18", "x265-params": "log-level=error"}),
}
TICKS_PER_FRAME = 100  # time base 1 / (fps × 100): a start time need not fall on a frame


@dataclass(frozen=True)
class Cut:
    """The new shot starts on the next frame."""


@dataclass(frozen=True)
class Fade:
    """Fade the old shot out to black, hold black, fade the new shot in (any part may be 0)."""

    out_frames: int
    black_frames: int
    in_frames: int


@dataclass(frozen=True)
class Dissolve:
    """`frames` frames blending the old shot into the new one."""

    frames: int


@dataclass(frozen=True)
class Shot:
    """`frames` unblended frames of one shot, entered by `transition` (ignored for the first)."""

    frames: int
    transition: Cut | Fade | Dissolve = field(default_factory=Cut)


class Gradual(NamedTuple):
    kind: str  # 'fade_out' | 'fade_in' | 'dissolve'
    first: int
    last: int


class Span(NamedTuple):
    first: int
    last: int


@dataclass
class GroundTruth:
    """What a film written by `write_film` contains; saved beside it as `<stem>.truth.json`."""

    path: str
    frame_count: int
    seconds: list[float]
    cuts: list[int]
    gradual: list[Gradual]
    shots: list[Span]
    size: tuple[int, int]  # stored (coded) width, height
    fps: float  # nominal rate; a VFR film alternates 1/fps and 2/fps frame durations
    codec: str
    vfr: bool
    start_seconds: float  # the first frame's timestamp in the container
    rotation: int  # clockwise degrees for display
    sample_aspect_ratio: tuple[int, int]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    def save(self) -> Path:
        target = truth_path(self.path)
        target.write_text(self.to_json())
        return target

    @classmethod
    def load(cls, path: str | Path) -> GroundTruth:
        """The truth of a film (pass the film's path or the truth file's)."""
        source = Path(path)
        data = json.loads((source if source.suffix == ".json" else truth_path(source)).read_text())
        data["gradual"] = [Gradual(*g) for g in data["gradual"]]
        data["shots"] = [Span(*s) for s in data["shots"]]
        data["size"] = tuple(data["size"])
        data["sample_aspect_ratio"] = tuple(data["sample_aspect_ratio"])
        return cls(**data)


def truth_path(film: str | Path) -> Path:
    film = Path(film)
    return film.with_name(f"{film.stem}.truth.json")


class _Layer(NamedTuple):
    shot: int | None  # None: black
    t: int  # frame number within the shot, drives its motion


class _Plan(NamedTuple):
    """One frame: (1 - alpha) * a + alpha * b."""

    a: _Layer
    b: _Layer
    alpha: float
    blend_kind: str | None


_BLACK = _Layer(None, 0)


def write_film(
    path: str | Path,
    shots: Sequence[Shot | int],
    *,
    size: tuple[int, int] = (320, 180),
    fps: float | Fraction = 25,
    codec: str = "h264",
    vfr: bool = False,
    start_seconds: float = 0.0,
    rotation: int = 0,
    sample_aspect_ratio: tuple[int, int] = (1, 1),
    seed: int = 0,
    marker: bool = False,
) -> GroundTruth:
    """Encode the film (container from the suffix, .mkv or .mp4) and save its truth beside it.

    H.264 (x264 veryfast, with B-frames) or HEVC (x265 ultrafast), CRF 18, yuv420p, a key frame
    at least every 2 s. With `vfr`, frame durations alternate 1/fps and 2/fps.

    `shots` are `Shot`s or plain frame counts (entered by a cut). `fps` may be a `Fraction`
    (30000/1001 for NTSC). `rotation` (clockwise, a multiple of 90) goes into the display
    matrix, `sample_aspect_ratio` into the stream; the pictures themselves are stored unrotated
    at `size`. `marker` paints a white square in the stored picture's top-left corner, to check
    orientation after decoding.
    """
    width, height = size
    if width % 2 or height % 2:
        raise ValueError(f"size {size} must be even in both dimensions (yuv420p)")
    if codec not in CODECS:
        raise ValueError(f"codec {codec!r} is not one of {sorted(CODECS)}")
    if rotation % 90:
        raise ValueError(f"rotation {rotation} is not a multiple of 90")
    specs = [s if isinstance(s, Shot) else Shot(s) for s in shots]
    plan, truth_parts = _plan(specs)
    rate = Fraction(fps).limit_denominator(1001)
    time_base = 1 / (rate * TICKS_PER_FRAME)
    start = round(Fraction(start_seconds) / time_base)
    pts = [start]
    for i in range(1, len(plan)):
        pts.append(pts[-1] + TICKS_PER_FRAME * (2 if vfr and i % 2 == 0 else 1))

    encoder, options = CODECS[codec]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(encoder, rate=rate, options=dict(options))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = time_base
        stream.codec_context.gop_size = round(2 * rate)
        stream.codec_context.sample_aspect_ratio = Fraction(*sample_aspect_ratio)
        if rotation % 360:
            stream.set_display_rotation((180 - rotation) % 360 - 180)  # PyAV: counter-clockwise
        looks = _Looks(seed, width, height)
        for step, frame_pts in zip(plan, pts):
            image = looks.render(step)
            if marker:
                image[: height // 6, : height // 6] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = frame_pts, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))

    truth = GroundTruth(
        path=str(path),
        frame_count=len(plan),
        seconds=[float((p - start) * time_base) for p in pts],
        **truth_parts,
        size=(width, height),
        fps=float(rate),
        codec=codec,
        vfr=vfr,
        start_seconds=float(start * time_base),
        rotation=rotation % 360,
        sample_aspect_ratio=tuple(sample_aspect_ratio),
    )
    truth.save()
    return truth


def write_audio_only(path: str | Path, seconds: float = 1.0) -> None:
    """A file with one AAC audio stream and no video, for the decoders' bad-input checks."""
    sample_rate = 16000
    samples = int(seconds * sample_rate)
    tone = (0.1 * np.sin(np.arange(samples) * 2 * np.pi * 440 / sample_rate)).astype(np.float32)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=sample_rate, layout="mono")
        for offset in range(0, samples, 1024):
            chunk = tone[None, offset : offset + 1024]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = sample_rate, offset
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _plan(shots: list[Shot]) -> tuple[list[_Plan], dict]:
    """Every frame's recipe, and the truth (cuts, gradual transitions, shots) it implies."""
    if not shots:
        raise ValueError("a film needs at least one shot")
    plan: list[_Plan] = []
    clock = [0] * len(shots)  # per-shot frame counter: a shot keeps moving through blends

    def show(shot: int | None) -> _Layer:
        if shot is None:
            return _BLACK
        clock[shot] += 1
        return _Layer(shot, clock[shot] - 1)

    def blend(a: int | None, b: int | None, n: int, kind: str) -> None:
        for j in range(n):
            plan.append(_Plan(show(a), show(b), (j + 1) / (n + 1), kind))

    spans: list[Span] = []
    for n, shot in enumerate(shots):
        if shot.frames < 1:
            raise ValueError(f"shot {n} has {shot.frames} frames; each shot needs at least one")
        move = shot.transition
        if n and isinstance(move, Dissolve):
            blend(n - 1, n, move.frames, "dissolve")
        elif n and isinstance(move, Fade):
            blend(n - 1, None, move.out_frames, "fade_out")
            plan.extend(_Plan(_BLACK, _BLACK, 0.0, None) for _ in range(move.black_frames))
            blend(None, n, move.in_frames, "fade_in")
        first = len(plan)
        plan.extend(_Plan(show(n), _BLACK, 0.0, None) for _ in range(shot.frames))
        spans.append(Span(first, len(plan) - 1))

    def visible(step: _Plan) -> set[int | None]:
        return {step.a.shot} if step.alpha == 0 else {step.a.shot, step.b.shot}

    cuts = [i for i in range(1, len(plan)) if not visible(plan[i - 1]) & visible(plan[i])]
    gradual: list[Gradual] = []
    for i, step in enumerate(plan):
        if step.blend_kind is None:
            continue
        if gradual and gradual[-1].kind == step.blend_kind and gradual[-1].last == i - 1:
            gradual[-1] = gradual[-1]._replace(last=i)
        else:
            gradual.append(Gradual(step.blend_kind, i, i))
    return plan, {"cuts": cuts, "gradual": gradual, "shots": spans}


class _Looks:
    """Each shot's texture, made on first use and dropped once the film has moved past it."""

    def __init__(self, seed: int, width: int, height: int) -> None:
        self._seed, self._width, self._height = seed, width, height
        self._shots: dict[int, _ShotLook] = {}

    def render(self, step: _Plan) -> np.ndarray:
        a = self._pixels(step.a)
        if step.alpha:
            a = (1 - step.alpha) * a + step.alpha * self._pixels(step.b)
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)

    def _pixels(self, layer: _Layer) -> np.ndarray:
        if layer.shot is None:
            return np.zeros((self._height, self._width, 3), np.float32)
        if layer.shot not in self._shots:
            for old in [s for s in self._shots if s < layer.shot - 1]:
                del self._shots[old]
            rng = np.random.default_rng([self._seed, layer.shot])
            self._shots[layer.shot] = _ShotLook(rng, self._width, self._height)
        return self._shots[layer.shot].at(layer.t)


class _ShotLook:
    """Periodic smooth colour noise (so it can wrap while it drifts) over a colour gradient."""

    def __init__(self, rng: np.random.Generator, width: int, height: int) -> None:
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
        self._motion = [(0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)][
            rng.integers(8)
        ]

    def at(self, t: int) -> np.ndarray:
        dy, dx = self._motion
        return np.roll(self._texture, (dy * t, dx * t), axis=(0, 1)) + self._base

"""Test films whose structure is known exactly: shots, cuts, fades, dissolves, wipes, hard negatives.

Each shot shows its own smooth colour-noise texture drifting one pixel per frame over a fixed
colour gradient; all shots share the same mean brightness and colour spread, so telling them
apart takes more than a mean colour, while consecutive frames of one shot differ a little but
never by nothing (unless the shot is `static`). Everything is seeded: the same arguments give
the same film. Frames are rendered and encoded one at a time, so a two-hour film needs no more
memory than a short one.

Blends (fade, dissolve and wipe frames) mix the outgoing and the incoming picture; the j-th of n
blended frames (j = 0 … n-1) has alpha = (j + 1) / (n + 1), so no blended frame is ever purely
one side: fades and dissolves are `(1 - alpha) * outgoing + alpha * incoming` (fades blend with
black), a wipe shows the incoming shot on the fraction alpha of the picture behind a straight
edge. During a blend both shots keep moving.

Hard negatives change the picture a lot without changing the shot: a flash (frames lit towards
white), a whip pan (the picture slides a tenth of its width per frame), a zoom (magnification
rising steadily), and a static shot (a still picture: consecutive frames identical).

Truth conventions (`GroundTruth`): frames are 0-based in presentation order; `seconds` are
measured from the first frame, as the decoders report them; a cut is the index of a frame
showing nothing of what the frame before it showed (shot → shot, shot → black, black → shot,
or a shot straight into a blend that lacks it); a gradual transition is (kind, first, last),
exactly its blended frames; a shot is (first, last), exactly the frames showing it unblended;
a negative is (kind, first, last), the frames of one hard negative. Black frames and blended
frames belong to no shot. Beside `<stem>.truth.json` the shots are also written as
`<stem>.truth.csv` (`start_time,end_time` in seconds, end = the start of the next frame; the
last frame lasts as long as the one before it), the CSV `engine-eval shots` reads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import av
import numpy as np

from filmline.benchmarks.synthetic_looks import Looks, Step, _ShotLook  # noqa: F401  (_ShotLook: synthetic_series)

CODECS = {
    "h264": ("libx264", {"preset": "veryfast", "crf": "18"}),
    "hevc": ("libx265", {"preset": "ultrafast", "crf": "18", "x265-params": "log-level=error"}),
}
SIZES = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
TICKS_PER_FRAME = 100  # time base 1 / (fps × 100): a start time need not fall on a frame
WIPE_DIRECTIONS = ("right", "left", "down", "up")


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
class Wipe:
    """`frames` frames in which the new shot covers the old one behind an edge moving `direction`."""

    frames: int
    direction: str = "right"


@dataclass(frozen=True)
class Flash:
    """Frames `at` … `at + frames - 1` of the shot lit towards white by `strength` (0-1)."""

    at: int
    frames: int = 2
    strength: float = 0.8


@dataclass(frozen=True)
class Pan:
    """A whip pan: from frame `at`, for `frames` frames, the picture slides `speed` of its width per frame."""

    at: int
    frames: int
    speed: float = 0.1


@dataclass(frozen=True)
class Zoom:
    """From frame `at`, over `frames` frames, the magnification rises to `scale` (and stays)."""

    at: int
    frames: int
    scale: float = 1.6


@dataclass(frozen=True)
class Shot:
    """`frames` unblended frames of one shot, entered by `transition` (ignored for the first).

    `effects` (flashes, pans, zooms) happen at frame numbers counted within those frames;
    a `static` shot does not move at all.
    """

    frames: int
    transition: Cut | Fade | Dissolve | Wipe = field(default_factory=Cut)
    effects: tuple[Flash | Pan | Zoom, ...] = ()
    static: bool = False


class Gradual(NamedTuple):
    kind: str  # 'fade_out' | 'fade_in' | 'dissolve' | 'wipe'
    first: int
    last: int


class Span(NamedTuple):
    first: int
    last: int


class Negative(NamedTuple):
    kind: str  # 'flash' | 'pan' | 'zoom' | 'static'
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
    negatives: list[Negative] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    def end_seconds(self) -> float:
        """The end of the last frame, as the engine counts it (its start + the previous interval)."""
        if self.frame_count < 2:
            return self.seconds[0] if self.seconds else 0.0
        return self.seconds[-1] + (self.seconds[-1] - self.seconds[-2])

    def shot_times(self) -> list[tuple[float, float]]:
        """[start, end) of every shot in seconds; end is the start of the frame after it."""
        def time_of(position: int) -> float:
            return self.seconds[position] if position < self.frame_count else self.end_seconds()

        return [(time_of(s.first), time_of(s.last + 1)) for s in self.shots]

    def save(self) -> Path:
        target = truth_path(self.path)
        target.write_text(self.to_json())
        rows = ["start_time,end_time", *(f"{a:.6f},{b:.6f}" for a, b in self.shot_times())]
        truth_csv_path(self.path).write_text("\n".join(rows) + "\n")
        return target

    @classmethod
    def load(cls, path: str | Path) -> GroundTruth:
        """The truth of a film (pass the film's path or the truth file's)."""
        source = Path(path)
        data = json.loads((source if source.suffix == ".json" else truth_path(source)).read_text())
        data["gradual"] = [Gradual(*g) for g in data["gradual"]]
        data["shots"] = [Span(*s) for s in data["shots"]]
        data["negatives"] = [Negative(*n) for n in data.get("negatives", [])]
        data["size"] = tuple(data["size"])
        data["sample_aspect_ratio"] = tuple(data["sample_aspect_ratio"])
        return cls(**data)


def truth_path(film: str | Path) -> Path:
    film = Path(film)
    return film.with_name(f"{film.stem}.truth.json")


def truth_csv_path(film: str | Path) -> Path:
    film = Path(film)
    return film.with_name(f"{film.stem}.truth.csv")


def write_film(
    path: str | Path,
    shots: Sequence[Shot | int],
    *,
    size: tuple[int, int] | str = (320, 180),
    fps: float | Fraction = 25,
    codec: str = "h264",
    vfr: bool = False,
    start_seconds: float = 0.0,
    rotation: int = 0,
    sample_aspect_ratio: tuple[int, int] = (1, 1),
    seed: int = 0,
    marker: bool = False,
    preset: str | None = None,
    pictures: Sequence[np.ndarray] = (),
) -> GroundTruth:
    """Encode the film (container from the suffix, .mkv or .mp4) and save its truth beside it.

    H.264 (x264 veryfast, with B-frames) or HEVC (x265 ultrafast), CRF 18, yuv420p, a key frame
    at least every 2 s; `preset` overrides the encoder preset (`ultrafast` for long films).
    With `vfr`, frame durations alternate 1/fps and 2/fps. `size` is (width, height) or one of
    `SIZES` ("480p", "720p", "1080p").

    `shots` are `Shot`s or plain frame counts (entered by a cut). `fps` may be a `Fraction`
    (30000/1001 for NTSC). `rotation` (clockwise, a multiple of 90) goes into the display
    matrix, `sample_aspect_ratio` into the stream; the pictures themselves are stored unrotated
    at `size`. `marker` paints a white square in the stored picture's top-left corner, to check
    orientation after decoding. `pictures` (uint8 RGB) replace the shots' colour noise, in turn.
    """
    width, height = SIZES[size] if isinstance(size, str) else size
    if width % 2 or height % 2:
        raise ValueError(f"size {size} must be even in both dimensions (yuv420p)")
    if codec not in CODECS:
        raise ValueError(f"codec {codec!r} is not one of {sorted(CODECS)}")
    if rotation % 90:
        raise ValueError(f"rotation {rotation} is not a multiple of 90")
    specs = [s if isinstance(s, Shot) else Shot(s) for s in shots]
    _check(specs)
    rate = Fraction(fps).limit_denominator(1001)
    time_base = 1 / (rate * TICKS_PER_FRAME)
    start = round(Fraction(start_seconds) / time_base)
    truth = _TruthBuilder()
    encoder, options = CODECS[codec]
    options = {**options, **({"preset": preset} if preset else {})}
    with av.open(str(path), "w") as container:
        stream = container.add_stream(encoder, rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = time_base
        stream.codec_context.gop_size = round(2 * rate)
        stream.codec_context.sample_aspect_ratio = Fraction(*sample_aspect_ratio)
        if rotation % 360:
            stream.set_display_rotation((180 - rotation) % 360 - 180)  # PyAV: counter-clockwise
        looks = Looks(seed, width, height, pictures)
        frame_pts = start
        for i, step in enumerate(_steps(specs, width)):
            if i:
                frame_pts += TICKS_PER_FRAME * (2 if vfr and i % 2 == 0 else 1)
            truth.add(i, step, float((frame_pts - start) * time_base))
            image = looks.render(step)
            if marker:
                image[: height // 6, : height // 6] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = frame_pts, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))

    result = GroundTruth(
        path=str(path),
        **truth.parts(),
        size=(width, height),
        fps=float(rate),
        codec=codec,
        vfr=vfr,
        start_seconds=float(start * time_base),
        rotation=rotation % 360,
        sample_aspect_ratio=tuple(sample_aspect_ratio),
    )
    result.save()
    return result


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


def _check(shots: list[Shot]) -> None:
    if not shots:
        raise ValueError("a film needs at least one shot")
    for n, shot in enumerate(shots):
        if shot.frames < 1:
            raise ValueError(f"shot {n} has {shot.frames} frames; each shot needs at least one")
        if isinstance(shot.transition, Wipe) and shot.transition.direction not in WIPE_DIRECTIONS:
            raise ValueError(f"shot {n}: wipe direction {shot.transition.direction!r} is not one of {WIPE_DIRECTIONS}")
        for effect in shot.effects:
            if effect.at < 0 or effect.frames < 1 or effect.at + effect.frames > shot.frames:
                raise ValueError(f"shot {n}: {effect} does not fit in its {shot.frames} frames")


def _steps(shots: list[Shot], width: int) -> Iterator[Step]:
    """Every frame's recipe, in order, one at a time."""
    position = [0] * len(shots)  # per-shot motion: a shot keeps moving through blends
    zoom = [1.0] * len(shots)

    def show(shot: int | None, jump: int = 0) -> tuple[int, int, float] | None:
        """The shot's next picture; `jump` pixels of extra motion land on this very frame."""
        if shot is None:
            return None
        if shots[shot].static:
            return (shot, position[shot], zoom[shot])
        position[shot] += jump
        layer = (shot, position[shot], zoom[shot])
        position[shot] += 1
        return layer

    def blend(a: int | None, b: int | None, n: int, kind: str, wipe: str | None = None) -> Iterator[Step]:
        for j in range(n):
            yield Step(show(a), show(b), (j + 1) / (n + 1), kind, wipe=wipe)

    for n, shot in enumerate(shots):
        move = shot.transition
        if n and isinstance(move, Dissolve):
            yield from blend(n - 1, n, move.frames, "dissolve")
        elif n and isinstance(move, Wipe):
            yield from blend(n - 1, n, move.frames, "wipe", move.direction)
        elif n and isinstance(move, Fade):
            yield from blend(n - 1, None, move.out_frames, "fade_out")
            for _ in range(move.black_frames):
                yield Step(None, None, 0.0, None)
            yield from blend(None, n, move.in_frames, "fade_in")
        for k in range(shot.frames):
            flash, jump, event = 0.0, 0, "static" if shot.static else None
            for effect in shot.effects:
                if not effect.at <= k < effect.at + effect.frames:
                    continue
                event = type(effect).__name__.lower()
                if isinstance(effect, Flash):
                    flash = effect.strength
                elif isinstance(effect, Pan):
                    jump = max(1, round(effect.speed * width)) - 1
                else:
                    zoom[n] = 1 + (effect.scale - 1) * (k - effect.at + 1) / effect.frames
            yield Step(show(n, jump), None, 0.0, None, flash=flash, own=n, event=event)


class _TruthBuilder:
    """Cuts, gradual transitions, shots and negatives, gathered frame by frame."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.cuts: list[int] = []
        self.gradual: list[Gradual] = []
        self.shots: list[Span] = []
        self.negatives: list[Negative] = []
        self._previous: set[int | None] | None = None
        self._previous_own: int | None = None  # the shot the previous frame showed unblended

    def add(self, i: int, step: Step, second: float) -> None:
        self.seconds.append(second)
        visible = step.visible()
        if self._previous is not None and not self._previous & visible:
            self.cuts.append(i)
        self._previous = visible
        same_shot = step.own is not None and step.own == self._previous_own
        if step.blend_kind is not None:
            self._extend(self.gradual, Gradual, step.blend_kind, i, True)
        if step.own is not None:
            if same_shot:
                self.shots[-1] = self.shots[-1]._replace(last=i)
            else:
                self.shots.append(Span(i, i))
        if step.event is not None:
            self._extend(self.negatives, Negative, step.event, i, same_shot)
        self._previous_own = step.own

    @staticmethod
    def _extend(runs: list, kind_of_run: type, kind: str, i: int, may_join: bool) -> None:
        """Grow the last run by frame `i` when it is of the same kind and ends just before."""
        if may_join and runs and runs[-1].kind == kind and runs[-1].last == i - 1:
            runs[-1] = runs[-1]._replace(last=i)
        else:
            runs.append(kind_of_run(kind, i, i))

    def parts(self) -> dict:
        return {"frame_count": len(self.seconds), "seconds": self.seconds, "cuts": self.cuts,
                "gradual": self.gradual, "shots": self.shots, "negatives": self.negatives}

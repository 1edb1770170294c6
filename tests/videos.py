"""Session fixtures: small synthetic films with known truth, and broken files.

Written once per test session into a temporary folder (about a second in all). Test modules
that need them import the fixtures from here.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from filmline.benchmarks.synthetic import Dissolve, Fade, GroundTruth, Shot, write_audio_only, write_film

COUNTER_CLIP = Path(__file__).resolve().parents[2] / "shared/data/pyscenedetect/counter.mp4"
FADES_CLIP = COUNTER_CLIP.with_name("fades.mp4")  # fades through black, a black shot between two

# A little of everything: a cut, a fade through black, a dissolve, a cut to black.
TIMELINE = [
    Shot(30),
    Shot(25, Fade(4, 3, 5)),
    Shot(25, Dissolve(6)),
    Shot(20, Fade(0, 3, 0)),
    Shot(20),
]
SMALL = (160, 96)

# name → write_film arguments: every codec × container, CFR and VFR, a 1 s start, a rotation
# and non-square pixels.
FILMS: dict[str, dict] = {
    "h264-cfr.mkv": {},
    "h264-vfr-start1s.mp4": {"vfr": True, "start_seconds": 1.0},
    "hevc-vfr-start1s.mkv": {"codec": "hevc", "vfr": True, "start_seconds": 1.0},
    "hevc-cfr.mp4": {"codec": "hevc", "fps": 30},
    "h264-rot90.mp4": {"rotation": 90, "marker": True},
    "h264-sar2.mkv": {"sample_aspect_ratio": (2, 1), "marker": True},
}


@pytest.fixture(scope="session")
def films(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GroundTruth]:
    """Every film of `FILMS`, by name; `truth.path` is where it lies."""
    folder = tmp_path_factory.mktemp("films")
    return {
        name: write_film(folder / name, TIMELINE, size=SMALL, seed=i, **kwargs)
        for i, (name, kwargs) in enumerate(FILMS.items())
    }


@pytest.fixture(scope="session")
def corrupt_film(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    """An H.264 MP4 whose packets 60, 90 and 120 (of 150) are overwritten with random bytes."""
    folder = tmp_path_factory.mktemp("corrupt")
    truth = write_film(folder / "corrupt.mp4", [50, 50, 50], size=SMALL, seed=3)
    with av.open(truth.path) as container:
        stream = container.streams.video[0]
        places = [(p.pos, p.size) for p in container.demux(stream) if p.size]
    data = bytearray(Path(truth.path).read_bytes())
    rng = np.random.default_rng(0)
    for pos, size in (places[60], places[90], places[120]):
        # Keep the 4-byte NAL length so the damage stays inside this one packet.
        data[pos + 4 : pos + size] = rng.integers(0, 256, size - 4, dtype=np.uint8).tobytes()
    Path(truth.path).write_bytes(bytes(data))
    return truth


@pytest.fixture(scope="session")
def truncated_film(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    """An MKV cut off at half its bytes; the truth is the whole film's."""
    folder = tmp_path_factory.mktemp("truncated")
    truth = write_film(folder / "truncated.mkv", [60, 60], size=SMALL, seed=4)
    data = Path(truth.path).read_bytes()
    Path(truth.path).write_bytes(data[: len(data) // 2])
    return truth


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files no decoder can use, by what is wrong with them."""
    folder = tmp_path_factory.mktemp("bad")
    source = Path(write_film(folder / "source.mp4", [20], size=SMALL).path)
    header_only = Path(write_film(folder / "header.mkv", [20], size=SMALL).path)

    with av.open(str(header_only)) as container:
        first_packet = next(container.demux(container.streams.video[0])).pos
    (folder / "no_frames.mkv").write_bytes(header_only.read_bytes()[:first_packet])
    (folder / "no_index.mp4").write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    (folder / "text.mkv").write_text("these are notes, not a video\n")
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "a_folder.mp4").mkdir()
    write_audio_only(folder / "audio_only.m4a")
    return {
        "missing": folder / "missing.mp4",
        "directory": folder / "a_folder.mp4",
        "empty": folder / "empty.mp4",
        "text": folder / "text.mkv",
        "audio_only": folder / "audio_only.m4a",
        "no_frames": folder / "no_frames.mkv",
        "no_index": folder / "no_index.mp4",  # an MP4 whose moov (at the end) was cut off
    }


OPEN_GOP_SHOTS = [30, 25, 40, 20, 35]  # cuts at irregular intervals: frames 30, 55, 95, 115
OPEN_GOP_CUT_FRAMES = [30, 55, 95, 115]
# x264 in open-GOP mode with B-frames. "natural": a keyframe every 37 frames besides the forced
# ones, whose leading B-frames come after them in decode order; "cuts": keyframes at the cuts only.
OPEN_GOP_X264 = {
    "natural": "keyint=37:min-keyint=37:scenecut=0:open-gop=1:bframes=3:b-pyramid=none",
    "cuts": "keyint=1000:min-keyint=1:scenecut=0:open-gop=1:bframes=3",
}


def reencode(source: str, target: Path, x264_params: str, keyframes: set[int]) -> None:
    """`source` re-encoded with libx264, the frames in `keyframes` forced to be keyframes."""
    with av.open(source) as inp, av.open(str(target), "w") as out:
        video = inp.streams.video[0]
        stream = out.add_stream("libx264", rate=video.average_rate,
                                options={"preset": "veryfast", "crf": "20", "x264-params": x264_params})
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
        stream.codec_context.time_base = video.time_base
        for i, frame in enumerate(inp.decode(video)):
            image = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            image.pts, image.time_base = frame.pts, video.time_base
            image.pict_type = av.video.frame.PictureType.I if i in keyframes else av.video.frame.PictureType.NONE
            out.mux(stream.encode(image))
        out.mux(stream.encode(None))


@pytest.fixture(scope="session")
def open_gop_films(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Open-GOP H.264 films with B-frames, in MKV and MP4, keyframes forced at the cuts."""
    folder = tmp_path_factory.mktemp("open_gop")
    source = write_film(folder / "source.mkv", OPEN_GOP_SHOTS, size=(160, 96), seed=5)
    films = {}
    for kind, params in OPEN_GOP_X264.items():
        for suffix in ("mkv", "mp4"):
            films[f"{kind}.{suffix}"] = folder / f"{kind}.{suffix}"
            reencode(source.path, films[f"{kind}.{suffix}"], params, set(OPEN_GOP_CUT_FRAMES))
    return films


class RecordingTap:
    """A frame tap that remembers which frames its sampler handed it."""

    fps = 2.0

    def __init__(self) -> None:
        self.taken: list[tuple[int, int]] = []

    def take(self, frame, thumbnail: np.ndarray) -> None:
        self.taken.append((frame.index, frame.pts))

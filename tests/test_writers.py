"""The views of a result document: editorial timelines read back with OpenTimelineIO, chapters,
the contact sheet, PySceneDetect reading our CSV, and `engine-report`'s handling of bad input.

A real `engine-run` result (a film the test writes: cuts, a fade, a dissolve) checks what the
engine writes; a generated document (`benchmarks.report_film`) adds intro, credits, triggers and
labels, which a model-free run cannot produce.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import opentimelineio as otio
import pytest
from PIL import Image

from filmline.benchmarks.report_film import synthetic_document
from filmline.benchmarks.synthetic import Dissolve, Fade, Shot, write_film
from filmline.engine.cli import main as engine_run
from filmline.engine.config import read_config
from filmline.engine.result import json_bytes, rounded_document
from filmline.engine.writers import FORMATS, ViewOptions, parse_formats, write_views
from filmline.engine.writers.cli import main as engine_report
from filmline.engine.writers.cmx_edl import edl_bytes
from filmline.engine.writers.fcp_xml import fcp_xml_bytes
from filmline.engine.writers.index_page import write_index
from filmline.engine.writers.timeline import build_timeline

TIMELINE = [Shot(40), Shot(30), Shot(45, Fade(out_frames=10, black_frames=14, in_frames=10)), Shot(40, Dissolve(frames=14)),
            Shot(30)]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`engine-run` (no model) on a film with cuts, a fade and a dissolve: its `<stem>.json`."""
    folder = tmp_path_factory.mktemp("run")
    film = write_film(folder / "film.mkv", TIMELINE, seed=5)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    code = engine_run([film.path, "--out", str(folder / "out"), "--backend", "none", "--no-progress",
                       "--no-triggers", "--no-intro"])
    assert code == 0
    return folder / "out" / "film.json"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """A generated 10-minute document with 60 shots and every view of it written."""
    folder = tmp_path_factory.mktemp("generated")
    document = synthetic_document(shots=60, seconds=600, fps=24, seed=2)
    write_views(document, FORMATS, ViewOptions(folder, "film", folder))
    return document, folder


def report(*args: str, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = engine_report([*args])
    out, err = capsys.readouterr()
    return code, out, err


def test_engine_run_writes_the_default_views_and_the_index(result: Path) -> None:
    written = sorted(p.name for p in result.parent.iterdir() if p.is_file())
    assert written == ["film.html", "film.json", "film.shots.csv", "index.html"]


def test_engine_run_refuses_an_unknown_format_before_decoding(result: Path, tmp_path: Path, capsys) -> None:
    document = json.loads(result.read_text())
    code = engine_run([document["video"]["path"], "--out", str(tmp_path / "out"), "--format", "json,mp3", "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2 and "mp3" in err and "fcpxml" in err
    assert not (tmp_path / "out").exists()


def test_every_format_from_a_saved_result(result: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = report(str(result), "--format", "all", capsys=capsys)
    assert code == 0, err
    stem = result.parent / "film"
    for suffix in (".html", ".otio", ".edl", ".fcp.xml", ".chapters.vtt", ".ffmetadata", ".sheet.jpg", ".shots.csv"):
        assert Path(f"{stem}{suffix}").is_file() and f"film{suffix}" in out
    assert (result.parent / "index.html").is_file()
    assert not list(result.parent.glob(".*.tmp"))


_READ: list = []  # timelines read back stay alive while their items are inspected


def _track(path: Path, **kwargs) -> list:
    _READ.append(otio.adapters.read_from_file(str(path), **kwargs))
    return list(_READ[-1].video_tracks()[0])


@pytest.mark.parametrize("suffix", [".otio", ".fcp.xml"])
def test_otio_and_fcp_xml_read_back_with_the_same_cut_frames(result: Path, suffix: str, capsys) -> None:
    assert report(str(result), "--format", "otio,fcpxml", capsys=capsys)[0] == 0
    document = json.loads(result.read_text())
    items = _track(result.parent / f"film{suffix}")
    clips = [item for item in items if isinstance(item, otio.schema.Clip)]
    assert [c.source_range.start_time.to_frames() for c in clips] == [s["start_frame"] for s in document["shots"]]
    assert [c.source_range.duration.to_frames() for c in clips] == [s["end_frame"] - s["start_frame"] + 1
                                                                     for s in document["shots"]]
    assert [c.range_in_parent().start_time.to_frames() for c in clips] == [s["start_frame"] for s in document["shots"]]
    gradual = [s["transition_in"] for s in document["shots"][1:] if s["transition_in"]["span"]]
    transitions = [item for item in items if isinstance(item, otio.schema.Transition)]
    assert gradual, "the film has a fade and a dissolve"
    spans = [g["span"]["end_frame"] - g["span"]["start_frame"] + 1 for g in gradual]
    lengths = [(t.in_offset + t.out_offset).to_frames() for t in transitions]
    if suffix == ".otio":
        assert lengths == spans
    else:  # FCP 7 XML holds a transition centred on its cut: centred, and inside the span
        assert [t.in_offset.to_frames() for t in transitions] == [t.out_offset.to_frames() for t in transitions]
        assert all(0 < length <= span for length, span in zip(lengths, spans))


def test_edl_reads_back_with_the_cuts_and_where_each_dissolve_starts(result: Path, capsys) -> None:
    """CMX 3600 carries a dissolve as an event starting where the blend starts: a clip after a
    gradual boundary reads back starting at the span's first frame, the blend's length kept."""
    assert report(str(result), "--format", "edl", capsys=capsys)[0] == 0
    document = json.loads(result.read_text())
    fps = otio.opentime.RationalTime.nearest_valid_timecode_rate(document["video"]["average_fps"])
    items = _track(result.parent / "film.edl", rate=fps)
    clips = [item for item in items if isinstance(item, otio.schema.Clip)]
    expected = []
    for shot in document["shots"]:
        span = (shot["transition_in"] or {}).get("span")
        expected.append(span["start_frame"] if span else shot["start_frame"])
    assert [c.range_in_parent().start_time.to_frames() for c in clips] == expected
    lengths = [t.duration().to_frames() for t in items if isinstance(t, otio.schema.Transition)]
    assert lengths == [s["transition_in"]["span"]["end_frame"] - s["transition_in"]["span"]["start_frame"] + 1
                       for s in document["shots"][1:] if s["transition_in"]["span"]]


@pytest.mark.parametrize("fps, path", [(25.0, "film.mkv"), (29.97, "/media/My Film (2).mov"), (23.976, "C:\\films\\a.mp4"),
                                       (24.0, '/media/Tom & "Jerry" <cut>.mov')])
def test_edl_and_fcp_xml_are_what_the_otio_adapters_write(fps: float, path: str) -> None:
    """Our EDL and FCP XML writers stand in for the adapters' `write_to_string` (too slow for a
    long film): for the timeline we build, the adapters write the same text, byte for byte."""
    document = synthetic_document(shots=150, seconds=450, fps=fps, seed=4, video_path=path)
    assert sum(bool(s["transition_in"] and s["transition_in"]["span"]) for s in document["shots"]) >= 5
    edl = otio.adapters.write_to_string(build_timeline(document, "film"), adapter_name="cmx_3600")
    assert edl_bytes(build_timeline(document, "film")) == edl.encode("utf-8")
    centred = build_timeline(document, "film")  # FCP 7 XML: each transition centred, the shorter side on both
    track = centred.tracks[0]
    for index in reversed(range(len(track))):
        if isinstance(track[index], otio.schema.Transition):
            half = min(track[index].in_offset, track[index].out_offset)
            if half.value:
                track[index].in_offset = track[index].out_offset = half
            else:
                del track[index]
    fcp = otio.adapters.write_to_string(centred, adapter_name="fcp_xml")
    assert fcp_xml_bytes(build_timeline(document, "film")) == fcp.encode("utf-8")


def test_markers_labels_and_captions_travel_in_the_otio(generated) -> None:
    document, folder = generated
    timeline = otio.adapters.read_from_file(str(folder / "film.otio"))
    clips = list(timeline.find_clips())
    assert [list(c.metadata["filmline"]["labels"]) for c in clips] == [s["labels"] for s in document["shots"]]
    assert [c.metadata["filmline"]["caption"] for c in clips] == [s["caption"] for s in document["shots"]]
    markers = [(m.name, c.name) for c in clips for m in c.markers]
    names = [name for name, _ in markers]
    assert "intro" in names and "credits" in names
    assert sum(name.startswith("trigger") for name in names) == len(document["triggers"]["triggers"])
    edl = (folder / "film.edl").read_text()
    assert "INTRO" in edl and "CREDITS" in edl  # LOC lines


def _vtt(path: Path) -> list[tuple[str, str, str]]:
    blocks = path.read_text().strip().split("\n\n")[1:]
    return [tuple(block.split("\n")[1].split(" --> ")) + (block.split("\n")[2],) for block in blocks]


def test_chapters_cover_the_video_with_intro_and_credits_named(generated) -> None:
    document, folder = generated
    chapters = _vtt(folder / "film.chapters.vtt")
    assert chapters[0][0] == "00:00:00.000"
    assert all(a[1] == b[0] for a, b in zip(chapters, chapters[1:]))  # contiguous
    titles = [title for _, _, title in chapters]
    assert titles.count("Intro") == 1 and titles.count("Credits") == 1
    min_seconds = read_config("report.yaml")["chapters"]["min_seconds"]
    meta = (folder / "film.ffmetadata").read_text().split("\n")
    assert meta[0] == ";FFMETADATA1" and meta.count("TIMEBASE=1/1000") == len(chapters)
    starts = [int(line[6:]) for line in meta if line.startswith("START=")]
    ends = [int(line[4:]) for line in meta if line.startswith("END=")]
    assert ends[-1] == round(document["video"]["duration"] * 1000)
    intro = titles.index("Intro")
    assert starts[intro] == round(document["intro"]["start"] * 1000)
    scene = [title.startswith("Chapter") for title in titles]
    for i, (start, end) in enumerate(zip(starts, ends)):  # scene chapters: merged up to the minimum length,
        alone = not (i > 0 and scene[i - 1]) and not (i + 1 < len(scene) and scene[i + 1])  # unless alone in a gap
        if scene[i] and not alone:
            assert end - start >= min_seconds * 1000


def test_chapters_per_shot(result: Path, capsys) -> None:
    assert report(str(result), "--format", "vtt", "--chapters", "shots", capsys=capsys)[0] == 0
    document = json.loads(result.read_text())
    chapters = _vtt(result.parent / "film.chapters.vtt")
    assert [title for _, _, title in chapters] == [f"Shot {i + 1}" for i in range(len(document["shots"]))]


def test_contact_sheet_has_a_tile_per_shot(result: Path, capsys) -> None:
    assert report(str(result), "--format", "sheet", capsys=capsys)[0] == 0
    document = json.loads(result.read_text())
    settings = read_config("report.yaml")["sheet"]
    with Image.open(result.parent / "film.sheet.jpg") as sheet:
        columns = min(settings["columns"], len(document["shots"]))
        assert sheet.width == settings["columns"] * settings["tile_width"] and columns >= 1
        first = document["shots"][0]["thumbnail"]
        with Image.open(result.parent / first) as key:  # the first tile is the first key frame, scaled
            tile = sheet.crop((0, 28, 32, 28 + 16)).convert("L")
            scaled = key.convert("L").resize((settings["tile_width"], sheet.height)).crop((0, 0, 32, 16))
            assert abs(sum(tile.get_flattened_data()) / 512 - sum(scaled.get_flattened_data()) / 512) < 40


@pytest.mark.skipif(shutil.which("scenedetect") is None, reason="pip install -e '.[bench]' (PySceneDetect)")
def test_pyscenedetect_loads_our_csv_and_gets_our_cuts(result: Path, tmp_path: Path) -> None:
    document = json.loads(result.read_text())
    video = document["video"]["path"]
    ran = subprocess.run(["scenedetect", "-i", video, "-o", str(tmp_path), "load-scenes", "-i",
                          str(result.parent / "film.shots.csv"), "list-scenes", "-f", "theirs.csv"],
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    with open(tmp_path / "theirs.csv", newline="") as handle:
        rows = list(csv.reader(handle))[2:]
    assert [int(row[1]) - 1 for row in rows] == [s["start_frame"] for s in document["shots"]]


def test_report_into_another_folder_refers_back_to_the_key_frames(result: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "elsewhere"
    assert report(str(result), "--out", str(out), capsys=capsys)[0] == 0
    page = (out / "film.html").read_text()
    document = json.loads(result.read_text())
    first = document["shots"][0]["thumbnail"]
    assert f'src="{os.path.relpath(result.parent / first, out)}"' in page
    assert (out / "film.json").is_file() and '<tr class="video"' in (out / "index.html").read_text()


def test_index_lists_every_result_in_the_folder_and_nothing_else(result: Path, tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        shutil.copy(result, tmp_path / name)
    (tmp_path / "notes.json").write_text('{"not": "ours"}')
    (tmp_path / "a.html").write_text("")
    write_index(tmp_path)
    page = (tmp_path / "index.html").read_text()
    assert page.count('<tr class="video"') == 2
    assert '<a href="a.html">film.mkv</a>' in page and "notes" not in page


def test_unknown_format_lists_the_valid_ones(result: Path, capsys) -> None:
    code, _, err = report(str(result), "--format", "html,pdf", capsys=capsys)
    assert code == 2 and "pdf" in err and all(name in err for name in FORMATS) and len(err.strip().splitlines()) == 1
    assert parse_formats("all") == FORMATS and parse_formats("CSV, json") == ("json", "csv")


def test_a_file_that_is_not_our_result_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('{"shots": []}')
    text = tmp_path / "text.json"
    text.write_text("not json at all")
    for path in (notes, text, tmp_path / "missing.json"):
        code, _, err = report(str(path), capsys=capsys)
        assert code == 2 and str(path) in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.html"))


def test_a_newer_schema_is_refused(result: Path, tmp_path: Path, capsys) -> None:
    document = json.loads(result.read_text())
    document["schema_version"] = "99.0"
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(document))
    code, _, err = report(str(newer), capsys=capsys)
    assert code == 2 and "newer" in err and "99.0" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "newer.html").exists()


def test_html_of_a_two_hour_film_with_2000_shots_stays_under_5_mb(tmp_path: Path) -> None:
    document = synthetic_document(shots=2000, seconds=7200, fps=25, seed=3)
    (html,) = write_views(document, ("html",), ViewOptions(tmp_path, "film", tmp_path))
    assert html.stat().st_size < 5_000_000
    assert html.read_text().count('<tr class="shot"') == 2000


def test_views_follow_the_umask(generated, tmp_path: Path) -> None:
    document, _ = generated
    previous = os.umask(0o027)
    try:
        written = write_views(document, ("csv", "vtt"), ViewOptions(tmp_path, "film", tmp_path))
    finally:
        os.umask(previous)
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {oct(0o640)}


def _stdlib_json(document) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def test_json_view_is_what_the_standard_library_writes(result: Path, generated) -> None:
    """The JSON view (written through orjson where that gives the same bytes) is byte for byte
    `json.dumps(indent=2, ensure_ascii=False)`: for a real run's document, a generated film's, and
    values orjson writes differently (NaN, tiny floats) or refuses (int keys, huge ints)."""
    saved = result.read_bytes()
    assert saved == _stdlib_json(json.loads(saved))
    document, folder = generated
    assert (folder / "film.json").read_bytes() == _stdlib_json(rounded_document(document))
    odd = {"nan": float("nan"), "inf": [float("-inf")], "tiny": [1e-06, 5e-05, 3e-07], 7: "int key",
           "huge": 2**70, "text": "0.00001 ü \u2028 \x01"}
    assert json_bytes(odd) == _stdlib_json(odd)
    assert b"NaN" in json_bytes({"score": float("nan")})  # not silently null

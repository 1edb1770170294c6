"""engine-train intro: published annotations (and their repair), balanced windows, a tiny
transformer that learns the intro of a synthetic season from three episodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from filmline.benchmarks.synthetic_series import ANNOTATIONS, write_series
from filmline.engine.cli_support import run_subcommands
from filmline.engine.errors import BadInputError
from filmline.engine.evaluation.intro import Case, score
from filmline.engine.models.intro import IntroConfig, IntroTransformer, load_checkpoint
from filmline.engine.stages.intro import IntroSettings, best_entries
from filmline.engine.training.intro_annotations import Episode, check_duration, load_annotations, parse_time
from filmline.engine.training.intro_features import Embedder
from filmline.engine.training.intro_fit import FitSettings, Labelled, balanced_pieces, fit, predict

EMBEDDER = "luma-16x9"  # 144-d standardised thumbnails: no weights needed
TINY = dict(window=60, layers=2, heads=4, feedforward=64, dropout=0.1)


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    """Four 90 s episodes sharing a 20 s intro and 15 s of credits, with their embeddings."""
    truths = write_series(tmp_path_factory.mktemp("train_season"), 4, seed=3)
    embed = Embedder(EMBEDDER)
    return truths, [Labelled(t.name, embed(t.path), t.intro, t.credits) for t in truths]


def _train_cli(*args: str) -> int:
    return run_subcommands("engine-train", "test", {"intro": "filmline.engine.training.intro"}, ["intro", *args])


def _write(path: Path, annotations: dict) -> Path:
    path.write_text(json.dumps(annotations))
    return path


def test_parse_time():
    assert parse_time("01:02:03", "x") == 3723
    assert parse_time("00:00:05.250", "x") == 5.25
    assert parse_time("2:05", "x") == 125
    assert parse_time(42, "x") == 42.0
    for bad in ("5 min", "00:61:00", "-3", True, None):
        with pytest.raises(BadInputError, match="x: time"):
            parse_time(bad, "x")


def test_annotations_repair_and_extensions(tmp_path):
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        (tmp_path / name).write_bytes(b"")
    path = _write(tmp_path / "ann.json", {
        "a.mp4": {"start": "00:01:05", "end": "00:00:35"},  # the paper's defect: start a minute late
        "b.mp4": {"start": "00:00:10", "end": "00:00:40", "credits": {"start": "00:20:00", "end": "00:21:00"}},
        "c.mp4": {"start": None, "end": None},  # known to have no intro
    })
    annotations = load_annotations(path, tmp_path)
    a, b, c = annotations.episodes
    assert a.intro == (5.0, 35.0) and b.intro == (10.0, 40.0) and b.credits == (1200.0, 1260.0) and c.intro is None
    assert len(annotations.repairs) == 1 and "a.mp4" in annotations.repairs[0] and "00:00:05" in annotations.repairs[0]


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"start": "00:03:00", "end": "00:01:00"}, "not after start.*a minute earlier does not help"),
        ({"start": "00:00:10", "end": "00:00:10"}, "not after start"),
        ({"start": "00:00:10"}, "must be"),
        ({"start": "ten", "end": "00:00:20"}, r"time 'ten' is not a time: give seconds .* or \[HH:\]MM:SS"),
        ({"start": "00:61:00", "end": "01:02:00"}, "minutes or seconds of 60 or more"),
    ],
)
def test_annotation_errors(tmp_path, entry, message):
    (tmp_path / "a.mp4").write_bytes(b"")
    with pytest.raises(BadInputError, match=f"ann.json: a.mp4.*{message}") as err:
        load_annotations(_write(tmp_path / "ann.json", {"a.mp4": entry}), tmp_path)
    assert "\n" not in str(err.value)


def test_unknown_file_and_unreadable_file(tmp_path):
    with pytest.raises(BadInputError, match=r"ann.json: ghost.mp4 is not a file in .*fix the name or drop the entry"):
        load_annotations(_write(tmp_path / "ann.json", {"ghost.mp4": {"start": "00:00:01", "end": "00:00:09"}}), tmp_path)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(BadInputError, match="not readable JSON"):
        load_annotations(tmp_path / "broken.json", tmp_path)


def test_times_past_the_end():
    episode = Episode("a.mp4", Path("a.mp4"), (10.0, 130.0), None)
    check_duration(episode, 129.5, Path("ann.json"))  # within a second: rounding
    with pytest.raises(BadInputError, match=r"a.mp4 intro ends at 00:02:10, after the video's end at 00:01:30"):
        check_duration(episode, 90.0, Path("ann.json"))


def test_balanced_pieces(season):
    _, episodes = season
    pieces = balanced_pieces(episodes[:2], ("intro", "credits"), 60)
    assert len(pieces) == 4
    (x, y), (xc, yc) = pieces[0], pieces[1]
    intro = int(y[:, 0].sum())
    assert intro == 20 and len(x) == 40 and (y[:intro, 0] == 1).all() and (y[intro:] == 0).all()  # intro, then as much film
    assert len(xc) == 30 and (yc[:15] == 0).all() and (yc[15:, 1] == 1).all()  # as much film, then the credits
    no_intro = Labelled("x", episodes[0].embeddings, None, None)
    [(x0, y0)] = balanced_pieces([no_intro], ("intro",), 60)
    assert len(x0) == 60 and not y0.any()
    with pytest.raises(BadInputError, match="less than one window"):
        balanced_pieces(episodes[:1], ("intro",), 60)


@pytest.fixture
def one_thread():
    """Tiny tensors gain nothing from a second thread, and on busy CI cores its spinning costs
    several times the work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_tiny_transformer_learns_the_intro_from_three_episodes(season, one_thread):
    truths, episodes = season
    torch.manual_seed(0)
    config = IntroConfig(dim=episodes[0].embeddings.shape[1], outputs=("intro", "credits"), **TINY)
    model = IntroTransformer(config)
    losses = fit(model, balanced_pieces(episodes[:3], config.outputs, config.window), FitSettings(epochs=20, lr=1e-3))
    assert losses[-1] < 0.1 * losses[0]
    settings = IntroSettings.from_config()
    held_out, truth = episodes[3], truths[3]
    probabilities = predict(model, held_out.embeddings, settings.stride)
    found = {e["kind"]: (e["start"], e["end"]) for e in best_entries(probabilities, config.outputs, settings, "intro_transformer")}
    for kind in ("intro", "credits"):
        scores = score(kind, [Case(truth.name, getattr(truth, kind), found.get(kind), truth.duration)])
        assert scores.f1 >= 0.9, (kind, scores, found)


def test_engine_train_end_to_end(season, tmp_path, capsys, one_thread):
    truths, _ = season
    folder = Path(truths[0].path).parent
    annotations = json.loads((folder / ANNOTATIONS).read_text())
    first = truths[0].name
    start = parse_time(annotations[first]["start"], "")
    annotations[first]["start"] = f"00:01:{start:06.3f}"  # a minute late: repaired
    out = tmp_path / "model" / "intro.pt"
    code = _train_cli(
        "--annotations", str(_write(tmp_path / "ann.json", annotations)), "--videos", str(folder),
        "--embedder", EMBEDDER, "--layers", "1", "--heads", "4", "--feedforward", "32", "--epochs", "2",
        "--lr", "1e-3", "--out", str(out), "--cache", str(tmp_path / "cache"), "--validation-fraction", "0.25",
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"repaired ann.json: {first}" in printed.err and "engine-build --model intro --checkpoint" in printed.out
    loaded = load_checkpoint(out)
    assert loaded.embedder == EMBEDDER and loaded.model.config.outputs == ("intro", "credits")
    metrics = json.loads((out.parent / "intro.metrics.json").read_text())
    assert len(metrics["validation_episodes"]) == 1 and len(metrics["train_episodes"]) == 3
    assert set(metrics["validation"]) == {"intro", "credits"}
    assert set(metrics["validation"]["intro"]["per_second"]) == {"precision", "recall", "f1", "accuracy"}
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 4


def test_engine_train_reports_bad_annotations_in_one_line(season, tmp_path, capsys):
    truths, _ = season
    folder = Path(truths[0].path).parent
    late = {truths[0].name: {"start": "00:00:10", "end": "00:05:00"}}
    code = _train_cli("--annotations", str(_write(tmp_path / "ann.json", late)), "--videos", str(folder), "--embedder", EMBEDDER)
    err = capsys.readouterr().err
    assert code == BadInputError.exit_code and len(err.strip().splitlines()) == 1
    assert "after the video's end" in err and "Traceback" not in err

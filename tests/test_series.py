"""Cross-episode matching on a synthetic season decoded from real video files.

The season (benchmarks.synthetic_series) is written small: 160×96 at 5 frames/s, 90 s episodes.
Features are what `engine-run --series` has without encoder weights: 64×36 luminance thumbnails
of the frames nearest to each second (the decoder's `to_rgb(64, 36)`), flattened.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from filmline.benchmarks.synthetic_series import ANNOTATIONS, load_series, write_series
from filmline.engine.errors import BadInputError
from filmline.engine.stages.series import SeriesSettings, _pairs, find_recurring
from filmline.engine.training.intro_annotations import parse_time
from filmline.engine.training.intro_features import sample_images

TOLERANCE = 1.0  # seconds, at 1 frame/s
WITHOUT_INTRO = 2  # 0-based episode number that has no intro


def _cheap_features(path: str) -> np.ndarray:
    images = sample_images(path, (64, 36)).astype(np.float32)
    luma = images @ np.array([0.299, 0.587, 0.114], np.float32)
    return luma.reshape(len(luma), -1)


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    """Five episodes sharing a 20 s intro (one without it) and 15 s of credits, and their features."""
    truths = write_series(tmp_path_factory.mktemp("season"), 5, seed=4, without_intro=(WITHOUT_INTRO,))
    return truths, [_cheap_features(t.path) for t in truths]


def _entry(entries: list[dict], kind: str) -> dict | None:
    found = [e for e in entries if e["kind"] == kind]
    assert len(found) <= 1
    return found[0] if found else None


def _assert_close(entry: dict | None, truth: tuple[float, float], what: str) -> None:
    assert entry is not None, f"{what}: nothing found, truth {truth}"
    assert abs(entry["start"] - truth[0]) <= TOLERANCE and abs(entry["end"] - truth[1]) <= TOLERANCE, (what, entry, truth)
    assert entry["method"] == "cross_episode" and 0 < entry["confidence"] <= 1


def test_writer_truth_and_annotations(season):
    truths, features = season
    folder = Path(truths[0].path).parent
    assert load_series(folder) == truths
    offsets = [t.intro[0] for t in truths if t.intro is not None]
    assert len(set(offsets)) == len(offsets) and all(offset % 1 for offset in offsets)  # not on whole seconds
    assert truths[WITHOUT_INTRO].intro is None
    for truth, feature in zip(truths, features):
        assert truth.credits[1] == pytest.approx(truth.duration)
        assert len(feature) == int(np.ceil(truth.duration))  # one sample per second
    annotations = json.loads(Path(folder, ANNOTATIONS).read_text())
    assert sorted(annotations) == sorted(t.name for t in truths if t.intro is not None)
    first = next(t for t in truths if t.intro is not None)
    entry = annotations[first.name]
    assert parse_time(entry["start"], "") == pytest.approx(first.intro[0])
    assert parse_time(entry["credits"]["end"], "") == pytest.approx(first.credits[1])


def test_finds_every_intro_and_credits_within_a_second(season):
    truths, features = season
    results = find_recurring(features, SeriesSettings.from_config())
    for truth, entries in zip(truths, results):
        if truth.intro is None:
            assert _entry(entries, "intro") is None, (truth.name, entries)
        else:
            _assert_close(_entry(entries, "intro"), truth.intro, f"{truth.name} intro")
        _assert_close(_entry(entries, "credits"), truth.credits, f"{truth.name} credits")


@pytest.mark.parametrize(
    "intro_seconds, episode_seconds, fps", [(10, 60, 5), (30, 120, 6)], ids=["10s-intro", "30s-intro"]
)
def test_short_and_long_intros(tmp_path, intro_seconds, episode_seconds, fps):
    truths = write_series(tmp_path, 4, intro_seconds=intro_seconds, credits_seconds=10,
                          episode_seconds=episode_seconds, fps=fps, seed=7)
    results = find_recurring([_cheap_features(t.path) for t in truths], SeriesSettings.from_config())
    for truth, entries in zip(truths, results):
        _assert_close(_entry(entries, "intro"), truth.intro, f"{truth.name} intro")
        _assert_close(_entry(entries, "credits"), truth.credits, f"{truth.name} credits")


def test_two_episodes_are_enough(season):
    truths, features = season
    pair = [i for i, t in enumerate(truths) if t.intro is not None][:2]
    results = find_recurring([features[i] for i in pair], SeriesSettings.from_config())
    for i, entries in zip(pair, results):
        _assert_close(_entry(entries, "intro"), truths[i].intro, f"{truths[i].name} intro")
        assert _entry(entries, "intro")["confidence"] > 0.9


def test_any_embedding_width(season):
    """An image encoder's embeddings are another width; a fixed random projection stands in."""
    truths, features = season
    projection = np.random.default_rng(0).standard_normal((features[0].shape[1], 48)).astype(np.float32)
    results = find_recurring([f @ projection for f in features], SeriesSettings.from_config())
    for truth, entries in zip(truths, results):
        if truth.intro is not None:
            _assert_close(_entry(entries, "intro"), truth.intro, f"{truth.name} intro")


def test_nothing_recurs_in_unrelated_episodes():
    rng = np.random.default_rng(1)
    episodes = [rng.standard_normal((120, 32)).astype(np.float32) for _ in range(3)]
    assert find_recurring(episodes, SeriesSettings.from_config()) == [[], [], []]


@pytest.mark.parametrize("impl", ["reference", "triton"])
@pytest.mark.parametrize("offsets", [(0, 7, 13), (30, 2, 18, 9)])
def test_shared_block_in_random_features(offsets, impl, monkeypatch):
    """A shared 25 s block at different offsets (the intro region is the first 40 %), with either
    implementation of the match kernel (Triton runs in its interpreter without a GPU)."""
    if impl == "triton":
        pytest.importorskip("triton")
    monkeypatch.setenv("FILMLINE_KERNELS", impl)
    rng = np.random.default_rng(len(offsets))
    block = rng.standard_normal((25, 64)).astype(np.float32)
    episodes = []
    for offset in offsets:
        episode = rng.standard_normal((150, 64)).astype(np.float32)
        episode[offset : offset + 25] = block + 0.1 * rng.standard_normal(block.shape)
        episodes.append(episode)
    for offset, entries in zip(offsets, find_recurring(episodes, SeriesSettings.from_config())):
        _assert_close(_entry(entries, "intro"), (offset, offset + 25), f"offset {offset}")
        assert _entry(entries, "credits") is None


def test_black_frames_match_nothing():
    rng = np.random.default_rng(2)
    episodes = [np.concatenate([np.zeros((20, 16), np.float32), rng.standard_normal((80, 16)).astype(np.float32)]) + 16 for _ in range(2)]
    assert find_recurring(episodes, SeriesSettings.from_config()) == [[], []]


def test_partners_are_capped_and_connected():
    for count, cap in [(2, 8), (9, 8), (20, 8), (20, 3)]:
        pairs = _pairs(count, cap)
        partners = [sum(e in p for p in pairs) for e in range(count)]
        assert min(partners) >= 1 and max(partners) <= max(cap, 2)
        if cap >= count - 1:
            assert len(pairs) == count * (count - 1) // 2


def test_errors():
    with pytest.raises(BadInputError, match="at least two episodes"):
        find_recurring([np.zeros((10, 4), np.float32)], SeriesSettings.from_config())
    with pytest.raises(ValueError, match="one width"):
        find_recurring([np.ones((10, 4), np.float32), np.ones((10, 5), np.float32)], SeriesSettings.from_config())
    with pytest.raises(BadInputError, match="intro_fraction"):
        SeriesSettings.from_config(intro_fraction=0)

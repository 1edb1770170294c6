"""Shot assembly: coverage, order, minimum length, verification by embeddings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filmline.engine.stages.cheap_pass import FrameChanges
from filmline.engine.stages.cut_candidates import CutCandidateDetector, CutRules, find_cut_candidates
from filmline.engine.stages.gradual import GradualTransition
from filmline.engine.stages.shots import Boundary, EmbeddingTable, build_shots, decide_boundaries


@st.composite
def videos_with_boundaries(draw):
    frame_count = draw(st.integers(min_value=1, max_value=400))
    steps = draw(st.lists(st.sampled_from([1 / 24, 1 / 25, 1 / 30, 1 / 60, 0.1]), min_size=frame_count, max_size=frame_count))
    seconds = np.concatenate([[0.0], np.cumsum(steps[:-1])]) + draw(st.sampled_from([0.0, 1.0]))
    seconds -= seconds[0]
    frames = draw(st.lists(st.integers(min_value=-3, max_value=frame_count + 3), max_size=40, unique=True))
    boundaries = []
    for frame in sorted(frames):
        kind = draw(st.sampled_from(["cut", "cut", "dissolve", "fade_in", "fade_out"]))
        span = None if kind == "cut" else (max(frame - 3, 0), frame + 2)
        similarity = draw(st.one_of(st.none(), st.floats(min_value=-1, max_value=1)))
        boundaries.append(Boundary(frame, kind, span, draw(st.floats(min_value=0, max_value=255)), similarity))
    min_shot = draw(st.sampled_from([0.0, 0.3, 0.6, 2.0]))
    return seconds, float(seconds[-1] + steps[-1]), boundaries, min_shot


@settings(max_examples=300, deadline=None)
@given(videos_with_boundaries())
def test_shots_cover_every_frame_once_in_order_and_respect_min_length(case):
    seconds, end_seconds, boundaries, min_shot = case
    shots = build_shots(boundaries, seconds, end_seconds, min_shot)
    frame_count = len(seconds)
    assert shots[0].start_frame == 0
    assert shots[-1].end_frame == frame_count - 1  # the last shot is emitted
    for k, shot in enumerate(shots):
        assert shot.index == k
        assert shot.start_frame <= shot.end_frame
        if k:
            assert shot.start_frame == shots[k - 1].end_frame + 1
            assert shot.transition_in is shots[k - 1].transition_out
    if len(shots) > 1:
        for shot in shots:
            end = seconds[shot.end_frame + 1] if shot.end_frame + 1 < frame_count else end_seconds
            assert end - seconds[shot.start_frame] >= min_shot - 1e-9


def test_short_shot_gives_up_its_weaker_boundary():
    seconds = np.arange(100) / 25.0
    strong = Boundary(50, "cut", None, 200.0, similarity=0.1)
    weak = Boundary(55, "cut", None, 20.0, similarity=0.7)
    shots = build_shots([strong, weak], seconds, 4.0, min_shot_seconds=0.6)
    assert [s.start_frame for s in shots] == [0, 50]


def test_short_black_gap_between_fades_becomes_one_fade():
    seconds = np.arange(200) / 25.0
    fade_out = Boundary(100, "fade_out", (80, 99), 20.0)
    fade_in = Boundary(105, "fade_in", (105, 125), 21.0)
    shots = build_shots([fade_out, fade_in], seconds, 8.0, min_shot_seconds=0.6)
    assert [s.start_frame for s in shots] == [0, 105]
    assert shots[1].transition_in.kind == "fade"
    assert shots[1].transition_in.span == (80, 125)


def test_single_frame_video_is_one_shot():
    shots = build_shots([], np.array([0.0]), 0.04, 0.6)
    assert [(s.start_frame, s.end_frame) for s in shots] == [(0, 0)]


def _table(frames: list[int], vectors: list[list[float]]) -> EmbeddingTable:
    return EmbeddingTable(frames, np.asarray(vectors, dtype=np.float32))


def test_cut_is_kept_only_when_embeddings_across_it_differ():
    table = _table([9, 10, 19, 20], [[1, 0], [0, 1], [1, 0], [1, 0.1]])
    kept, rejected = decide_boundaries({10: 80.0, 20: 90.0}, [], table, threshold=0.825)
    assert [b.frame for b in kept] == [10]
    assert kept[0].similarity == pytest.approx(0.0, abs=1e-6)
    assert [b.frame for b in rejected] == [20]


def test_dissolve_is_verified_with_the_embeddings_either_side_of_its_span():
    table = _table([0, 25, 50, 75], [[1, 0], [1, 0], [0, 1], [0, 1]])
    dissolve = GradualTransition("dissolve", 30, 45)
    kept, _ = decide_boundaries({}, [dissolve], table, threshold=0.825)
    assert [(b.frame, b.kind, b.span) for b in kept] == [(38, "dissolve", (30, 45))]


def test_fades_stand_without_verification_and_absorb_cuts_inside():
    table = _table([0, 50], [[1, 0], [1, 0]])
    fade = GradualTransition("fade_in", 20, 40)
    kept, rejected = decide_boundaries({30: 60.0}, [fade], table, threshold=0.825)
    assert [(b.frame, b.kind) for b in kept] == [(20, "fade_in")]
    assert rejected == []


def test_without_encoder_every_candidate_stands():
    kept, rejected = decide_boundaries({10: 50.0, 20: 50.0}, [], None, threshold=0.825)
    assert [b.frame for b in kept] == [10, 20] and rejected == []


def test_cut_candidates_at_exact_frames_and_streaming_equals_batch():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.5, 3.0, 300)
    scores[[40, 41 + 20, 200]] = [90.0, 60.0, 45.0]
    expected = find_cut_candidates(scores, ratio=3.0, window=2, min_score=12.0)
    assert expected == [40, 61, 200]
    detector = CutCandidateDetector(CutRules(3.0, 2, 12.0))
    streamed = []
    for chunk in np.array_split(scores, 17):
        streamed += detector.push(chunk)
    streamed += detector.finish()
    assert streamed == expected


def test_flat_change_is_no_cut_and_first_frame_never_is():
    assert find_cut_candidates([100.0] * 50, 3.0, 2, 12.0) == []
    assert find_cut_candidates([500.0, 1.0, 1.0], 3.0, 2, 12.0) == []


def test_a_cut_before_a_short_last_shot_stands_without_a_floor():
    seconds = np.arange(250) / 25.0  # bikes.mp4: its last cut opens an 8-frame shot
    cuts = [Boundary(187, "cut", None, 56.0), Boundary(242, "cut", None, 56.0)]
    shots = build_shots(cuts, seconds, 10.0, min_shot_seconds=0.0, black_gap_seconds=0.8)
    assert [s.start_frame for s in shots] == [0, 187, 242]


def test_a_floor_gives_up_an_unverified_dissolve_before_any_cut():
    seconds = np.arange(200) / 25.0
    dissolve = Boundary(50, "dissolve", (44, 56), 13.0)
    cut = Boundary(60, "cut", None, 20.0)
    shots = build_shots([dissolve, cut], seconds, 8.0, min_shot_seconds=0.6)
    assert [s.start_frame for s in shots] == [0, 60]


@pytest.mark.parametrize(("black_frames", "starts"), [(10, [0, 110]), (30, [0, 100, 130])])
def test_only_short_black_between_fades_joins_them_without_a_floor(black_frames: int, starts: list[int]):
    seconds = np.arange(300) / 25.0
    fade_out = Boundary(100, "fade_out", (80, 99), 20.0)
    fade_in = Boundary(100 + black_frames, "fade_in", (100 + black_frames, 120 + black_frames), 21.0)
    shots = build_shots([fade_out, fade_in], seconds, 12.0, min_shot_seconds=0.0, black_gap_seconds=0.8)
    assert [s.start_frame for s in shots] == starts


def _changes(luma_means: list[float], colour: list[float] | None = None, returns: int = 4) -> FrameChanges:
    """What `CheapPass` reports for flat frames of these mean luminances (colour: histogram change)."""
    luma = np.asarray(luma_means, dtype=np.float64)
    lagged = np.zeros((len(luma), returns))
    for k in range(1, returns + 1):
        lagged[k:, k - 1] = np.abs(luma[k:] - luma[:-k])
    hist = np.zeros(len(luma)) if colour is None else np.asarray(colour)
    return FrameChanges(lagged[:, 0] + 50.0 * hist, hist, lagged)


FLASH_RULES = CutRules(3.0, 2, 12.0, min_colour=0.1, flash_frames=3, flash_return=0.5)


@pytest.mark.parametrize("lit", [1, 2, 3])
def test_a_flash_is_no_cut_but_a_cut_to_another_picture_is(lit: int):
    flash = [100.0] * 20 + [220.0] * lit + [100.0] * 20
    cut = [100.0] * 20 + [220.0] * 20
    for luma, expected in ((flash, []), (cut, [20])):
        detector = CutCandidateDetector(FLASH_RULES)
        changes, found = _changes(luma), []
        for start in range(0, len(luma), 7):  # batches that split the flash anywhere
            part = slice(start, start + 7)
            found += detector.push(FrameChanges(changes.score[part], changes.colour[part], changes.returns[part]))
        assert found + detector.finish() == expected


def test_a_cut_inside_fast_motion_stands_out_in_colour():
    luma = [30.0 * k for k in range(40)]  # every frame changes a lot, never back: a whip pan
    colour = [0.02] * 40
    colour[25] = 0.4  # the cut: another picture, other colours
    changes = _changes(luma, colour)
    assert find_cut_candidates(changes.score, 3.0, 2, 12.0) == []  # the luminance rule alone misses it
    detector = CutCandidateDetector(FLASH_RULES)
    assert detector.push(changes) + detector.finish() == [25]

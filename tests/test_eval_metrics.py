"""Shot metrics against cases computed by hand."""

from __future__ import annotations

import pytest

from filmline.engine.errors import BadInputError
from filmline.engine.evaluation.shot_annotations import Change, ShotAnnotation
from filmline.engine.evaluation.shot_metrics import (
    TOLERANCES,
    Tolerance,
    boundary_scores,
    gradual_scores,
    match_changes,
    prf,
    score_shots,
    seed_mae,
)

FPS = 25.0


def cut(frame: int, kind: str = "cut") -> Change:
    return Change(kind, frame / FPS, frame / FPS, frame / FPS, frame, frame, frame)


def span(first: int, last: int, at: int | None = None, kind: str = "dissolve") -> Change:
    """Boundary positions first..last (blended frames first..last-1), new shot at `at`."""
    at = (first + last) // 2 if at is None else at
    return Change(kind, first / FPS, last / FPS, at / FPS, first, last, at, gradual=True)


def timed(change: Change) -> Change:
    """The same change as a source without frame numbers sees it."""
    return Change(change.kind, change.first_time, change.last_time, change.at_time, gradual=change.gradual)


def annotation(changes: list[Change], shots: list[tuple[float, float]] | None = None) -> ShotAnnotation:
    return ShotAnnotation("x", "test", shots or [], changes, FPS)


def test_precision_recall_f1_per_tolerance() -> None:
    truth = annotation([cut(10), cut(20), cut(30)])
    predicted = annotation([cut(10), cut(21), cut(35), cut(50)])
    scores = boundary_scores(truth, predicted, FPS)
    # 0 frames: only 10. P = 1/4, R = 1/3, F1 = 2·(1/4)(1/3)/(1/4 + 1/3) = 2/7.
    assert (scores["0f"]["tp"], scores["0f"]["fp"], scores["0f"]["fn"]) == (1, 3, 2)
    assert scores["0f"]["f1"] == pytest.approx(2 / 7)
    # 2 frames: 10 and 21. P = 2/4, R = 2/3, F1 = 4/7.
    assert scores["2f"]["tp"] == 2 and scores["2f"]["f1"] == pytest.approx(4 / 7)
    # 1 s = 25 frames: 35 → 30 (5 frames) wins over 50 → 30 (20 frames); 50 is left over.
    assert scores["1s"]["tp"] == 3
    assert scores["1s"]["precision"] == pytest.approx(3 / 4) and scores["1s"]["recall"] == 1.0
    assert scores["1s"]["f1"] == pytest.approx(6 / 7)


def test_matching_is_one_to_one_closest_first() -> None:
    truth = [cut(100), cut(104)]
    predicted = [cut(103), cut(101)]
    # 103 is 1 from 104 and 3 from 100; 101 is 1 from 100: both pairs at distance 1.
    assert match_changes(truth, predicted, Tolerance("2f", frames=2), FPS) == [(0, 1), (1, 0)]
    # One prediction between two true cuts takes only one of them.
    assert match_changes([cut(10), cut(12)], [cut(11)], Tolerance("2f", frames=2), FPS) == [(0, 0)]


def test_a_prediction_inside_a_true_gradual_span_is_exact() -> None:
    truth = [span(40, 48)]  # blended frames 40..47
    assert match_changes(truth, [cut(44)], Tolerance("0f", frames=0), FPS) == [(0, 0)]
    assert match_changes(truth, [cut(48)], Tolerance("0f", frames=0), FPS) == [(0, 0)]
    assert match_changes(truth, [cut(50)], Tolerance("0f", frames=0), FPS) == []
    assert match_changes(truth, [cut(50)], Tolerance("2f", frames=2), FPS) == [(0, 0)]


def test_a_long_predicted_span_counts_where_it_puts_the_boundary() -> None:
    # A "dissolve" reported over frames 265..285 around a true cut at 286, split at 275.
    predicted = [span(265, 286, at=275)]
    assert match_changes([cut(286)], predicted, Tolerance("2f", frames=2), FPS) == []
    assert match_changes([cut(286)], predicted, Tolerance("1s", seconds=1.0), FPS) == [(0, 0)]


def test_times_without_frames_match_within_half_a_frame() -> None:
    truth = [timed(cut(10))]
    near = Change("cut", 10 / FPS + 0.015, 10 / FPS + 0.015, 10 / FPS + 0.015)  # < half a frame (0.02 s)
    far = Change("cut", 10 / FPS + 0.025, 10 / FPS + 0.025, 10 / FPS + 0.025)
    zero = Tolerance("0f", frames=0)
    assert match_changes(truth, [near], zero, FPS) == [(0, 0)]
    assert match_changes(truth, [far], zero, FPS) == []
    assert match_changes(truth, [far], Tolerance("2f", frames=2), FPS) == [(0, 0)]
    with pytest.raises(BadInputError, match="--fps"):
        match_changes(truth, [near], zero, None)
    # Whole seconds need no frame rate; CSV milliseconds get a millisecond of slack.
    assert match_changes(truth, [far], Tolerance("1s", seconds=1.0), None) == [(0, 0)]


def test_gradual_spans_by_overlap() -> None:
    truth = annotation([span(40, 50), span(100, 110), cut(200)])
    predicted = annotation([span(42, 52), span(300, 310), cut(105)])
    scores = gradual_scores(truth, predicted)
    # 42..52 overlaps 40..50 by 8 of 12: IoU 2/3. 300..310 overlaps nothing; a cut is no span.
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 1, 1)
    assert scores["mean_iou"] == pytest.approx(8 / 12)
    assert scores["f1"] == pytest.approx(0.5)


def test_gradual_matching_prefers_the_larger_overlap() -> None:
    truth = annotation([span(0, 10), span(12, 30)])
    predicted = annotation([span(8, 28)])  # IoU 2/28 with the first, 16/22 with the second
    scores = gradual_scores(truth, predicted)
    assert scores["tp"] == 1 and scores["mean_iou"] == pytest.approx(16 / 22)


def test_seed_mae_pairs_shots_by_index() -> None:
    truth = annotation([], shots=[(0, 2), (2, 5), (5, 9)])
    predicted = annotation([], shots=[(0, 2.5), (2.5, 5), (5, 8), (8, 9)])
    mae = seed_mae(truth, predicted)
    assert mae["pairs"] == 3  # the extra predicted shot is left out, as the seed truncates
    assert mae["start"] == pytest.approx((0 + 0.5 + 0) / 3)
    assert mae["end"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert seed_mae(truth, annotation([], shots=[]))["start"] is None


def test_empty_sides() -> None:
    assert prf(0, 0, 0)["f1"] == 1.0  # nothing to find, nothing found
    assert prf(0, 3, 0) == {"tp": 0, "fp": 0, "fn": 3, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert prf(0, 0, 2)["precision"] == 0.0


def test_recall_by_kind_and_false_alarms_at_negatives() -> None:
    from filmline.engine.evaluation.shot_annotations import Negative

    truth = ShotAnnotation("t", "test", [], [cut(10), span(40, 48, kind="fade")], FPS,
                           [Negative("flash", 70, 71), Negative("pan", 90, 99)])
    predicted = annotation([cut(10), cut(72), cut(95), cut(150)])
    scores = boundary_scores(truth, predicted, FPS)["0f"]
    assert scores["recall_by_kind"] == {"cut": 1.0, "fade": 0.0}
    assert scores["false_alarms_at_negatives"] == {"flash": 1, "pan": 1}  # 150 is on no negative


def test_score_shots_names_both_sides() -> None:
    both = annotation([cut(10)], shots=[(0, 0.4), (0.4, 1)])
    result = score_shots(both, both)
    assert set(result["boundaries"]) == {t.name for t in TOLERANCES} == {"0f", "2f", "1s"}
    assert result["boundaries"]["0f"]["f1"] == 1.0
    assert result["seed_mae_seconds"] == {"start": 0.0, "end": 0.0, "pairs": 2}
    assert result["fps"] == FPS

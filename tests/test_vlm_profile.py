"""The action profile on a hand-built shot list: per-minute shares and the longest action sequences."""

from __future__ import annotations

import pytest

from filmline.engine.vlm.profile import action_profile


def shot(index: int, start: float, end: float, labels: list[str] | None) -> dict:
    return {"index": index, "start_time": start, "end_time": end, "labels": labels}


# 0-30 s quiet; 30-75 s a fight turning into a chase; 75-80 s unknown (not sent); 80-100 s a chase;
# 100-130 s quiet. The film ends at 130 s.
SHOTS = [
    shot(0, 0, 30, ["none"]),
    shot(1, 30, 50, ["Fight"]),
    shot(2, 50, 60, ["Fight", "Pursuit"]),
    shot(3, 60, 75, ["Pursuit"]),
    shot(4, 75, 80, None),
    shot(5, 80, 100, ["Pursuit", "Speed"]),
    shot(6, 100, 130, ["none"]),
]


def test_minute_shares_are_the_covered_fraction_of_each_minute() -> None:
    minutes = action_profile(SHOTS, 130.0, "none")["minutes"]
    assert [(m["start"], m["end"]) for m in minutes] == [(0, 60), (60, 120), (120, 130)]
    first, second, last = (m["shares"] for m in minutes)
    assert first == pytest.approx({"none": 30 / 60, "Fight": 30 / 60, "Pursuit": 10 / 60})
    assert second == pytest.approx({"Pursuit": 35 / 60, "Speed": 20 / 60, "none": 20 / 60})
    assert minutes[1]["unlabelled"] == pytest.approx(5 / 60)
    assert last == {"none": 1.0} and minutes[2]["unlabelled"] == 0


def test_sequences_merge_consecutive_action_shots_and_an_unknown_shot_breaks_them() -> None:
    sequences = action_profile(SHOTS, 130.0, "none")["sequences"]
    assert [(s["start_time"], s["end_time"], s["shots"]) for s in sequences] == [(30, 75, [1, 2, 3]), (80, 100, [5])]
    fight_chase = sequences[0]
    assert fight_chase["duration"] == 45
    assert fight_chase["labels"] == {"Fight": 30, "Pursuit": 25}
    assert fight_chase["dominant"] == ["Fight", "Pursuit"]  # each covers at least half of the 45 s
    assert sequences[1]["dominant"] == ["Pursuit", "Speed"]


def test_a_label_covering_under_half_is_not_dominant_and_the_list_is_capped() -> None:
    shots = [shot(0, 0, 10, ["Fight"]), shot(1, 10, 40, ["Escape"]), shot(2, 40, 41, ["none"]), shot(3, 41, 42, ["Heist"])]
    profile = action_profile(shots, 42.0, "none", minute_seconds=20.0, sequences=1)
    assert len(profile["minutes"]) == 3 and profile["minutes"][2]["end"] == 42.0
    assert profile["sequences"] == [{"start_time": 0, "end_time": 40, "duration": 40, "shots": [0, 1],
                                     "labels": {"Escape": 30, "Fight": 10}, "dominant": ["Escape"]}]

"""Action labels: the strict constrained-answer parser, the softmax rule and the configured prompt."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from filmline.engine.vlm.actions import (
    CONSTRAINED,
    SCORED,
    LabelAnswerError,
    action_question,
    labels_from_probabilities,
    parse_label_answer,
    softmax,
)
from filmline.engine.vlm.config import VlmConfig

CONFIG = VlmConfig.load()
NAMES = list(CONFIG.categories)
ACTIONS = [n for n in NAMES if n != "none"]
spaces = st.text(" \t", max_size=2)


@given(st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=10), st.data())
def test_any_subset_in_any_case_and_spacing_parses_to_itself(chosen: list[str], data: st.DataObject) -> None:
    items = [data.draw(spaces) + data.draw(st.sampled_from([n, n.lower(), n.upper()])) + data.draw(spaces) for n in chosen]
    answer = ",".join(items) + data.draw(st.sampled_from(["", ".", " ."]))
    assert parse_label_answer(answer, NAMES, "none") == [n for n in NAMES if n in chosen]


@given(st.lists(st.sampled_from(ACTIONS), max_size=4), st.text(min_size=1, max_size=12), st.integers(0, 4))
def test_one_item_that_is_not_a_name_fails_the_whole_answer(chosen: list[str], other: str, at: int) -> None:
    if other.strip().removesuffix(".").strip().lower() in {n.lower() for n in NAMES} or "," in other:
        other = other + "x"
    items = [*chosen]
    items.insert(min(at, len(items)), other)
    with pytest.raises(LabelAnswerError):
        parse_label_answer(", ".join(items), NAMES, "none")


@pytest.mark.parametrize("answer", [
    "Fight and Pursuit", "Fight, Pursuit, car chase", "Fight,", "Fights", "Labels: Fight", "none, Fight",
    "[\"Fight\"]", "", "Fight; Pursuit", "Fight.\nPursuit",
])
def test_sliced_or_padded_answers_are_not_accepted(answer: str) -> None:
    with pytest.raises(LabelAnswerError):
        parse_label_answer(answer, NAMES, "none")


def test_none_alone_is_an_answer() -> None:
    assert parse_label_answer(" None. ", NAMES, "none") == ["none"]


@given(st.lists(st.floats(-50, 0), min_size=2, max_size=8))
def test_softmax_is_a_distribution_ordered_like_the_logprobs(logprobs: list[float]) -> None:
    probabilities = softmax(logprobs)
    assert math.isclose(sum(probabilities), 1.0, rel_tol=1e-9)
    for (a, pa), (b, pb) in zip(zip(logprobs, probabilities), zip(logprobs[1:], probabilities[1:])):
        assert (a < b) <= (pa <= pb)


def test_two_fitting_categories_both_become_labels() -> None:
    probabilities = dict.fromkeys(NAMES, 0.01) | {"Fight": 0.45, "Pursuit": 0.49}
    assert labels_from_probabilities(probabilities, 0.2, "none") == ["Pursuit", "Fight"]


def test_none_wins_when_it_is_the_most_probable_or_nothing_reaches_the_threshold() -> None:
    assert labels_from_probabilities(dict.fromkeys(NAMES, 0.05) | {"none": 0.4, "Fight": 0.3}, 0.2, "none") == ["none"]
    assert labels_from_probabilities(dict.fromkeys(NAMES, 0.125), 0.2, "none") == ["none"]


def test_the_prompt_lists_the_configured_categories_with_the_methods_instruction() -> None:
    scored, constrained = action_question(CONFIG, SCORED), action_question(CONFIG, CONSTRAINED)
    for name, description in CONFIG.categories.items():
        assert f"- {name}: {description}" in scored and f"- {name}: {description}" in constrained
    assert scored.endswith(CONFIG.scored_instruction) and constrained.endswith(CONFIG.constrained_instruction)

"""The background decode thread: order kept, errors surface in the caller, early exit joins it."""

from __future__ import annotations

import threading

import pytest

from filmline.engine.prefetch import prefetch


def test_items_arrive_in_order_transformed() -> None:
    assert list(prefetch(range(100), lambda x: x * x, depth=3)) == [x * x for x in range(100)]


def test_error_in_the_thread_is_raised_in_the_consumer() -> None:
    def source():
        yield 1
        raise ValueError("broken packet")

    seen = []
    with pytest.raises(ValueError, match="broken packet"):
        for item in prefetch(source(), lambda x: x, depth=2):
            seen.append(item)
    assert seen == [1]


def test_leaving_early_stops_and_joins_the_thread() -> None:
    produced = []

    def source():
        for i in range(10_000):
            produced.append(i)
            yield i

    before = threading.active_count()
    for item in prefetch(source(), lambda x: x, depth=4):
        if item == 5:
            break
    assert threading.active_count() == before
    assert len(produced) < 50  # bounded: it never ran far ahead

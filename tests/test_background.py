"""The one concurrency helper: order kept, errors surface in the caller, memory bounded, and no
thread left alive after the caller stops early, fails, or is interrupted."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest

from filmline.engine.background import Background, Consumer, prefetch


def _threads_named(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def _wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_items_arrive_in_order_transformed() -> None:
    assert list(prefetch(range(100), lambda x: x * x, depth=3)) == [x * x for x in range(100)]


def test_error_in_the_thread_is_raised_in_the_consumer_after_the_items_before_it() -> None:
    def source():
        yield 1
        raise ValueError("broken packet")

    seen = []
    with pytest.raises(ValueError, match="broken packet"):
        for item in prefetch(source(), lambda x: x, depth=2, name="t-error"):
            seen.append(item)
    assert seen == [1]
    assert _threads_named("t-error") == []


def test_leaving_early_stops_and_joins_the_thread_and_closes_the_source() -> None:
    produced, closed = [], []

    def source():
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.append(threading.current_thread().name)

    for item in prefetch(source(), lambda x: x, depth=4, name="t-early"):
        if item == 5:
            break
    assert _threads_named("t-early") == []
    assert closed == ["t-early"]  # the source's cleanup ran in the thread that read it
    assert len(produced) < 20  # bounded: it never ran far ahead


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, RuntimeError])
def test_an_interrupted_consumer_joins_the_thread(interrupt: type[BaseException]) -> None:
    """Ctrl-C (or any error) in the caller's loop body: closing the iterator stops the producer,
    even while it waits for room in a full queue."""
    with pytest.raises(interrupt):
        with closing(prefetch(iter(range(10_000)), lambda x: x, depth=2, name="t-ctrl-c")) as items:
            for item in items:
                time.sleep(0.05)  # the producer fills the queue and waits
                raise interrupt()
    assert _threads_named("t-ctrl-c") == []


def test_the_producer_waits_while_the_queue_is_full() -> None:
    produced = []

    def source():
        for i in range(100):
            produced.append(i)
            yield i

    with Background() as background:
        items = iter(background.produce(source(), depth=3, name="t-bound"))
        assert next(items) == 0
        time.sleep(0.3)
        # one taken, three waiting, one in the producer's hand waiting for room
        assert len(produced) == 5
        assert list(items) == list(range(1, 100))
    assert _threads_named("t-bound") == []


def test_a_consumer_works_in_order_in_its_own_thread() -> None:
    done = []
    worker = Consumer(lambda item: done.append((item, threading.current_thread().name)), depth=2, name="t-work")
    for i in range(50):
        worker.put(i)
    worker.finish()
    assert done == [(i, "t-work") for i in range(50)]
    assert _threads_named("t-work") == []


def test_put_waits_while_depth_items_wait() -> None:
    gate = threading.Event()
    worker = Consumer(lambda item: gate.wait(), depth=2, name="t-full")
    put = []

    def feed() -> None:
        for i in range(10):
            worker.put(i)
            put.append(i)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    assert _wait_until(lambda: len(put) == 3)  # one being worked on, two waiting
    time.sleep(0.3)
    assert len(put) == 3 and feeder.is_alive()
    gate.set()
    feeder.join(timeout=10)
    worker.finish()
    assert len(put) == 10


def test_the_workers_error_is_raised_at_the_next_put_and_the_thread_is_gone() -> None:
    def work(item: int) -> None:
        if item == 3:
            raise ValueError("bad batch 3")

    worker = Consumer(work, depth=1, name="t-fail")
    with pytest.raises(ValueError, match="bad batch 3"):
        for i in range(1000):
            worker.put(i)
    assert i < 10  # raised soon after, not at the end
    assert _threads_named("t-fail") == []


def test_the_workers_error_is_raised_by_finish() -> None:
    worker = Consumer(lambda item: 1 / item, depth=4, name="t-finish")
    worker.put(1)
    worker.put(0)
    with pytest.raises(ZeroDivisionError):
        worker.finish()
    assert _threads_named("t-finish") == []


def test_close_drops_what_waits_and_joins() -> None:
    gate, done = threading.Event(), []

    def work(item: int) -> None:
        gate.wait()
        done.append(item)

    worker = Consumer(work, depth=4, name="t-close")
    for i in range(4):
        worker.put(i)
    threading.Timer(0.2, gate.set).start()
    worker.close()
    assert _threads_named("t-close") == []
    assert len(done) <= 1  # the item in hand finishes; the waiting ones are dropped
    worker.put(9)  # a closed consumer starts afresh (the next video)
    worker.finish()
    assert done[-1] == 9 and _threads_named("t-close") == []

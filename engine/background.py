"""Work in background threads, a bounded queue away from the caller: the engine's one way of
running things concurrently.

Decoding (FFmpeg), scaling (swscale), ONNX Runtime, PyTorch and JPEG encoding release the GIL, so
a thread doing one of them overlaps with the caller. Every use keeps three promises:

- memory is bounded: a producer waits while `depth` items wait for their consumer;
- errors surface in the caller: a producing thread's exception is raised where the caller reaches
  it among the items, a consuming thread's at the caller's next `put` or `finish`;
- no thread outlives its owner: leaving a `Background` block (normally, by an exception, by
  Ctrl-C, or because the caller stopped reading early) stops its threads and joins them.

Two shapes: `prefetch` runs an iterator in a thread and hands its items to the caller (decoding
ahead of the stages); `Consumer` takes items from the caller and works on them in a thread (the
image encoder, TransNetV2, the VLM frame writer). The chunked decoder runs several producers
into per-chunk handoffs of one `Background`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

POLL_SECONDS = 0.1  # how often a waiting thread looks whether the other side has gone


class _End:
    """The producer's last item: no more items, or the error it failed with."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class Handoff(Generic[T]):
    """A bounded queue from a producing thread to a consuming one. The producer `put`s items and
    `end`s (with its error when it failed); the consumer iterates, and `fail`s when it cannot go
    on. Both sides give up once `stopped` (their `Background`'s) is set."""

    def __init__(self, depth: int, stopped: threading.Event) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self._items: queue.Queue = queue.Queue(maxsize=depth)
        self._stopped = stopped
        self.consumer_error: BaseException | None = None

    def put(self, item: T) -> bool:
        """Queue `item`, waiting while the queue is full; False once stopped (nobody reads any
        more). Raises the consumer's error once it has failed."""
        while True:
            if self.consumer_error is not None:
                raise self.consumer_error
            if self._stopped.is_set():
                return False
            try:
                self._items.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue

    def end(self, error: BaseException | None = None) -> None:
        """No more items; `error`, when given, is raised in the consumer after the items before it."""
        self.put(_End(error))  # type: ignore[arg-type]

    def fail(self, error: BaseException) -> None:
        """The consumer's side: it stopped with `error`, which the producer's next `put` raises."""
        self.consumer_error = error

    def __iter__(self) -> Iterator[T]:
        """The items until `end`, raising the producer's error there; ends quietly once stopped
        (dropping what still waits)."""
        while not self._stopped.is_set():
            try:
                item = self._items.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item


class Background:
    """Threads that live inside a `with` block: leaving it stops them and joins them."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self._threads: list[threading.Thread] = []

    def handoff(self, depth: int) -> Handoff:
        """A queue between this block's threads and the caller, abandoned when the block ends."""
        return Handoff(depth, self.stopped)

    def start(self, name: str, target: Callable[[], None]) -> None:
        """Run `target` in a thread; it hands its errors on itself (see `produce`, `Consumer`)."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def produce(self, source: Iterable[T], depth: int, name: str) -> Handoff[T]:
        """A thread that iterates `source` into a handoff at most `depth` items ahead of its
        reader; an error in `source` ends the handoff, raised in the reader at that point."""
        items: Handoff[T] = self.handoff(depth)

        def run() -> None:
            iterator = iter(source)
            try:
                for item in iterator:
                    if not items.put(item):
                        return
                items.end()
            except BaseException as err:  # handed to the reader, raised there
                items.end(err)
            finally:
                close = getattr(iterator, "close", None)  # a generator's cleanup runs in its own thread
                if close is not None:
                    close()

        self.start(name, run)
        return items

    def join(self) -> None:
        """Wait for the threads to end by themselves (after their work is done)."""
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join()


def prefetch(source: Iterable[T], work: Callable[[T], R], depth: int, name: str = "prefetch") -> Iterator[R]:
    """`work(item)` for every item of `source`, computed in a background thread at most `depth`
    results ahead of the caller, in order. Close the iterator (or exhaust it) to stop the thread."""
    with Background() as background:
        yield from background.produce(_results(source, work), depth, name)


def _results(source: Iterable[T], work: Callable[[T], R]) -> Iterator[R]:
    """`work(item)` for each item; closing this closes `source` too (`map` would not)."""
    iterator = iter(source)
    try:
        for item in iterator:
            yield work(item)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


class Consumer(Generic[T]):
    """`work(item)` for every item `put`, in order, in a thread of its own (started by the first
    `put`), with at most `depth` items waiting. `finish` waits for the work and raises the
    worker's error; `close` drops what is left (an error path). Either joins the thread; the
    next `put` starts a new one, so one consumer serves video after video."""

    def __init__(self, work: Callable[[T], None], depth: int, name: str) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self._work = work
        self._depth = depth
        self._name = name
        self._background: Background | None = None
        self._items: Handoff[T] | None = None

    def put(self, item: T) -> None:
        """Queue `item`, waiting while `depth` items wait. Raises the worker's error (the worker
        has stopped then, and its thread is joined)."""
        if self._background is None:
            self._background = Background()
            items = self._items = self._background.handoff(self._depth)
            self._background.start(self._name, lambda: self._run(items))
        try:
            self._items.put(item)
        except BaseException:
            self.close()
            raise

    def finish(self) -> None:
        """Wait until every item is worked on and the thread has ended; raises the worker's error."""
        if self._background is None:
            return
        try:
            self._items.end()
            self._background.join()
            if self._items.consumer_error is not None:
                raise self._items.consumer_error
        finally:
            self.close()

    def close(self) -> None:
        """Stop now, dropping the items not yet worked on, and join the thread."""
        background, self._background, self._items = self._background, None, None
        if background is not None:
            background.__exit__()

    def _run(self, items: Handoff[T]) -> None:
        try:
            for item in items:
                self._work(item)
        except BaseException as err:  # handed to the caller, raised at its next put or finish
            items.fail(err)

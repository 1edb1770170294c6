"""Run an iterator in a background thread, a bounded number of items ahead of its consumer.

Decoding (FFmpeg) and scaling (swscale) release the GIL, so a decode thread keeps both cores
busy while the main thread runs the stages. The queue bounds memory; an exception in the thread
is re-raised in the consumer; leaving early (break, error) stops and joins the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_DONE = object()


def prefetch(source: Iterable[T], work: Callable[[T], R], depth: int) -> Iterator[R]:
    """`work(item)` for every item of `source`, computed in a background thread, in order."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in source:
                result = work(item)
                while not stop.is_set():
                    try:
                        items.put(result, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(_DONE)
        except BaseException as err:  # handed to the consumer, raised there
            items.put(err)

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            result = items.get()
            if result is _DONE:
                return
            if isinstance(result, BaseException):
                raise result
            yield result
    finally:
        stop.set()
        while thread.is_alive():
            try:
                items.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()

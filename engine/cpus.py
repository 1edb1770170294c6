"""How many CPU cores this process should keep busy, for everything that sizes a thread pool
(FFmpeg's decoder threads, ONNX Runtime's intra-op threads)."""

from __future__ import annotations

import os


def affinity_cpus() -> int:
    """The cores this process may run on: its affinity mask (a container's or `taskset`'s share),
    not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def usable_cpus() -> int:
    """The cores to use: those this process may run on, fewer where `OMP_NUM_THREADS` says so.
    Ray sets it to each actor's `num_cpus`, so library actors sharing a machine each decode on
    their own share instead of each starting a thread per core (two actors on two cores: four
    decoder threads fighting over two cores, the second worker adding nothing)."""
    cpus = affinity_cpus()
    try:
        limit = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return cpus
    return min(cpus, limit) if limit > 0 else cpus

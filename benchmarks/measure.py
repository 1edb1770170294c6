"""Timing and the record every figure carries.

A timing is the median of `repeats` runs after `warmup` unmeasured ones (imports, caches, lazy
initialisation); all samples are kept. Every figure records the command that produced it, the
machine, the versions it depends on and its input, so a number never stands alone.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence


@dataclass(frozen=True)
class Timing:
    samples: list[float]  # seconds per measured run
    warmup: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def as_dict(self) -> dict[str, Any]:
        return {"median_seconds": self.median, "samples_seconds": [round(s, 6) for s in self.samples],
                "repeats": len(self.samples), "warmup": self.warmup}


def time_runs(run: Callable[[], object], warmup: int, repeats: int) -> Timing:
    """Wall time of `run()`: `warmup` runs thrown away, then `repeats` measured."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return Timing(samples, warmup)


def film_input(truth: Any) -> dict[str, Any]:
    """How a figure names the synthetic film it was measured on (a `GroundTruth`)."""
    path = Path(truth.path)
    return {
        "film": path.name,
        "width": truth.size[0],
        "height": truth.size[1],
        "fps": round(truth.fps, 3),
        "codec": truth.codec,
        "container": path.suffix.lstrip("."),
        "frames": truth.frame_count,
        "seconds": round(truth.end_seconds(), 3),
        "truth": {"shots": len(truth.shots), "cuts": len(truth.cuts), "gradual": len(truth.gradual),
                  "negatives": len(truth.negatives)},
    }


class Recorder:
    """Collects the figures of one suite run, stamping each with command, machine and versions."""

    def __init__(self, command: str, machine: str, versions: dict[str, str | None]) -> None:
        self.command = command
        self.machine = machine
        self.versions = versions
        self.figures: list[dict[str, Any]] = []
        self.skipped: list[dict[str, str]] = []

    def add(
        self,
        stage: str,
        metric: str,
        value: float | None,
        unit: str,
        *,
        input: dict[str, Any],
        depends_on: Sequence[str],
        timing: Timing | None = None,
        **details: Any,
    ) -> dict[str, Any]:
        figure = {
            "stage": stage,
            "metric": metric,
            "value": value,
            "unit": unit,
            **details,
            "input": input,
            **({"timing": timing.as_dict()} if timing is not None else {}),
            "command": self.command,
            "machine": self.machine,
            "versions": {name: self.versions.get(name) for name in ("python", *depends_on)},
        }
        self.figures.append(figure)
        return figure

    def skip(self, stage: str, reason: str, fix: str | None = None) -> None:
        """A measurement that could not run here, and why (never silently absent); once per stage."""
        if all(entry["stage"] != stage for entry in self.skipped):
            self.skipped.append({"stage": stage, "reason": reason, **({"fix": fix} if fix else {})})

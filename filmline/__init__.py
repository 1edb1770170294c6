"""filmline: long-form video in, a structured timeline out.

The Python API (docs/api.md)::

    import filmline

    result = filmline.analyze("film.mkv", fps=1, out="results/")
    for shot in result.shots:
        print(shot.start_time, shot.end_time, shot.transition_in and shot.transition_in.kind)
    result.document  # the result document, exactly the results/film.json engine-run writes

Names are imported on first use, so `import filmline` (and every console script's `--help`)
stays instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "analyze": "filmline._analyze",
    "Result": "filmline._result",
    "Video": "filmline._result",
    "Shot": "filmline._result",
    "Transition": "filmline._result",
    "Span": "filmline._result",
    "Segment": "filmline._result",
    "EngineError": "filmline.engine.errors",
    "BadInputError": "filmline.engine.errors",
    "MissingModelError": "filmline.engine.errors",
    "BackendError": "filmline.engine.errors",
    "OutputError": "filmline.engine.errors",
}
__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from filmline._analyze import analyze
    from filmline._result import Result, Segment, Shot, Span, Transition, Video
    from filmline.engine.errors import BackendError, BadInputError, EngineError, MissingModelError, OutputError


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'filmline' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

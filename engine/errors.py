"""The engine's error hierarchy.

Every error a user can cause or fix is an `EngineError` whose message is one line naming the
problem and the fix. The command-line entry points catch `EngineError` in one place, print the
message, and exit with the error's `exit_code`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import re


class EngineError(Exception):
    """A failure the user can act on. `str(err)` is the one line the CLI prints."""

    exit_code = 1


class BadInputError(EngineError):
    """The input (video file, annotation, argument value) is unusable as given."""

    exit_code = 2


class MissingModelError(EngineError):
    """Weights, a checkpoint or a built artifact cannot be found (offline, wrong path)."""

    exit_code = 3


class BackendError(EngineError):
    """An inference runtime is unavailable or failed (TensorRT, ONNX Runtime, PyTorch)."""

    exit_code = 4


class OutputError(EngineError):
    """The output location cannot be written."""

    exit_code = 5


def first_line(err: BaseException, *, with_type: bool = False) -> str:
    """The first line of an exception's message (its type's name when it has none), for the one-line
    messages above; `with_type` prefixes the type, for foreign exceptions whose text alone is vague."""
    text = str(err).strip()
    if not text:
        return type(err).__name__
    line = text.splitlines()[0]
    return f"{type(err).__name__}: {line}" if with_type else line


def problem_part(err: BaseException) -> str:
    """The problem half of a one-line "problem: fix" message, without the fix or any nested error
    text in brackets: what a one-line note about a skipped stage says (its fix is stated apart)."""
    return re.split(r": | \(", first_line(err), maxsplit=1)[0]

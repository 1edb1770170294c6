"""`filmline.analyze`: one video through exactly what `engine-run` does, from Python.

The keyword settings are `engine-run`'s options (parsed by its own parser, so defaults, choices
and checks are the command's), and the run is `engine-run`'s run: the same stages, models, files
and result document. What differs is the surface: errors are raised as `filmline.EngineError`
subclasses instead of printed, the summary table is not printed, and the result comes back as a
`filmline.Result`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

from filmline._result import Result


def analyze(video: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None, **settings: Any) -> Result:
    """Analyse one video and return its result.

    `out`: the folder for the files `engine-run` writes (`<stem>.json`, `<stem>.shots.csv`, the
    key-frame JPEGs); None keeps nothing on disk, and each shot's `thumbnail` is then None.

    `settings`: any `engine-run` option by its long name with underscores, e.g. `fps=2`,
    `backend="none"`, `min_shot=0.4`, `model="clip-b32"`, `weights="google/siglip-base-patch16-224"`,
    `triggers=False` (for `--no-triggers`), `intro=False`, `allow_truncated=True`,
    `vlm="openai", vlm_url=..., vlm_model=...`, `progress=True`. Unset ones take `engine-run`'s
    defaults (configs/pipeline.yaml). See docs/cli.md for every option.

    Raises `filmline.BadInputError` for an unreadable video or a bad setting,
    `filmline.MissingModelError` for a model asked for that cannot load, `filmline.OutputError`
    when the output cannot be written.
    """
    from filmline.engine import cli
    from filmline.engine.errors import BadInputError

    video = Path(video)
    with _output_folder(out) as folder:
        args = _engine_run_args(cli.build_parser(), video, folder, settings)
        with _ErrorLines() as errors, contextlib.redirect_stdout(io.StringIO()):  # the summary table is for the console
            code = cli.run(args)
        json_path = folder / f"{video.stem}.json"
        if code != 0 or not json_path.is_file():
            reason = errors.last(f"{cli.PROG}: ") or f"{video}: no result was written"
            raise BadInputError(reason)
        document = json.loads(json_path.read_text(encoding="utf-8"))
        if out is None:
            for shot in document["shots"]:
                shot["thumbnail"] = None  # the folder it pointed into is gone
            return Result.from_document(document)
        return Result.from_document(document, out_dir=folder, json_path=json_path)


@contextlib.contextmanager
def _output_folder(out: str | os.PathLike[str] | None) -> Iterator[Path]:
    if out is not None:
        yield Path(out)
        return
    with tempfile.TemporaryDirectory(prefix="filmline-") as temporary:
        yield Path(temporary)


def _engine_run_args(parser: argparse.ArgumentParser, video: Path, out: Path,
                     settings: dict[str, Any]) -> argparse.Namespace:
    """`engine-run VIDEO --out OUT` plus the settings as its options, parsed by its parser."""
    from filmline.engine.errors import BadInputError

    # argparse offers no public list of a parser's options; _actions is stable since Python 3.2.
    options = {action.dest: action for action in parser._actions if action.option_strings and action.dest != "help"}
    settable = sorted(set(options) - {"out", "series", "debug"})
    argv = [str(video), "--out", str(out)]
    for name, value in settings.items():
        if name not in settable:
            raise BadInputError(f"analyze(): unknown setting {name!r}; valid settings: {', '.join(settable)}")
        argv += _as_options(options[name], name, value)

    def refuse(message: str) -> None:
        raise BadInputError(f"analyze(): {message}")

    parser.error = refuse  # type: ignore[method-assign]  # raise instead of printing usage and exiting
    return parser.parse_args(argv)


def _as_options(action: argparse.Action, name: str, value: Any) -> list[str]:
    from filmline.engine.errors import BadInputError

    if value is None:
        return []
    if isinstance(action, argparse.BooleanOptionalAction):
        return [action.option_strings[0] if value else action.option_strings[1]]
    if action.nargs == 0:  # a flag such as --allow-truncated or --no-triggers
        if not isinstance(value, bool):
            raise BadInputError(f"analyze(): {name} takes True or False, got {value!r}")
        return [action.option_strings[0]] if value != action.default else []
    if isinstance(value, (list, tuple)):
        value = ",".join(str(item) for item in value)
    return [action.option_strings[0], str(value)]


class _ErrorLines(contextlib.AbstractContextManager):
    """Passes stderr through (notes, warnings, the progress bar) and remembers what was said, so
    the line `engine-run` prints for a failed video can become the exception's message."""

    def __enter__(self) -> "_ErrorLines":
        self._stream = sys.stderr
        self._said: list[str] = []
        self._redirect = contextlib.redirect_stderr(self)  # type: ignore[type-var]
        self._redirect.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._redirect.__exit__(*exc)

    def write(self, text: str) -> int:
        self._said.append(text)
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def last(self, prefix: str) -> str | None:
        lines = [line for line in "".join(self._said).splitlines() if line.startswith(prefix)]
        return lines[-1][len(prefix):] if lines else None

"""Views of one result document: each format is written from the document alone (analysis never
re-runs), by the module that owns it, through `write_atomic`.

Each format is one file, `<stem>` plus its suffix in `SUFFIXES`, made by a module:
`tabular` (json, csv: PySceneDetect's columns), `html_report` (the self-contained report),
`timeline` (otio, edl, fcpxml through OpenTimelineIO), `chapters` (vtt, ffmeta) and `sheet` (the
contact sheet). A view module exposes `VIEWS: dict[str, Callable[[dict, ViewOptions], bytes]]`:
format name to a function giving the file's bytes; a module whose formats share costly work
also exposes `render_together(document, names, options) -> {name: bytes}`, used when several of
them are asked for at once (`timeline`: one OTIO timeline for otio, edl and fcpxml). Modules are
imported only when one of their formats is asked for (OpenTimelineIO, PIL, jinja2).
"""

from __future__ import annotations

import gc
import importlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from filmline.engine.errors import BadInputError

FORMATS = ("json", "csv", "html", "otio", "edl", "fcpxml", "vtt", "ffmeta", "sheet")
DEFAULT_FORMATS = ("json", "csv", "html")
CHAPTER_MODES = ("scenes", "shots")

_MODULES = {
    "json": "filmline.engine.writers.tabular",
    "csv": "filmline.engine.writers.tabular",
    "html": "filmline.engine.writers.html_report",
    "otio": "filmline.engine.writers.timeline",
    "edl": "filmline.engine.writers.timeline",
    "fcpxml": "filmline.engine.writers.timeline",
    "vtt": "filmline.engine.writers.chapters",
    "ffmeta": "filmline.engine.writers.chapters",
    "sheet": "filmline.engine.writers.sheet",
}

SUFFIXES = {
    "json": ".json", "csv": ".shots.csv", "html": ".html", "otio": ".otio", "edl": ".edl", "fcpxml": ".fcp.xml",
    "vtt": ".chapters.vtt", "ffmeta": ".ffmetadata", "sheet": ".sheet.jpg",
}

View = Callable[[dict[str, Any], "ViewOptions"], bytes]


@dataclass(frozen=True)
class ViewOptions:
    """Where views go and what they refer to.

    `source_dir` is the folder the document's relative paths (key-frame thumbnails) start from:
    the output folder of `engine-run`, or the folder of the JSON for `engine-report`.
    """

    out_dir: Path
    stem: str
    source_dir: Path
    chapters: str = "scenes"

    def relative(self, path_in_source: str) -> str:
        """A path of the document (relative to `source_dir`) as seen from `out_dir`, URL-style."""
        target = self.source_dir / path_in_source
        return Path(os.path.relpath(target, self.out_dir)).as_posix()


@dataclass(frozen=True)
class Views:
    """The views `engine-run` writes for each video (`--format`, `--chapters`). Not part of the
    result: a rerun that keeps a result writes the views it is missing."""

    formats: tuple[str, ...] = DEFAULT_FORMATS
    chapters: str = CHAPTER_MODES[0]


def parse_formats(text: str) -> tuple[str, ...]:
    """`"json,csv,html"` or `"all"` to format names, in `FORMATS` order; unknown names are an error."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if "all" in names:
        return FORMATS
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise BadInputError(f"unknown --format {', '.join(unknown) or repr(text)}; valid formats: "
                            f"{', '.join(FORMATS)} (comma-separated), or all")
    return tuple(name for name in FORMATS if name in names)


def render_views(document: dict[str, Any], formats: tuple[str, ...], options: ViewOptions) -> dict[str, bytes]:
    """Every asked-for view's file, by name; nothing written yet."""
    rendered: dict[str, bytes] = {}
    for module_name in dict.fromkeys(_MODULES[name] for name in formats):
        module = importlib.import_module(module_name)
        names = tuple(name for name in formats if _MODULES[name] == module_name)
        if len(names) > 1 and hasattr(module, "render_together"):
            rendered |= module.render_together(document, names, options)
        else:
            rendered |= {name: module.VIEWS[name](document, options) for name in names}
    return {options.stem + SUFFIXES[name]: rendered[name] for name in formats}


def write_views(document: dict[str, Any], formats: tuple[str, ...], options: ViewOptions, *,
                keep_existing: bool = False) -> list[Path]:
    """Render, then write each file atomically; the JSON (the run's record) goes last. Numbers are
    rounded once here, whichever stage added them. Should a write fail, the files this call wrote
    are removed again, so a video never has half its views. `keep_existing`: write only the files
    that are not there yet (views asked for on a rerun that keeps its result); the others are not
    rendered at all."""
    from filmline.engine.output_files import write_atomic
    from filmline.engine.result import rounded_document

    if keep_existing:
        formats = tuple(name for name in formats if not (options.out_dir / (options.stem + SUFFIXES[name])).exists())
        if not formats:
            return []
    with _collector_paused():
        files = render_views(rounded_document(document), formats, options)
    json_name = f"{options.stem}.json"
    written: list[Path] = []
    try:
        for name in sorted(files, key=lambda name: name == json_name):
            path = options.out_dir / name
            write_atomic(path, files[name])
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


@contextmanager
def _collector_paused():
    """Python's cycle collector off while the views render. Rendering makes a few hundred thousand
    short-lived containers (the rounded copy, template rows, XML elements) and frees them by
    reference counting; meanwhile they trigger full collections, each walking every object the
    process holds: 40 ms in a bare process, 150 ms or more once torch and the models are loaded,
    one to three times per 2 000-shot film. Restored as it was (another thread may have paused it)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def write_result(document: dict[str, Any], out_dir: Path, stem: str, views: Views = Views(), *,
                 source_dir: Path | None = None, keep_existing: bool = False) -> list[Path]:
    """Everything written for one finished video: its views, then (with the HTML report) the
    folder's `index.html`, rewritten to list it. `source_dir`: see `ViewOptions` (default `out_dir`)."""
    options = ViewOptions(out_dir, stem, out_dir if source_dir is None else source_dir, views.chapters)
    written = write_views(document, views.formats, options, keep_existing=keep_existing)
    if "html" in views.formats:
        from filmline.engine.writers.index_page import INDEX, write_index

        if written or not keep_existing or not (out_dir / INDEX).exists():  # else a kept result has its row
            written.append(write_index(out_dir))
    return written

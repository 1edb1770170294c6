"""What `engine-run`'s positional arguments stand for: video files, folders (searched
recursively; with `--series` on one machine only the folder itself, the episodes of one series), globs, and list
files (`@list.txt`: one path per line, `#` comments, paths relative to the list's folder).

A path that does not exist is reported, not fatal: the run goes on with the rest (an archive's
list of a thousand films should not stop at one that moved), and the run's exit code says so.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from filmline.engine.errors import BadInputError

VIDEO_SUFFIXES = (".mkv", ".mp4", ".mov", ".m4v", ".avi", ".webm", ".ts", ".mts", ".mpg", ".mpeg")
_GLOB_CHARS = frozenset("*?[")


@dataclass
class Inputs:
    videos: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # "where: path" lines, one per path not found


def expand_inputs(arguments: list[Path], *, recursive: bool = True) -> Inputs:
    """The videos the arguments name, in the order given, each once; missing paths on the side."""
    found = Inputs()
    for argument in arguments:
        text = str(argument)
        if text.startswith("@"):
            _add_list_file(Path(text[1:]), found, recursive)
        else:
            _add_path(argument, found, recursive, where=None)
    seen: set[Path] = set()
    found.videos = [v for v in found.videos if not (v.resolve() in seen or seen.add(v.resolve()))]
    return found


def _add_path(path: Path, found: Inputs, recursive: bool, where: str | None) -> None:
    if path.is_dir():
        found.videos += _videos_in(path, recursive)
    elif path.exists():
        found.videos.append(path)
    elif _GLOB_CHARS & set(str(path)):
        matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))
        if not matches:
            found.missing.append(f"{where + ': ' if where else ''}{path}: no file matches this pattern")
        for match in matches:
            _add_path(match, found, recursive, where)
    else:
        found.missing.append(f"{where + ': ' if where else ''}{path}: no such file")


def _videos_in(folder: Path, recursive: bool) -> list[Path]:
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    videos = sorted(p for p in candidates if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not videos:
        raise BadInputError(f"{folder}: no video files ({', '.join(VIDEO_SUFFIXES)}) in this folder; pass a folder of videos")
    return videos


def _add_list_file(list_file: Path, found: Inputs, recursive: bool) -> None:
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise BadInputError(f"@{list_file}: cannot read this list file ({err.strerror}); pass a text file of video paths") from err
    for number, line in enumerate(lines, start=1):
        entry = line.split("#", 1)[0].strip()
        if entry:
            path = Path(entry).expanduser()
            if not path.is_absolute():
                path = list_file.parent / path
            _add_path(path, found, recursive, where=f"{list_file}:{number}")

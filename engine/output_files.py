"""Writing output files: whole or not at all, readable as the umask says, errors in one line.

Every file the tools write (results, key frames, reports, checkpoints, artifacts) goes to a
temporary name beside its target and is renamed into place, so a reader never sees half a file
and a failed write leaves nothing behind. `tempfile` creates its files 0600 and folders 0700
(right for a temporary, wrong for a result a web server or a colleague should read), so the
final file or folder gets the mode an ordinary `open` or `mkdir` would have given it under the
process's umask. A write that fails (a full disk, a quota, a read-only mount) is an
`OutputError` naming the path and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from filmline.engine.errors import OutputError

_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def current_umask() -> int:
    """The process's umask. Linux states it in /proc; elsewhere it is set and restored to read
    it (the only portable way, and racy with other threads creating files, hence the fallback)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    return 0o666 & ~current_umask()


def folder_mode() -> int:
    return 0o777 & ~current_umask()


def write_error(path: Path, err: OSError) -> OutputError:
    """The one-line error for a failed write of `path`, with the fix that fits the cause."""
    if err.errno in _NO_ROOM:
        fix = "free some space there or choose another output folder (--out)"
    else:
        fix = "choose a writable output folder (--out)"
    return OutputError(f"cannot write {path}: {err.strerror or err}; {fix}")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` for the block to write (for writers that take a path,
    such as `torch.save`). When the block completes it gets the umask's mode and is renamed onto
    `path`; when anything fails it is removed, and an `OSError` becomes an `OutputError`."""
    path = Path(path)
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(handle)
    except OSError as err:
        raise write_error(path, err) from err
    temporary = Path(name)
    try:
        yield temporary
        temporary.chmod(file_mode())
        os.replace(temporary, path)
    except OSError as err:
        raise write_error(path, err) from err
    finally:
        temporary.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole (see `atomic_path`)."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    """Save uint8 RGB `image` as a JPEG. Encoded in memory and then written, because Pillow
    writing straight to the file misses a short write (a disk filling up) and leaves a cut-off
    JPEG without an error; an `OSError` still comes from the write itself."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    Path(path).write_bytes(buffer.getbuffer())


def temporary_folder(parent: Path, prefix: str) -> Path:
    """A new hidden folder in `parent`, with the umask's mode: for building a folder of output
    that is renamed into place when complete."""
    try:
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        folder.chmod(folder_mode())
    except OSError as err:
        raise write_error(parent, err) from err
    return folder

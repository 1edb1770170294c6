"""What a request may name: files under the library root (no `..`, absolute paths elsewhere or
symlinks out), and uploads that really decode as video."""

from __future__ import annotations

from pathlib import Path

from filmline.engine.inputs import VIDEO_SUFFIXES


class Refused(Exception):
    """A request the service turns down: an HTTP status and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def confined(root: Path, given: str) -> Path:
    """`given` (relative to `root`, or absolute) resolved with its symlinks; 403 outside `root`."""
    candidate = Path(given)
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not resolved.is_relative_to(root):
        raise Refused(403, f"{given}: outside the library root; name a file under {root}")
    if not resolved.is_file():
        raise Refused(404, f"{given}: no such file under the library root")
    return resolved


def library(root: Path, limit: int = 5000) -> list[str]:
    """The videos under `root` (by suffix, for listing only), relative, in name order."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file() and path.resolve().is_relative_to(root):
            found.append(path.relative_to(root).as_posix())
            if len(found) >= limit:
                break
    return found


def probe_video(path: Path) -> None:
    """415 unless PyAV opens the file and decodes a frame of a video stream (the bytes decide,
    not the file name)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise Refused(415, "the upload has no video stream; upload a video file")
            next(container.decode(video=0))
    except (av.FFmpegError, StopIteration, UnicodeDecodeError) as err:
        raise Refused(415, f"the upload does not decode as video ({type(err).__name__}); upload a video file") from err

"""JPEG thumbnails of candidate key frames, spilled to disk while decoding.

The key frame of a shot is known only once the shot ends (and after the minimum-length merge at
the end of the video), long after its frames were decoded. So each captured frame (sampled or
beside a cut candidate) is saved as a small JPEG in a hidden folder next to the output; at the
end the key frames are renamed `shot_0001.jpg`… and the folder takes its final name.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from filmline.engine.output_files import temporary_folder, write_error, write_jpeg


def keyframes_folder(out_dir: Path, stem: str) -> Path:
    """Where one video's key-frame thumbnails end up."""
    return out_dir / f"{stem}.keyframes"


class KeyframeStore:
    """Captured frames as JPEGs in a working folder that becomes the key-frame folder. A failed
    write is an `OutputError` naming that folder."""

    def __init__(self, out_dir: Path, stem: str, quality: int) -> None:
        self.final_dir = keyframes_folder(out_dir, stem)
        self._work = temporary_folder(out_dir, f".{stem}.keyframes.")
        self.quality = quality
        self.captured: set[int] = set()

    def save(self, frame_index: int, image: np.ndarray) -> None:
        try:
            write_jpeg(self._path(frame_index), image, self.quality)
        except OSError as err:
            raise write_error(self.final_dir, err) from err
        self.captured.add(frame_index)

    def finalize(self, key_frames: list[int | None]) -> list[str | None]:
        """Keep shot k's key frame as `shot_{k+1:04d}.jpg`, drop the rest, move into place.

        Returns each shot's thumbnail path relative to the output folder (None where none).
        """
        names: list[str | None] = []
        try:
            for shot, frame in enumerate(key_frames):
                if frame is None:
                    names.append(None)
                    continue
                name = f"shot_{shot + 1:04d}.jpg"
                shutil.copyfile(self._path(frame), self._work / name)
                names.append(f"{self.final_dir.name}/{name}")
            for frame in self.captured:
                self._path(frame).unlink(missing_ok=True)
            if self.final_dir.exists():
                shutil.rmtree(self.final_dir)
            self._work.rename(self.final_dir)
        except OSError as err:
            raise write_error(self.final_dir, err) from err
        return names

    def discard(self) -> None:
        """Remove the working folder (after a failure, or when the run is abandoned)."""
        shutil.rmtree(self._work, ignore_errors=True)

    def _path(self, frame_index: int) -> Path:
        return self._work / f"frame_{frame_index:07d}.jpg"

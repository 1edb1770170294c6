"""One key frame per shot: the embedded frame nearest (cosine) to the shot's mean embedding.

Without an encoder, or in a shot that no embedded frame falls into, the key frame is the
captured frame nearest to the shot's middle. Captured frames are those whose thumbnail the
pipeline kept (the frames sampled at --fps and the frames either side of each cut candidate), so
a shot shorter than the sampling interval and bounded by gradual transitions can have none:
its key frame is then its middle frame, whose thumbnail the pipeline makes afterwards.
"""

from __future__ import annotations

import bisect

import torch

from filmline import kernels
from filmline.engine.stages.shots import EmbeddingTable, Shot


def pick_key_frames(shots: list[Shot], table: EmbeddingTable | None, captured: list[int]) -> list[int]:
    """Key frame index of every shot (see module docstring); `captured` must be sorted."""
    keys: list[int | None] = [None] * len(shots)
    if table is not None and len(table) > 0 and shots:
        offsets = [bisect.bisect_left(table.frames, s.start_frame) for s in shots]
        offsets.append(bisect.bisect_right(table.frames, shots[-1].end_frame))
        _, key_rows = kernels.shot_centroids(table.vectors, torch.tensor(offsets, dtype=torch.long))
        for k, row in enumerate(key_rows.tolist()):
            if row >= 0:
                keys[k] = table.frames[row]
    return [key if key is not None else _nearest_captured(captured, shot) for key, shot in zip(keys, shots)]


def _nearest_captured(captured: list[int], shot: Shot) -> int:
    """The captured frame nearest the shot's middle; the middle itself when none lies in the shot."""
    middle = (shot.start_frame + shot.end_frame) // 2
    p = bisect.bisect_left(captured, middle)
    options = [c for c in captured[max(p - 1, 0) : p + 1] if shot.start_frame <= c <= shot.end_frame]
    return min(options, key=lambda c: (abs(c - middle), c)) if options else middle

"""A long benchmark film written in parallel: `parts` synthetic films side by side, joined end to end.

Rendering a synthetic frame is single-threaded NumPy, so one ten-minute 1080p film takes the
better part of an hour on one core; written as ten one-minute parts in ten processes it takes
about as long as one part. The parts are ordinary `write_film` films (each its own seed and
timeline, H.264 in MP4 with the time base 1/(fps·100), so every timestamp is exact) and are
joined by copying their packets, shifted in time, into one file: a real single stream whose
every part starts at a keyframe. The truth is the parts' truths, shifted; each join is a cut.

    python -m filmline.benchmarks.long_film --cache DIR   # the gpu suite's film, ahead of engine-bench
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import av

from filmline.benchmarks.films import ensure_film
from filmline.benchmarks.suites import SUITES, FilmSpec
from filmline.benchmarks.synthetic import GroundTruth, Span


PARTS = 10  # the gpu suite's film: ten parts of a minute


def ensure_long_film(spec: FilmSpec, folder: Path, parts: int = PARTS, workers: int | None = None) -> GroundTruth:
    """The film of `spec` (container mp4), made of `parts` parts written by `workers` processes;
    reused when its parts are cached and it was joined from them."""
    if spec.container != "mp4":
        raise ValueError(f"{spec.name}: a joined film needs exact timestamps, so container mp4 (got {spec.container})")
    path = folder / spec.filename
    specs = [dataclasses.replace(spec, name=f"{spec.name}.part{i:02d}", seconds=spec.seconds / parts,
                                 seed=spec.seed * 1000 + i) for i in range(parts)]
    parts_folder = folder / f"{spec.name}.parts"
    # spawn, not fork: the caller may hold CUDA and threads already (the gpu suite measures first)
    with ProcessPoolExecutor(max_workers=workers or parts, mp_context=multiprocessing.get_context("spawn")) as pool:
        truths = list(pool.map(ensure_film, specs, [parts_folder] * parts))
    stamp = folder / f"{spec.name}.joined"
    key = "\n".join((parts_folder / f"{part.name}.key").read_text() for part in specs)  # ensure_film's stamps
    if path.exists() and stamp.exists() and stamp.read_text() == key:
        return GroundTruth.load(path)
    truth = join_films(truths, path)
    stamp.write_text(key)
    return truth


def join_films(parts: list[GroundTruth], path: Path) -> GroundTruth:
    """Copy the parts' packets one after another into `path`; the joined truth, saved beside it."""
    ticks_per_frame = None
    offset_ticks, offset_frames, offset_seconds = 0, 0, 0.0
    joined = dataclasses.replace(parts[0], path=str(path), frame_count=0, seconds=[], cuts=[], gradual=[], shots=[],
                                 negatives=[])
    with av.open(str(path), "w") as output:
        target = None
        for part in parts:
            with av.open(part.path) as source:
                stream = source.streams.video[0]
                if target is None:
                    target = output.add_stream_from_template(stream)
                ticks_per_frame = round(1 / (Fraction(part.fps) * stream.time_base))
                for packet in source.demux(stream):
                    if packet.size == 0:
                        continue
                    packet.pts += offset_ticks
                    packet.dts += offset_ticks
                    packet.stream = target
                    output.mux(packet)
            if offset_frames:
                joined.cuts.append(offset_frames)
            joined.seconds += [offset_seconds + s for s in part.seconds]
            joined.cuts += [c + offset_frames for c in part.cuts]
            joined.gradual += [g._replace(first=g.first + offset_frames, last=g.last + offset_frames) for g in part.gradual]
            joined.shots += [Span(s.first + offset_frames, s.last + offset_frames) for s in part.shots]
            joined.negatives += [n._replace(first=n.first + offset_frames, last=n.last + offset_frames)
                                 for n in part.negatives]
            offset_frames += part.frame_count
            offset_ticks += part.frame_count * ticks_per_frame
            offset_seconds = part.end_seconds() + offset_seconds
    joined.frame_count = offset_frames
    joined.save()
    return joined


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the gpu suite's long film into the benchmark cache.")
    parser.add_argument("--cache", type=Path, required=True, help="engine-bench's --cache folder")
    parser.add_argument("--workers", type=int, help="processes writing parts (default: one per part)")
    args = parser.parse_args(argv)
    (spec,) = SUITES["gpu"].films
    truth = ensure_long_film(spec, args.cache / "films", workers=args.workers)
    print(f"{truth.path}: {truth.frame_count} frames, {truth.end_seconds():.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

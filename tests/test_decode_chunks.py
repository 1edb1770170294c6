"""Chunked decoding: planning at keyframes, and the stitched frames against the sequential decode."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filmline.benchmarks.synthetic import GroundTruth, write_film
from filmline.engine.decode import open_decoder
from filmline.engine.decode.chunks import Chunk, ChunkedDecoder, clip_to_chunk, plan_chunks
from filmline.engine.decode.demux import keyframe_pts
from filmline.engine.decode.pyav import PyAVDecoder
from filmline.engine.errors import BadInputError
from tests.videos import OPEN_GOP_CUT_FRAMES as CUT_FRAMES, RecordingTap

def _leading_frames(path: Path) -> list[int]:
    """Keyframes followed in decode order by a frame shown before them (an open GOP's)."""
    with av.open(str(path)) as container:
        packets = [(p.pts, p.is_keyframe) for p in container.demux(container.streams.video[0]) if p.size]
    order = [pts for pts, _ in packets]
    return [pts for i, (pts, key) in enumerate(packets) if key and any(p < pts for p in order[i + 1:])]


def _every_frame(decoder) -> list[tuple[int, int, float, bytes]]:
    return [(f.index, f.pts, f.seconds, f.to_rgb(64, 36).tobytes()) for f in decoder.frames()]


@settings(max_examples=200, deadline=None)
@given(keyframes=st.lists(st.integers(0, 10_000), max_size=30), first=st.integers(-50, 50),
       target=st.integers(0, 3_000))
def test_chunks_tile_the_stream_from_keyframe_to_keyframe(keyframes: list[int], first: int, target: int) -> None:
    chunks = plan_chunks(keyframes, first, target)
    assert chunks[0].start_pts is None and chunks[-1].end_pts is None
    assert all(a.end_pts == b.start_pts for a, b in zip(chunks, chunks[1:]))  # no gap, no overlap
    edges = [c.start_pts for c in chunks[1:]]
    assert set(edges) <= set(keyframes) and edges == sorted(set(edges))
    starts = [first, *edges]
    assert all(b - a >= max(target, 1) for a, b in zip(starts, starts[1:]))
    # Greedy: a keyframe skipped is closer than `target` to the chunk start before it.
    for pts in set(keyframes) - set(edges):
        before = max((s for s in starts if s <= pts), default=None)
        assert before is None or pts - before < max(target, 1)


@dataclass
class Numbered:
    pts: int
    index: int = -1


def test_a_chunk_drops_leading_frames_stops_at_its_end_and_closes_its_source() -> None:
    closed = []

    def decoded():
        try:
            yield from [Numbered(8), None, Numbered(9), Numbered(10), None, Numbered(11), Numbered(13),
                        Numbered(12), Numbered(20)]
        finally:
            closed.append(True)

    corrupt = []
    frames = list(clip_to_chunk(decoded(), 10, 13, lambda: corrupt.append(1)))
    assert [f.pts for f in frames] == [10, 11]  # 8, 9: before the keyframe; 13: the next chunk's
    assert len(corrupt) == 1  # the None before frame 10 could be a leading frame; the later one is not
    assert closed == [True]


@pytest.mark.parametrize("name", ["natural.mkv", "natural.mp4", "cuts.mkv", "cuts.mp4"])
def test_chunked_decode_is_the_sequential_decode(open_gop_films: dict[str, Path], name: str) -> None:
    path = open_gop_films[name]
    if name.startswith("natural"):
        assert _leading_frames(path), "the film should have open-GOP leading frames"
    chunked = ChunkedDecoder(PyAVDecoder(path), path, sessions=3, buffer_bytes=1)
    assert len(chunked.plan()) == len(keyframe_pts(path))  # a chunk per keyframe
    assert _every_frame(chunked) == _every_frame(PyAVDecoder(path))
    assert chunked.corrupt_frames == 0


@pytest.mark.parametrize("name", ["hevc-vfr-start1s.mkv", "h264-vfr-start1s.mp4", "hevc-cfr.mp4"])
def test_chunked_decode_of_other_films(films: dict[str, GroundTruth], name: str) -> None:
    path = films[name].path
    chunked = ChunkedDecoder(PyAVDecoder(path), path, sessions=2, buffer_bytes=1)
    assert len(chunked.plan()) > 1
    assert _every_frame(chunked) == _every_frame(PyAVDecoder(path))


def test_damaged_files_give_the_same_frames(corrupt_film: GroundTruth, truncated_film: GroundTruth) -> None:
    for truth in (corrupt_film, truncated_film):
        sequential = PyAVDecoder(truth.path)
        chunked = ChunkedDecoder(PyAVDecoder(truth.path), truth.path, sessions=2, buffer_bytes=1)
        assert [f.pts for f in chunked.frames()] == [f.pts for f in sequential.frames()]
        assert chunked.corrupt_frames == sequential.corrupt_frames
        assert chunked.frames_lost == sequential.frames_lost


def test_leaving_early_stops_every_session(open_gop_films: dict[str, Path]) -> None:
    path = open_gop_films["natural.mkv"]
    chunked = ChunkedDecoder(PyAVDecoder(path), path, sessions=3, buffer_bytes=1)
    frames = chunked.frames()
    first = [next(frames) for _ in range(5)]
    frames.close()
    assert [f.index for f in first] == list(range(5))
    assert not [t for t in threading.enumerate() if t.name.startswith("decode-session")]


def test_open_decoder_chunks_with_several_sessions(open_gop_films: dict[str, Path]) -> None:
    path = open_gop_films["cuts.mkv"]
    with open_decoder(path, "pyav", sessions=4) as decoder:
        assert isinstance(decoder, ChunkedDecoder) and decoder.BACKEND_NAME == "pyav"
        assert [f.pts for f in decoder.frames()] == [f.pts for f in PyAVDecoder(path).frames()]
    assert isinstance(open_decoder(path, "pyav"), PyAVDecoder)  # one session: no chunking
    with pytest.raises(BadInputError, match="decode sessions must be at least 1"):
        open_decoder(path, "pyav", sessions=0)


def test_cuts_on_chunk_edges_are_found_as_without_chunking(open_gop_films: dict[str, Path], tmp_path: Path) -> None:
    from filmline.engine.cli import build_parser
    from filmline.engine.run_settings import build_run_settings
    from filmline.engine.pipeline import analyze_video

    path = open_gop_films["cuts.mkv"]
    sessions = 8  # a chunk target under the shortest shot: every keyframe starts a chunk
    edges = [c.start_pts for c in ChunkedDecoder(PyAVDecoder(path), path, sessions).plan()[1:]]
    frame_pts = [f.pts for f in PyAVDecoder(path).frames()]
    assert edges == [frame_pts[i] for i in CUT_FRAMES]

    settings_ = build_run_settings(build_parser().parse_args([str(path)])).shots
    runs = {}
    for count in (1, sessions):
        tap = RecordingTap()
        (tmp_path / str(count)).mkdir()
        analysis = analyze_video(path, settings_, None, tmp_path / str(count), decoder_backend="pyav",
                                 decode_sessions=count, taps=[tap])
        runs[count] = (analysis, tap.taken)
    (one, one_taken), (many, many_taken) = runs[1], runs[sessions]
    boundaries = [s.start_frame for s in one.shots[1:]]
    assert set(CUT_FRAMES) <= set(boundaries)
    assert [(s.start_frame, s.end_frame, s.transition_in) for s in many.shots] == \
        [(s.start_frame, s.end_frame, s.transition_in) for s in one.shots]
    assert many.cut_candidates == one.cut_candidates
    np.testing.assert_array_equal(many.seconds, one.seconds)
    np.testing.assert_array_equal(many.features.diff, one.features.diff)
    assert many.key_frames == one.key_frames
    assert many_taken == one_taken and len(one_taken) == 12  # 6 s at 2 frames/s


class _CtrlC:
    """A frame tap that stops the analysis as Ctrl-C would, at frame `at`."""

    fps = 25.0

    def __init__(self, at: int) -> None:
        self.at = at

    def take(self, frame, thumbnail: np.ndarray) -> None:
        if frame.index >= self.at:
            raise KeyboardInterrupt


def test_an_interrupted_analysis_leaves_no_thread_running(open_gop_films: dict[str, Path], tmp_path: Path) -> None:
    """Ctrl-C in the decode loop, with decode sessions, the decode-ahead thread and TransNetV2's
    worker all busy: every thread is stopped and joined before the interrupt reaches the caller."""
    from dataclasses import replace

    from filmline.engine.cli import build_parser
    from filmline.engine.pipeline import analyze_video
    from filmline.engine.run_settings import build_run_settings
    from filmline.engine.stages.learned_cuts import LearnedSettings

    path = open_gop_films["cuts.mkv"]
    settings_ = replace(build_run_settings(build_parser().parse_args([str(path)])).shots,
                        learned=replace(LearnedSettings.from_config(), batch=1))
    windows = []

    def shot_model(batch: np.ndarray) -> np.ndarray:
        windows.append(threading.current_thread().name)
        return np.zeros(batch.shape[:2] + (2,), np.float32)

    before = set(threading.enumerate())
    try:
        analyze_video(path, settings_, None, tmp_path, decoder_backend="pyav", decode_sessions=3,
                      taps=[_CtrlC(at=80)], shot_model=shot_model)
        interrupted = None
    except KeyboardInterrupt as err:
        interrupted = err  # kept, traceback and all, as a caller that reports it does
    assert isinstance(interrupted, KeyboardInterrupt)
    assert windows and set(windows) == {"transnetv2"}  # the model had started in its own thread
    assert [t.name for t in set(threading.enumerate()) - before] == []
    assert list(tmp_path.iterdir()) == []  # no half-written key frames either

"""The PyAV decoder against films whose every frame time and transition is known."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from filmline.benchmarks.synthetic import GroundTruth
from filmline.engine import registry
from filmline.engine.decode import open_decoder, sample_indices
from filmline.engine.decode.base import VideoInfo
from filmline.engine.decode.pyav import PyAVDecoder, _PtsClock
from filmline.engine.errors import BadInputError
from tests.videos import COUNTER_CLIP, FILMS


def _tolerance(decoder: PyAVDecoder) -> float:
    """Container time bases round the written timestamps (MKV to whole milliseconds)."""
    return float(decoder.info.time_base) + 1e-9


@pytest.mark.parametrize("name", FILMS)
def test_every_frame_in_order_with_true_times(films: dict[str, GroundTruth], name: str) -> None:
    truth = films[name]
    with open_decoder(truth.path) as decoder:
        frames = [(f.index, f.pts, f.seconds) for f in decoder.frames()]
        assert decoder.corrupt_frames == 0
        assert decoder.frames_lost == 0
    indices, pts, seconds = zip(*frames)
    assert list(indices) == list(range(truth.frame_count))
    assert all(a < b for a, b in zip(pts, pts[1:]))
    assert seconds[0] == 0.0
    np.testing.assert_allclose(seconds, truth.seconds, rtol=0, atol=_tolerance(decoder))
    assert decoder.info.frame_count in (None, truth.frame_count)


@pytest.mark.parametrize("name", FILMS)
def test_info_describes_the_display(films: dict[str, GroundTruth], name: str) -> None:
    truth = films[name]
    info = PyAVDecoder(truth.path).info
    coded_w, coded_h = truth.size
    sar = Fraction(*truth.sample_aspect_ratio)
    display = (round(coded_w * sar), coded_h)
    if truth.rotation in (90, 270):
        display = display[::-1]
    assert info.codec == truth.codec
    assert (info.coded_width, info.coded_height) == truth.size
    assert (info.width, info.height) == display
    assert info.rotation == truth.rotation
    assert info.sample_aspect_ratio == sar
    assert float(info.start_pts * info.time_base) == pytest.approx(truth.start_seconds, abs=1e-3)
    if not truth.vfr:
        assert info.average_fps == Fraction(truth.fps)
    if truth.start_seconds == 0:
        end = truth.seconds[-1] + 1 / truth.fps
        assert info.duration_seconds == pytest.approx(end, abs=1.5 / truth.fps)


@pytest.mark.parametrize("name", FILMS)
def test_to_rgb_sizes(films: dict[str, GroundTruth], name: str) -> None:
    with open_decoder(films[name].path) as decoder:
        frame = next(iter(decoder.frames()))
        full = frame.to_rgb()
        thumb = frame.to_rgb(64, 36)
    assert full.shape == (decoder.info.height, decoder.info.width, 3)
    assert thumb.shape == (36, 64, 3)
    assert full.dtype == thumb.dtype == np.uint8
    assert full.flags.c_contiguous and thumb.flags.c_contiguous
    with pytest.raises(ValueError):
        frame.to_rgb(width=64)


def _corner_means(image: np.ndarray) -> dict[str, float]:
    n = min(image.shape[:2]) // 8  # inside the marker wherever it lands
    return {
        "top_left": image[:n, :n].mean(),
        "top_right": image[:n, -n:].mean(),
        "bottom_left": image[-n:, :n].mean(),
        "bottom_right": image[-n:, -n:].mean(),
    }


@pytest.mark.parametrize(
    ("name", "corner", "size"),
    [
        ("h264-rot90.mp4", "top_right", None),
        ("h264-rot90.mp4", "top_right", (48, 80)),
        ("h264-sar2.mkv", "top_left", None),
        ("h264-sar2.mkv", "top_left", (160, 48)),
    ],
)
def test_to_rgb_shows_display_orientation(
    films: dict[str, GroundTruth], name: str, corner: str, size: tuple[int, int] | None
) -> None:
    """The marker painted top-left in the stored picture ends up where a player shows it."""
    with open_decoder(films[name].path) as decoder:
        image = next(iter(decoder.frames())).to_rgb(*(size or ()))
    if size:
        assert image.shape == (size[1], size[0], 3)
    corners = _corner_means(image)
    assert corners.pop(corner) > 240
    assert max(corners.values()) < 200


def test_counter_clip_times() -> None:
    """PySceneDetect's counter clip: 30 frames at 10 fps, frame k at k/10 s."""
    if not COUNTER_CLIP.exists():
        pytest.skip(f"{COUNTER_CLIP} not present")
    with open_decoder(COUNTER_CLIP) as decoder:
        seconds = [f.seconds for f in decoder.frames()]
    assert seconds == [k / 10 for k in range(30)]
    assert sample_indices(seconds, 10) == list(range(30))
    assert sample_indices(seconds, 5) == list(range(0, 30, 2))


def test_corrupt_packets_are_skipped_and_counted(corrupt_film: GroundTruth) -> None:
    with open_decoder(corrupt_film.path) as decoder:
        seconds = [f.seconds for f in decoder.frames()]
        corrupt, lost = decoder.corrupt_frames, decoder.frames_lost
    assert corrupt >= 1
    assert corrupt_film.frame_count - 60 < len(seconds) < corrupt_film.frame_count
    assert all(a < b for a, b in zip(seconds, seconds[1:]))
    true_seconds = np.array(corrupt_film.seconds)
    assert all(np.abs(true_seconds - s).min() < 1e-3 for s in seconds)
    # Everything before the first damaged packet's group of pictures comes through.
    np.testing.assert_allclose(seconds[:50], true_seconds[:50], atol=1e-3)
    # MP4 indexes every frame: each one is decoded, skipped as corrupt, or counted as lost.
    assert len(seconds) + corrupt + lost == corrupt_film.frame_count


def test_truncated_file_decodes_what_is_there(truncated_film: GroundTruth) -> None:
    with open_decoder(truncated_film.path) as decoder:
        seconds = [f.seconds for f in decoder.frames()]
        lost, corrupt = decoder.frames_lost, decoder.corrupt_frames
    assert 10 < len(seconds) < truncated_film.frame_count
    true_seconds = np.array(truncated_film.seconds)
    # Every frame that comes out is a true frame at its true time; which frames around the cut
    # still decode depends on the FFmpeg build, so only those well before it are listed.
    assert all(a < b for a, b in zip(seconds, seconds[1:]))
    assert all(np.abs(true_seconds - s).min() < 1e-3 for s in seconds)
    np.testing.assert_allclose(seconds[:-4], true_seconds[: len(seconds) - 4], atol=1e-3)
    # The frames that never came, at the cut and after it, are counted, not silently gone.
    holes = int(np.sum(true_seconds <= seconds[-1] + 1e-3)) - len(seconds)
    assert lost > holes
    assert len(seconds) + corrupt + lost == pytest.approx(truncated_film.frame_count, abs=2)


@pytest.mark.parametrize(
    "kind", ["missing", "directory", "empty", "text", "audio_only", "no_frames", "no_index"]
)
def test_bad_input_is_one_line_naming_the_file(bad_inputs: dict, kind: str) -> None:
    path = bad_inputs[kind]
    with pytest.raises(BadInputError) as caught:
        with open_decoder(path) as decoder:
            for _ in decoder.frames():
                pass
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    assert ";" in message  # problem; fix


def test_mp4_cut_before_its_index_says_it_is_truncated(bad_inputs: dict) -> None:
    """PyAV writes the moov box last, as cameras and most muxers do; cut off, the file has none."""
    path = bad_inputs["no_index"]
    with pytest.raises(BadInputError) as caught:
        open_decoder(path)
    assert "looks incomplete or truncated" in str(caught.value)
    assert "not a readable video file" not in str(caught.value)
    with pytest.raises(BadInputError, match="not a readable video file"):
        open_decoder(bad_inputs["text"])


def test_backend_names_are_checked() -> None:
    with pytest.raises(BadInputError, match="valid values: auto, pyav"):
        open_decoder("film.mkv", backend="vhs")


def test_backend_that_cannot_import_says_so(monkeypatch: pytest.MonkeyPatch, films: dict) -> None:
    monkeypatch.setitem(registry.TABLE["decoder"], "ghost", "filmline.engine.decode.no_such_module:Ghost")
    with pytest.raises(BadInputError, match="'ghost' cannot be used here"):
        open_decoder(films["h264-cfr.mkv"].path, backend="ghost")


def test_frames_can_be_decoded_again(films: dict[str, GroundTruth]) -> None:
    truth = films["h264-cfr.mkv"]
    with open_decoder(truth.path) as decoder:
        first = next(iter(decoder.frames())).to_rgb()
        count = sum(1 for _ in decoder.frames())
        again = next(iter(decoder.frames())).to_rgb()
    assert count == truth.frame_count
    np.testing.assert_array_equal(first, again)


def test_single_thread_decodes_the_same(films: dict[str, GroundTruth]) -> None:
    truth = films["hevc-vfr-start1s.mkv"]
    threaded = [f.pts for f in PyAVDecoder(truth.path).frames()]
    single = [f.pts for f in PyAVDecoder(truth.path, threads=1).frames()]
    assert threaded == single and len(single) == truth.frame_count


def test_missing_timestamps_follow_the_previous_frame(films: dict[str, GroundTruth]) -> None:
    """pts None: previous + the frame's duration, else + the last interval; no step back."""
    info: VideoInfo = PyAVDecoder(films["h264-cfr.mkv"].path).info  # 25 fps, 1/1000
    clock = _PtsClock(info)

    class Fake:
        def __init__(self, pts: int | None, duration: int = 0) -> None:
            self.pts, self.duration = pts, duration

    given = [Fake(None), Fake(None), Fake(100), Fake(None), Fake(None, 7), Fake(150), Fake(160)]
    assert [clock.pts_of(f) for f in given] == [0, 40, 100, 160, 167, None, None]

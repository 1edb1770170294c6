"""One video through the shot pipeline: a single decode pass feeds every stage.

Per decoded frame: a 64×36 thumbnail for the cheap pass (every frame), and, for the frames the
sampler picks at --fps or that sit either side of a cut candidate, an encoder-sized image and a
key-frame thumbnail. The last few decoded frames stay in a small ring, because a candidate is
decided a few frames after it was decoded. After the decode: gradual transitions, verification,
fades joined through black (and the user's minimum shot length, if any), key frames.

Frames NVDEC decoded stay on the GPU: their thumbnail and TransNetV2 input are scaled there from
NV12, the cheap pass measures them there, and the encoder's embeddings stay there too, so the
kernels (`filmline.kernels`) run as Triton; only a few numbers per batch, and the thumbnails of
sampled frames, come to the host. With PyAV's frames the same code runs on the host.
"""

from __future__ import annotations

import time
from collections import deque
from contextlib import closing
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from filmline.engine.background import prefetch
from filmline.engine.decode import Decoder, FpsSampler, Frame, VideoInfo, open_decoder
from filmline.engine.decode.pyav import decode_frames_at
from filmline.engine.encoder_queue import EncoderQueue
from filmline.engine.errors import BadInputError
from filmline.engine.keyframe_store import KeyframeStore
from filmline.engine.models.transnetv2 import HEIGHT as SHOT_MODEL_HEIGHT
from filmline.engine.models.transnetv2 import WIDTH as SHOT_MODEL_WIDTH
from filmline.engine.taps import FrameTap
from filmline.engine.stages.cheap_pass import THUMB_SIZE, CheapFeatures, CheapPass
from filmline.engine.stages.cut_candidates import CutCandidateDetector, CutRules
from filmline.engine.stages.gradual import GradualSettings, GradualTransition, find_gradual_transitions
from filmline.engine.stages.keyframes import pick_key_frames
from filmline.engine.stages.learned_cuts import LearnedSettings, learned_boundaries
from filmline.engine.stages.learned_scores import LearnedScores, WindowRun
from filmline.engine.stages.shots import Boundary, EmbeddingTable, Shot, build_shots, decide_boundaries
from filmline.engine.timecode import frame_seconds

Image = np.ndarray | torch.Tensor  # uint8 RGB [H, W, 3]: on the host, or on the GPU for NVDEC frames
STATS_BATCH = 16  # frames per cheap-pass kernel call
PREFETCH_DEPTH = 8  # decoded frames (with their thumbnails) waiting for the stages


@dataclass(frozen=True)
class ShotSettings:
    fps: float
    threshold: float
    min_shot_seconds: float
    black_gap_seconds: float
    cut_ratio: float
    cut_window: int
    cut_min_diff: float
    cut_min_colour: float
    flash_max_frames: int
    flash_return: float
    colour_weight: float
    black_level: float
    gradual_lag: int
    gradual_min_frames: int
    gradual_max_frames: int
    gradual_min_change: float
    gradual_max_mix_residual: tuple[float, ...]
    gradual_max_wipe_residual: float
    thumbnail_width: int
    jpeg_quality: int
    learned: LearnedSettings | None = None  # TransNetV2's thresholds; None: the cheap pass decides

    def cut_rules(self) -> CutRules:
        return CutRules(self.cut_ratio, self.cut_window, self.cut_min_diff, self.cut_min_colour,
                        self.flash_max_frames, self.flash_return)


@dataclass
class VideoAnalysis:
    """Everything the result document is made from. Times stay exact (`pts`, in the stream's
    time base) until the document asks for seconds."""

    info: VideoInfo
    decoder_backend: str
    pts: np.ndarray  # int64 presentation timestamp of every decoded frame, in info.time_base
    corrupt_frames: int
    frames_lost: int  # frames that never came out of the decoder (see engine.decode.losses)
    features: CheapFeatures
    cut_candidates: dict[int, float]
    rejected: list[Boundary]
    shots: list[Shot]
    key_frames: list[int | None]
    thumbnails: list[str | None]
    embedded_frames: int
    timings: dict[str, float] = field(default_factory=dict)
    truncated: bool = False  # frames end well before the container's duration
    probabilities: np.ndarray | None = None  # TransNetV2's [N, 2] (cut, transition) per frame

    @cached_property
    def seconds(self) -> np.ndarray:
        """Every decoded frame's time in seconds from the first frame (`Frame.seconds`)."""
        return frame_seconds(self.pts, self.info.start_pts, self.info.time_base)

    @property
    def end_seconds(self) -> float:
        """The end of the last frame: its start plus the previous frame interval."""
        return _end_seconds(self.seconds)


class _FrameRing:
    """The last few decoded frames with their thumbnails (on the device for NVDEC frames), by frame index."""

    def __init__(self, size: int) -> None:
        self._frames: deque[tuple[Frame, Image]] = deque(maxlen=size)

    def append(self, frame: Frame, thumbnail: Image) -> None:
        self._frames.append((frame, thumbnail))

    def get(self, index: int) -> tuple[Frame, Image]:
        first = self._frames[0][0].index
        entry = self._frames[index - first] if 0 <= index - first < len(self._frames) else None
        if entry is None or entry[0].index != index:
            raise RuntimeError(f"frame {index} left the ring before it was used (ring starts at {first})")
        return entry


class _Capture:
    """Encoder input and key-frame thumbnail of selected frames, each frame once. As a tap it
    takes the frames sampled at --fps; the cut detector adds the frames beside each candidate."""

    def __init__(self, fps: float, store: KeyframeStore, encoder: EncoderQueue | None, thumb_size: tuple[int, int]) -> None:
        self.fps = fps
        self.store = store
        self.encoder = encoder
        self.thumb_size = thumb_size  # (width, height)
        self.seconds_spent = 0.0

    def take(self, frame: Frame, thumbnail: np.ndarray | None = None) -> None:
        if frame.index in self.store.captured:
            return
        started = time.perf_counter()
        encoder_before = self.encoder.seconds_spent if self.encoder is not None else 0.0
        self.store.save(frame.index, frame.to_rgb(*self.thumb_size))
        if self.encoder is not None:
            self.encoder.add_frame(frame)  # prepared on the GPU when the frame was decoded there
        encoder_spent = (self.encoder.seconds_spent if self.encoder is not None else 0.0) - encoder_before
        self.seconds_spent += time.perf_counter() - started - encoder_spent


def analyze_video(
    path: Path,
    settings: ShotSettings,
    encoder: EncoderQueue | None,
    out_dir: Path,
    *,
    decoder_backend: str = "auto",
    decode_sessions: int | None = None,
    allow_truncated: bool = False,
    taps: Sequence[FrameTap] = (),
    on_frames: Callable[[int], None] | None = None,
    on_open: Callable[[VideoInfo], None] | None = None,
    shot_model: WindowRun | None = None,
) -> VideoAnalysis:
    """Decode `path` once and find its shots and key frames; thumbnails land in `out_dir`.

    A file whose frames end well before its container says it does (an incomplete download or
    copy) is a `BadInputError` unless `allow_truncated`; then its decodable part is analysed.
    `taps` get frames at their own rates from the same decode (triggers, per-second features).
    `decode_sessions`: concurrent decode sessions on keyframe chunks (None: the backend's choice).
    `shot_model` (TransNetV2's window call, with `settings.learned`) scores every decoded frame.
    """
    started = time.perf_counter()
    with open_decoder(path, decoder_backend, sessions=decode_sessions) as decoder:
        if on_open is not None:
            on_open(decoder.info)
        store = KeyframeStore(out_dir, path.stem, settings.jpeg_quality)
        learned = (LearnedScores(shot_model, settings.learned.batch, settings.learned.cut_threshold)
                   if shot_model and settings.learned else None)
        try:
            decoded = _decode_pass(decoder, settings, encoder, store, taps, on_frames, learned)
            pts, features, candidates, capture_seconds = decoded
            seconds = frame_seconds(pts, decoder.info.start_pts, decoder.info.time_base)  # for decisions in seconds
            truncated = _looks_truncated(decoder.info, seconds)
            if truncated and not allow_truncated:
                raise BadInputError(
                    f"{path}: its frames end at {_end_seconds(seconds):.1f} s but the container says "
                    f"{decoder.info.duration_seconds:.1f} s, so the file looks truncated (an incomplete download "
                    f"or copy); copy it again, or pass --allow-truncated to analyse the decodable part"
                )
            if encoder is not None:
                encoder.flush()
            probabilities = learned.finish() if learned is not None else None
            learned_seconds = learned.seconds_spent if learned is not None else 0.0
            decode_seconds = time.perf_counter() - started
            signatures = learned.signatures() if learned is not None else None
            motion = learned.motion() if learned is not None else None
            analysis = _decide(decoder, settings, encoder, store, pts, seconds, features, candidates, probabilities,
                               signatures, motion)
            analysis.truncated = truncated
            analysis.timings = {
                "decode_and_cheap_pass": decode_seconds - capture_seconds - learned_seconds
                - (encoder.seconds_spent if encoder else 0.0),
                "capture": capture_seconds,
                "encoder": encoder.seconds_spent if encoder else 0.0,
                **({"transnetv2": learned_seconds} if learned is not None else {}),
                **analysis.timings,
            }
            return analysis
        except BaseException:
            store.discard()
            if learned is not None:
                learned.close()
            if encoder is not None:
                encoder.discard()
            raise


def _decode_pass(
    decoder: Decoder,
    settings: ShotSettings,
    encoder: EncoderQueue | None,
    store: KeyframeStore,
    taps: Sequence[FrameTap],
    on_frames: Callable[[int], None] | None,
    learned: LearnedScores | None,
) -> tuple[np.ndarray, CheapFeatures, dict[int, float], float]:
    capture = _Capture(settings.fps, store, encoder, _thumbnail_size(decoder.info, settings))
    sampled = [(FpsSampler(tap.fps), tap) for tap in (capture, *taps)]
    cheap = CheapPass(settings.gradual_lag, settings.colour_weight, return_lags=settings.flash_max_frames + 1)
    detector = CutCandidateDetector(settings.cut_rules())
    ring = _FrameRing(STATS_BATCH + detector.lookahead + 4)
    pts: list[int] = []
    thumbs: list[Image] = []

    def capture_around(candidates: list[int]) -> None:
        for candidate in candidates:
            capture.take(ring.get(candidate - 1)[0])
            capture.take(ring.get(candidate)[0])

    def run_cheap_pass() -> None:
        scores = cheap.push(np.stack(thumbs) if isinstance(thumbs[0], np.ndarray) else torch.stack(thumbs))
        thumbs.clear()
        capture_around(detector.push(scores))

    def small_copies(frame: Frame) -> tuple[Frame, Image, Image | None]:
        """The cheap pass's thumbnail and, beside it, TransNetV2's 48×27 input."""
        shot_input = _small_copy(frame, SHOT_MODEL_WIDTH, SHOT_MODEL_HEIGHT) if learned is not None else None
        return frame, _small_copy(frame, THUMB_SIZE[1], THUMB_SIZE[0]), shot_input

    with closing(prefetch(decoder.frames(), small_copies, PREFETCH_DEPTH)) as decoded:  # joins the thread
        for frame, thumb, shot_input in decoded:
            if learned is not None:
                learned.push(shot_input)
            ring.append(frame, thumb)
            pts.append(frame.pts)
            thumbs.append(thumb)
            for sampler, tap in sampled:
                for chosen in sampler.push(frame.index, frame.seconds):
                    _give(tap, ring.get(chosen))
            if len(thumbs) == STATS_BATCH:
                run_cheap_pass()
                if on_frames is not None:
                    on_frames(STATS_BATCH)
    pending = len(thumbs)
    if thumbs:
        run_cheap_pass()
    for sampler, tap in sampled:
        for chosen in sampler.finish():
            _give(tap, ring.get(chosen))
    capture_around(detector.finish())
    if on_frames is not None and pending:
        on_frames(pending)
    return np.asarray(pts, dtype=np.int64), cheap.features(), detector.scores_of_candidates, capture.seconds_spent


def _small_copy(frame: Frame, width: int, height: int) -> Image:
    """`frame` as uint8 RGB `[height, width, 3]`: a frame decoded on the GPU (NVDEC's `to_tensor`)
    is scaled there from its NV12 planes and stays there for the cheap pass's kernel and
    TransNetV2; any other frame is scaled on the host."""
    to_tensor = getattr(frame, "to_tensor", None)
    return to_tensor(width, height) if to_tensor is not None else frame.to_rgb(width, height)


def _give(tap: FrameTap, entry: tuple[Frame, Image]) -> None:
    """A sampled frame to a tap, with its thumbnail on the host (the taps' contract): a copy at
    the tap's rate, not for every frame."""
    frame, thumbnail = entry
    tap.take(frame, thumbnail if isinstance(thumbnail, np.ndarray) else thumbnail.cpu().numpy())


def _decide(
    decoder: Decoder,
    settings: ShotSettings,
    encoder: EncoderQueue | None,
    store: KeyframeStore,
    pts: np.ndarray,
    seconds: np.ndarray,
    features: CheapFeatures,
    candidates: dict[int, float],
    probabilities: np.ndarray | None,
    signatures: np.ndarray | None,
    motion: dict[int, float] | None,
) -> VideoAnalysis:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    table = EmbeddingTable(encoder.frames, encoder.embedding_tensor()) if encoder is not None else None
    if probabilities is not None and settings.learned is not None:
        kept, rejected = learned_boundaries(probabilities, candidates, features, settings.black_level, settings.learned,
                                            table, settings.threshold, signatures,
                                            _cheap_gradual(settings, features, candidates), motion,
                                            _gradual_settings(settings))
    else:
        kept, rejected = _cheap_boundaries(settings, features, candidates, table)
    end_seconds = _end_seconds(seconds)
    shots = build_shots(kept, seconds, end_seconds, settings.min_shot_seconds, settings.black_gap_seconds)
    timings["shots"] = time.perf_counter() - started
    started = time.perf_counter()
    key_frames = pick_key_frames(shots, table, sorted(store.captured))
    key_frames = _capture_again(decoder.info, pts, key_frames, store, _thumbnail_size(decoder.info, settings))
    thumbnails = store.finalize(key_frames)
    timings["keyframes"] = time.perf_counter() - started
    return VideoAnalysis(
        info=decoder.info,
        decoder_backend=decoder.BACKEND_NAME,
        pts=pts,
        corrupt_frames=decoder.corrupt_frames,
        frames_lost=decoder.frames_lost,
        features=features,
        cut_candidates=candidates,
        rejected=rejected,
        shots=shots,
        key_frames=key_frames,
        thumbnails=thumbnails,
        embedded_frames=len(table) if table is not None else 0,
        timings=timings,
        probabilities=probabilities,
    )


def _thumbnail_size(info: VideoInfo, settings: ShotSettings) -> tuple[int, int]:
    """(width, height) of a key-frame thumbnail: `thumbnail_width` wide, the display aspect, even."""
    width = settings.thumbnail_width
    return width, max(2, round(width * info.height / max(info.width, 1) / 2) * 2)


def _capture_again(
    info: VideoInfo, pts: np.ndarray, key_frames: list[int | None], store: KeyframeStore, size: tuple[int, int]
) -> list[int | None]:
    """Thumbnails for the key frames the decode pass did not capture (a shot shorter than the
    sampling interval between two fades holds no sampled frame): those few frames are decoded
    again, seeking to each, on the CPU. A frame that does not decode again leaves its shot
    without a key frame (None)."""
    missing = {k for k in key_frames if k is not None and k not in store.captured}
    if missing:
        wanted = {int(pts[k]): k for k in missing}
        for frame in decode_frames_at(info, wanted):
            store.save(wanted[frame.pts], frame.to_rgb(*size))
    return [k if k is None or k in store.captured else None for k in key_frames]


def _cheap_boundaries(
    settings: ShotSettings, features: CheapFeatures, candidates: dict[int, float], table: EmbeddingTable | None
) -> tuple[list[Boundary], list[Boundary]]:
    """The cheap pass's own decision: its cut candidates and gradual guesses, verified by the encoder."""
    return decide_boundaries(candidates, _cheap_gradual(settings, features, candidates), table, settings.threshold)


def _cheap_gradual(
    settings: ShotSettings, features: CheapFeatures, candidates: dict[int, float]
) -> list[GradualTransition]:
    """The cheap pass's fades, and the dissolves and wipes whose frames are blends of their ends."""
    return find_gradual_transitions(features, _gradual_settings(settings), candidates)


def _gradual_settings(settings: ShotSettings) -> GradualSettings:
    return GradualSettings(
        black_level=settings.black_level,
        min_frames=settings.gradual_min_frames,
        max_frames=settings.gradual_max_frames,
        min_change=settings.gradual_min_change,
        max_mix_residual=settings.gradual_max_mix_residual,
        max_wipe_residual=settings.gradual_max_wipe_residual,
        cut_ratio=settings.cut_ratio,
    )


def _looks_truncated(info: VideoInfo, seconds: np.ndarray) -> bool:
    """Frames end more than max(1 s, 2 %) before the container's duration.

    The container's duration may count from 0 rather than from the first frame (MKV), so the
    start offset is taken off it: that can miss a truncation of less than the offset, never
    accuse a whole file.
    """
    if not info.duration_seconds:
        return False
    declared = info.duration_seconds - float(info.start_pts * info.time_base)
    return _end_seconds(seconds) < declared - max(1.0, 0.02 * declared)


def _end_seconds(seconds: np.ndarray) -> float:
    """The end of the last frame: its start plus the previous frame interval."""
    if len(seconds) == 0:
        return 0.0
    if len(seconds) == 1:
        return float(seconds[0])
    return float(seconds[-1] + (seconds[-1] - seconds[-2]))

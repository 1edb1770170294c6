"""The named suites of `engine-bench`: which films, which encoder, how many repeats.

- `smoke`: one dense 14 s film at 320×180 and a tiny encoder; every measurement once, small.
  CI runs it (under a minute on 2 cores) so the harness cannot rot; its numbers say little.
- `cpu`: three films, 480p H.264 MKV (30 s), 720p HEVC MP4 at 29.97 fps (20 s), 1080p H.264
  MP4 at 24 fps (10 s); the SigLIP-base-sized encoder on every CPU backend; a two-episode
  season with the cheap pass. About 10 minutes on 2 cores the first time (films and the
  encoder are cached after); the encoder (a few images/s on 2 cores) dominates.
- `gpu`: the GPU fast path (`benchmarks.gpu_suite`): the base encoder per precision, CUDA graphs
  and batch size; a ten-minute 1080p H.264 film decoded with one and several sessions per
  decoder, and `engine-run` on it end to end; `benchmarks/device/gpu_session.sh` runs it on a
  lent GPU together with the GPU tests and the kernel benchmark.
- `shots`: shot accuracy, not speed (`benchmarks.accuracy`): every shot detector of `engine-run`
  beside PySceneDetect adaptive and content and the TransNetV2 reference package, on the real
  clips of the data folder (`--data`, default `../shared/data`) and synthetic traps (fast
  motion over real textures, flashes, wipes, short shots); F1 at 0/1/2 frames and gradual spans.
  A few minutes on 2 cores.
- `library`: four one-minute 480p films as a library, films per hour for the sequential
  `engine-run` loop and `--workers 1` and `2` (`benchmarks.library_bench`). A few minutes on 2 cores.
- `library-gpu`: the same on a GPU machine with eight one-minute 1080p films, `--workers 1`, `2`
  and `4` (the actors share the GPU).
- `film-2h`: one two-hour 480p film (written once with x264 ultrafast, about 30 min on 2
  cores), end to end and side by side; run by hand.

Suites with a `season` also time a synthetic season (episodes sharing an intro at varying
offsets, `benchmarks.synthetic_series`) end to end, when that module is present. All but
`film-2h` time the vision-language tasks (`benchmarks.vlm_bench`) on a random-weight LLaVA:
a tiny one on `smoke` and `cpu` (the harness), a LLaVA-1.5-7B-shaped one on `gpu`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FilmSpec:
    """One synthetic film (`benchmarks.films` writes it): length, picture size, rate, codec, container."""

    name: str
    seconds: float
    size: str | tuple[int, int]  # "480p", "720p", "1080p" or (width, height)
    fps: str  # "25" or "30000/1001"
    codec: str = "h264"
    container: str = "mkv"
    seed: int = 0
    preset: str | None = None  # encoder preset override (long films: ultrafast)
    dense: bool = False  # every kind of transition and negative in a few seconds (smoke film)

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.container}"


@dataclass(frozen=True)
class SeasonSpec:
    """A synthetic season (`benchmarks.synthetic_series`): episodes sharing an intro at varying offsets."""

    name: str
    episodes: int
    episode_seconds: float
    intro_seconds: float
    credits_seconds: float
    size: tuple[int, int] = (854, 480)
    fps: float = 25
    seed: int = 0
    with_encoder: bool = True  # also time the episodes with the encoder (else the cheap pass only)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    films: tuple[FilmSpec, ...]
    encoder: str  # benchmarks.encoders size: "tiny" or "base"
    encoder_batch: int
    warmup: int
    repeats: int
    kernels_full: bool = False  # full kernel sizes on CUDA (else the small CPU set)
    season: SeasonSpec | None = None  # timed end to end when benchmarks.synthetic_series exists
    needs_gpu: bool = False
    stage_films: int = 99  # per-stage figures on the first this many films (end to end: all)
    transnetv2: bool = True  # the TransNetV2 figure (benchmarks.transnetv2_bench; exports the model once)
    vlm_model: str = "random:tiny"  # benchmarks.vlm_bench: a folder, a hub id or random:SHAPE
    vlm_prompts: int = 4  # prompts per vision-language figure
    library_films: tuple[FilmSpec, ...] = ()  # films/hour sequential vs --workers N (benchmarks.library_bench)
    library_workers: tuple[int, ...] = (1, 2)  # the N of those figures


_CPU_FILMS = (
    FilmSpec("mix-480p-h264", 30, "480p", "25", "h264", "mkv", seed=1),
    FilmSpec("mix-720p-hevc", 20, "720p", "30000/1001", "hevc", "mp4", seed=2),
    FilmSpec("mix-1080p-h264", 10, "1080p", "24", "h264", "mp4", seed=3),
)
# Ten one-minute parts written in parallel and joined (`benchmarks.long_film`): MP4 for exact times.
_LONG_FILM = FilmSpec("film-10min-1080p-h264", 600, "1080p", "24", "h264", "mp4", seed=6)

# Libraries: equal films, as many as the most workers times two, long enough that a film's cost
# outweighs the per-film overhead (each written once, then cached).
_LIBRARY_FILMS = tuple(FilmSpec(f"library-{i}-60s-480p", 60, "480p", "25", seed=20 + i) for i in range(4))
_LIBRARY_GPU_FILMS = tuple(FilmSpec(f"library-{i}-60s-1080p", 60, "1080p", "24", "h264", "mp4", seed=30 + i,
                                    preset="ultrafast") for i in range(8))

SUITES = {
    suite.name: suite
    for suite in (
        Suite("smoke", "one 14 s 320x180 film with every transition and hard negative, tiny encoder; checks the "
              "harness end to end, its numbers say little",
              (FilmSpec("smoke-dense", 8, (320, 180), "25", "h264", "mkv", seed=11, dense=True),),
              encoder="tiny", encoder_batch=16, warmup=1, repeats=3, vlm_prompts=1, transnetv2=False),
        Suite("cpu", "480p/720p/1080p films (H.264 and HEVC, MKV and MP4), SigLIP-base-sized encoder on the CPU",
              _CPU_FILMS, encoder="base", encoder_batch=8, warmup=1, repeats=3,
              season=SeasonSpec("season-2x36s-480p", 2, 36, 8, 6, with_encoder=False)),
        Suite("gpu", "the GPU fast path: SigLIP-base-sized encoder per precision, CUDA graphs and batch; a 10-minute "
              "1080p H.264 film decoded with 1 and N sessions per decoder and run end to end (engine-run --fps 1)",
              (_LONG_FILM,), encoder="base", encoder_batch=64, warmup=0, repeats=1, needs_gpu=True,
              vlm_model="random:llava-1.5-7b", vlm_prompts=32),
        Suite("vlm", "the vision-language tasks alone: requests/s and generated tokens/s on a LLaVA-1.5-7B-shaped "
              "model with random weights (transformers, fp16 on the GPU; --vlm-model for another)",
              (), encoder="tiny", encoder_batch=1, warmup=1, repeats=3,
              vlm_model="random:llava-1.5-7b", vlm_prompts=32),
        Suite("library", "films/hour of a library of four one-minute 480p H.264 films: the sequential engine-run "
              "loop vs --workers 1 and 2 on a local Ray (cheap pass: decode-bound), once the work is under way",
              (), encoder="tiny", encoder_batch=1, warmup=0, repeats=2, library_films=_LIBRARY_FILMS),
        Suite("library-gpu", "films/hour of a library of eight one-minute 1080p H.264 films: the sequential loop vs "
              "--workers 1, 2 and 4 analysis actors sharing the GPU (NVDEC where it decodes the film)",
              (), encoder="tiny", encoder_batch=1, warmup=0, repeats=1, needs_gpu=True,
              library_films=_LIBRARY_GPU_FILMS, library_workers=(1, 2, 4)),
        Suite("shots", "shot accuracy on real clips (--data) and synthetic traps: engine-run's detectors beside "
              "PySceneDetect adaptive/content and the TransNetV2 reference, F1 at 0/1/2 frames and gradual spans",
              (), encoder="tiny", encoder_batch=1, warmup=0, repeats=1, vlm_prompts=0),
        Suite("film-2h", "one two-hour 480p H.264 film end to end and side by side, plus a synthetic season",
              (FilmSpec("film-2h-480p", 7200, "480p", "25", "h264", "mkv", seed=5, preset="ultrafast"),),
              encoder="base", encoder_batch=32, warmup=0, repeats=1, stage_films=0, vlm_prompts=0,
              season=SeasonSpec("season-20min-480p", 3, 1200, 60, 30)),
    )
}

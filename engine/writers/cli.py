"""`engine-report RESULT.json …`: write views of saved results (HTML report, editorial
timelines, chapters, contact sheet, CSV) and split videos into shots, without analysing again.

Heavy modules (OpenTimelineIO, PIL, PyAV) are imported only for the formats asked for.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from filmline.engine.cli_support import add_common_flags, run_reporting_errors
from filmline.engine.errors import BadInputError, OutputError
from filmline.engine.writers import CHAPTER_MODES, DEFAULT_FORMATS, FORMATS, Views, parse_formats

PROG = "engine-report"
REPORT_DEFAULT = ",".join(name for name in DEFAULT_FORMATS if name != "json")  # the JSON is the input


def add_view_flags(parser: argparse.ArgumentParser, default: str) -> None:
    """`--format` and `--chapters`, shared with `engine-run`."""
    parser.add_argument("--format", default=default, metavar="NAMES",
                        help=f"comma-separated views to write: {', '.join(FORMATS)}, or all (default %(default)s)")
    parser.add_argument("--chapters", choices=CHAPTER_MODES, default=CHAPTER_MODES[0],
                        help="vtt/ffmeta chapters: one per scene-level group of shots (intro and credits named), "
                             "or one per shot (default %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Write views of saved engine-run results (<stem>.json) without analysing again.")
    parser.add_argument("results", nargs="+", type=Path, help="result documents (<stem>.json) written by engine-run")
    add_view_flags(parser, REPORT_DEFAULT)
    parser.add_argument("--out", type=Path, help="output folder (default: each result's own folder; the HTML "
                                                  "report takes a copy of the JSON there, for the folder's index)")
    parser.add_argument("--split", choices=("copy", "encode"),
                        help="also write one video file per shot into <stem>.shots/: copy (packets as they are, "
                             "boundaries snap to keyframes) or encode (libx264, frame-exact)")
    parser.add_argument("--video", type=Path, help="--split: the source video, where the result's video.path "
                                                  "no longer reaches it (one result only)")
    add_common_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_reporting_errors(PROG, lambda: run(args), debug=args.debug)


def run(args: argparse.Namespace) -> int:
    from filmline.engine.writers import write_result
    from filmline.engine.writers.saved import load_result

    formats = parse_formats(args.format)
    if args.video is not None and len(args.results) > 1:
        raise BadInputError("--video names the source of one result; pass one RESULT.json with it")
    documents = [(path, load_result(path)) for path in args.results]  # every input checked before writing
    for path, document in documents:
        out_dir = args.out if args.out is not None else path.parent
        _make_folder(out_dir)
        stem = path.name[: -len(".json")] if path.name.endswith(".json") else path.stem
        chosen = formats
        if "html" in formats and "json" not in formats and out_dir.resolve() != path.parent.resolve():
            chosen = ("json", *formats)  # the folder's index.html lists the results (<stem>.json) in it
        for written in write_result(document, out_dir, stem, Views(chosen, args.chapters), source_dir=path.parent):
            print(written)
        if args.split:
            from filmline.engine.writers.split import split_video

            for written in split_video(document, args.video or Path(document["video"]["path"]), out_dir, stem, args.split):
                print(written)
    return 0


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create output folder {folder}: {err.strerror}; choose a writable folder with --out") from err


if __name__ == "__main__":
    sys.exit(main())

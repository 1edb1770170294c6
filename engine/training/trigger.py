"""`engine-train trigger`: train the original video-trigger project's model from annotated videos.

Writes a checkpoint in the original's layout (so `engine-build --model trigger --checkpoint FILE`
builds it, and the original's own code could load it) with the metrics of the kept epoch. Runs on the
GPU when there is one, else on the CPU (meant for small data there). Heavy imports happen in
`run`, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

from filmline.engine.cli_support import say
from filmline.engine.config import read_config
from filmline.engine.errors import BadInputError

HELP = "Train the trigger CNN (ResNet + LSTM) from annotated videos; writes a checkpoint engine-build --model trigger reads."


def configure(parser: argparse.ArgumentParser) -> None:
    train = read_config("trigger.yaml")["train"]
    run_defaults = read_config("trigger.yaml")["run"]
    parser.add_argument("--annotations", type=Path, required=True,
                        help="trigger JSON (videos[].triggers[]), ActivityNet JSON, or CSV video_path,timestamp,label,description")
    parser.add_argument("--videos", type=Path, required=True, help="folder the annotated video paths are relative to")
    parser.add_argument("--out", type=Path, default=Path("trigger-checkpoint.pt"), help="checkpoint to write (default %(default)s)")
    parser.add_argument("--val-annotations", type=Path, help="validation annotations (default: hold out --val-fraction of the videos)")
    parser.add_argument("--val-videos", type=Path, help="folder of the validation videos (default: --videos)")
    parser.add_argument("--val-fraction", type=float, default=train["val_fraction"],
                        help="videos held out when there are no --val-annotations (default %(default)s)")
    parser.add_argument("--encoder", choices=("resnet18", "resnet50"), default=train["encoder"],
                        help="visual encoder (default %(default)s)")
    parser.add_argument("--width", type=int, default=train["width"], help="ResNet base width (default %(default)s, torchvision's)")
    parser.add_argument("--backbone-weights", type=Path, help="torchvision ResNet weights to start from, e.g. resnet50-0676ba61.pth")
    parser.add_argument("--image-size", type=int, default=train["image_size"], help="frame size in pixels (default %(default)s)")
    parser.add_argument("--fps", type=float, default=run_defaults["fps"], help="frames sampled per second (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=train["epochs"], help="default %(default)s")
    parser.add_argument("--lr", type=float, default=train["learning_rate"], help="peak learning rate (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=train["batch_size"], help="sequences per step (default %(default)s)")
    parser.add_argument("--sequence-frames", type=int, default=train["sequence_frames"],
                        help="frames per training sequence (default %(default)s)")
    parser.add_argument("--threshold", type=float, default=run_defaults["threshold"],
                        help="trigger threshold the metrics use (default %(default)s)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA when available")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    _check(args)
    config = read_config("trigger.yaml")
    train_set, val_set = _split(args)

    import torch

    from filmline.engine.models.trigger import TriggerConfig, TriggerModel
    from filmline.engine.models.trigger_checkpoint import load_backbone_weights, save_trigger_checkpoint
    from filmline.engine.training.trigger_data import load_videos
    from filmline.engine.training.trigger_loop import TrainOptions, train

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise BadInputError("--device cuda but no CUDA device is visible: use --device cpu")
    window = tuple(config["train"]["positive_window"])
    decode = dict(fps=args.fps, size=args.image_size, window=window, progress=say)
    train_videos = load_videos(train_set, **decode)
    val_videos = load_videos(val_set, **decode)
    model = TriggerModel(TriggerConfig(encoder=args.encoder, width=args.width, image_size=args.image_size))
    if args.backbone_weights is not None:
        load_backbone_weights(model, args.backbone_weights)
    options = TrainOptions(
        epochs=args.epochs,
        learning_rate=args.lr,
        weight_decay=config["train"]["weight_decay"],
        batch_size=args.batch_size,
        sequence_frames=args.sequence_frames,
        grad_clip=config["train"]["grad_clip"],
        threshold=args.threshold,
        suppress_seconds=config["run"]["suppress_seconds"],
        tolerance=config["train"]["event_tolerance_seconds"],
        mean=tuple(config["model"]["mean"]),
        std=tuple(config["model"]["std"]),
        device=device,
        seed=args.seed,
    )
    say(f"training a {args.encoder} (width {args.width}, {args.image_size} px) on {device}: "
        f"{len(train_videos)} videos for training, {len(val_videos)} for validation")
    result = train(model, train_videos, val_videos, options, say)
    metadata: dict[str, Any] = {
        "fps": args.fps,
        "positive_window": list(window),
        "annotations": str(args.annotations),
        "metrics": result.metrics,
        "history": result.history,
    }
    save_trigger_checkpoint(args.out, model.cpu(), epoch=result.epoch, loss=result.loss, metadata=metadata)
    event, frame = result.metrics["event"], result.metrics["frame"]
    print(
        f"saved {args.out} (epoch {result.epoch} of {args.epochs}); on the {result.metrics['on']} videos: "
        f"event F1 {event['f1']:.3f} (P {event['precision']:.3f} R {event['recall']:.3f}, ±"
        f"{options.tolerance:g} s), frame F1 {frame['f1']:.3f} (P {frame['precision']:.3f} R {frame['recall']:.3f}). "
        f"Build it: engine-build --model trigger --checkpoint {args.out}",
        flush=True,
    )
    return 0


def _check(args: argparse.Namespace) -> None:
    positive = {"--width": args.width, "--image-size": args.image_size, "--fps": args.fps, "--epochs": args.epochs,
                "--lr": args.lr, "--batch-size": args.batch_size, "--sequence-frames": args.sequence_frames}
    for flag, value in positive.items():
        if not value > 0:
            raise BadInputError(f"{flag} must be positive, got {value}")
    if not 0.0 <= args.val_fraction < 1.0:
        raise BadInputError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if not 0.0 <= args.threshold <= 1.0:
        raise BadInputError(f"--threshold must be in [0, 1], got {args.threshold}")


def _split(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    """Training and validation videos: --val-annotations, else a seeded hold-out of whole videos."""
    videos = _found(args.annotations, args.videos)
    if args.val_annotations is not None:
        return videos, _found(args.val_annotations, args.val_videos or args.videos)
    held = min(len(videos) - 1, max(1 if args.val_fraction > 0 else 0, round(len(videos) * args.val_fraction)))
    if held <= 0:
        say("note: no validation videos (one annotated video, or --val-fraction 0): metrics are on the training videos")
        return videos, []
    order = list(range(len(videos)))
    random.Random(args.seed).shuffle(order)
    return [videos[i] for i in sorted(order[held:])], [videos[i] for i in sorted(order[:held])]


def _found(annotations: Path, folder: Path) -> list[Any]:
    from filmline.engine.training.trigger_annotations import read_annotations

    videos, missing = read_annotations(annotations, folder)
    if missing:
        say(f"note: {len(missing)} annotated videos are not under {folder} and are left out (e.g. {missing[0]})")
    if not videos:
        raise BadInputError(f"none of the videos named in {annotations} are under {folder}: pass --videos with the folder holding them")
    return videos

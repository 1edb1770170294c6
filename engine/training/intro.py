"""`engine-train intro`: the intro transformer from published annotations and a folder of videos.

Reads and repairs the annotations, embeds every video at 1 frame/s once (cached), holds out a
few episodes, trains on the intro paper's balanced windows, and writes a checkpoint (which
`engine-build --model intro --checkpoint` takes) with the validation metrics beside it. Heavy
imports happen in `run`, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from filmline.engine.config import read_config

if TYPE_CHECKING:
    from filmline.engine.training.intro_annotations import Annotations
    from filmline.engine.training.intro_fit import Labelled

HELP = "train the intro transformer (CLIP + multi-head attention, arXiv 2504.09738) on annotated episodes; writes a checkpoint and validation metrics"


def configure(parser: argparse.ArgumentParser) -> None:
    config = read_config("intro.yaml")
    model, training = config["model"], config["training"]
    parser.add_argument("--annotations", type=Path, required=True,
                        help='intro annotations, JSON: {"episode.mp4": {"start": "HH:MM:SS", "end": "HH:MM:SS"}}')
    parser.add_argument("--videos", type=Path, required=True, help="folder holding the annotated videos")
    parser.add_argument("--out", type=Path, default=Path("intro.pt"),
                        help="checkpoint to write; metrics go to <stem>.metrics.json (default %(default)s)")
    parser.add_argument("--embedder", default=model["embedder"],
                        help="clip-b32 (the published model's), siglip, or luma-WxH thumbnails needing no weights (default %(default)s)")
    parser.add_argument("--weights", help="encoder weights (hub id or folder) when the embedder is not built")
    parser.add_argument("--backend", default="auto", help="encoder runtime: auto, tensorrt, onnxruntime or torch")
    parser.add_argument("--cache", type=Path, help="embedding cache (default $ENGINE_HOME/embeddings/EMBEDDER)")
    parser.add_argument("--epochs", type=int, default=training["epochs"], help="default %(default)s")
    parser.add_argument("--batch-size", type=int, default=training["batch"], help="windows per step (default %(default)s)")
    parser.add_argument("--lr", type=float, default=training["lr"], help="Adam learning rate (default %(default)s)")
    parser.add_argument("--stride", type=int, default=training["stride"], help="window stride (default %(default)s)")
    for size in ("window", "layers", "heads", "feedforward"):
        parser.add_argument(f"--{size}", type=int, default=model[size], help=f"model {size} (default %(default)s)")
    parser.add_argument("--dropout", type=float, default=model["dropout"], help="default %(default)s")
    parser.add_argument("--credits", action=argparse.BooleanOptionalAction, default=None,
                        help="add a credits output (default: when the annotations have credits)")
    parser.add_argument("--validation-fraction", type=float, default=training["validation_fraction"],
                        help="share of episodes held out for the metrics (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="initialisation, shuffling and hold-out (default %(default)s)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: cuda when available")


def run(args: argparse.Namespace) -> int:
    import torch

    from filmline.engine.cli_support import say
    from filmline.engine.errors import BadInputError
    from filmline.engine.evaluation.intro import Scores, table
    from filmline.engine.home import engine_home
    from filmline.engine.models.intro import IntroConfig, IntroTransformer, save_checkpoint
    from filmline.engine.output_files import write_atomic
    from filmline.engine.stages.intro import IntroSettings
    from filmline.engine.training.intro_annotations import check_duration, load_annotations
    from filmline.engine.training.intro_features import EmbeddingCache, Embedder
    from filmline.engine.training.intro_fit import FitSettings, Labelled, balanced_pieces, fit, validate

    annotations = load_annotations(args.annotations, args.videos)
    for line in annotations.repairs:
        say(f"repaired {line}")
    _check_container_durations(annotations)
    embedder = Embedder(args.embedder, backend=args.backend, weights=args.weights)
    cache = EmbeddingCache(args.cache or engine_home() / "embeddings" / embedder.name)
    episodes = []
    for number, episode in enumerate(annotations.episodes, start=1):
        say(f"embedding {episode.name} ({number}/{len(annotations.episodes)}) with {embedder.name} ...")
        embeddings = cache.get(episode.path, embedder)
        if len(embeddings) == 0:
            raise BadInputError(f"{episode.path} has no frame to embed: drop it from {annotations.source.name}")
        check_duration(episode, float(len(embeddings)), annotations.source)
        episodes.append(Labelled(episode.name, embeddings, episode.intro, episode.credits))

    credits = any(e.credits for e in episodes) if args.credits is None else args.credits
    if credits and not any(e.credits for e in episodes):
        raise BadInputError(
            f'--credits needs credits spans in {annotations.source.name}: add "credits": {{"start", "end"}} entries'
        )
    train, held_out = _split(episodes, args.validation_fraction, args.seed)
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        config = IntroConfig(
            window=args.window, dim=int(episodes[0].embeddings.shape[1]), layers=args.layers, heads=args.heads,
            feedforward=args.feedforward, dropout=args.dropout, outputs=("intro", "credits") if credits else ("intro",),
        )
    except ValueError as err:
        raise BadInputError(f"{err}: choose --heads dividing the {embedder.name} width") from None
    torch.manual_seed(args.seed)
    model = IntroTransformer(config)
    say(f"training on {len(train)} episodes ({device}), validating on {len(held_out)} ...")
    settings = FitSettings(
        epochs=args.epochs, batch=args.batch_size, lr=args.lr, stride=args.stride, seed=args.seed, device=device
    )
    losses = fit(model, balanced_pieces(train, config.outputs, config.window), settings, progress=say)
    metrics: dict = {
        "embedder": embedder.name,
        "train_episodes": [e.name for e in train],
        "validation_episodes": [e.name for e in held_out],
        "final_loss": losses[-1] if losses else None,
        "repairs": annotations.repairs,
    }
    if held_out:
        metrics["validation"] = validate(model, held_out, IntroSettings.from_config())
    path = save_checkpoint(model.cpu(), args.out, embedder=embedder.name, metrics=metrics)
    metrics_path = path.with_name(f"{path.stem}.metrics.json")
    write_atomic(metrics_path, (json.dumps(metrics, indent=2, default=float) + "\n").encode("utf-8"))
    if held_out:
        print(table([Scores(**kinds["segments"]) for kinds in metrics["validation"].values()]))
        seed = ", ".join(f"{kind} F1 {kinds['per_second']['f1']:.3f}" for kind, kinds in metrics["validation"].items())
        print(f"per second at p > 0.5 (the paper's metric): {seed}")
    print(f"wrote {path} and {metrics_path.name}; next: engine-build --model intro --checkpoint {path}")
    return 0


def _split(episodes: list["Labelled"], fraction: float, seed: int) -> tuple[list["Labelled"], list["Labelled"]]:
    """Training and held-out episodes: a seeded draw of `fraction` of them (at least one when
    there are two or more, none when `fraction` is 0)."""
    import numpy as np

    if fraction <= 0 or len(episodes) < 2:
        return episodes, []
    count = min(len(episodes) - 1, max(1, round(fraction * len(episodes))))
    held = set(np.random.default_rng(seed).permutation(len(episodes))[:count].tolist())
    return [e for i, e in enumerate(episodes) if i not in held], [e for i, e in enumerate(episodes) if i in held]


def _check_container_durations(annotations: "Annotations") -> None:
    """Annotations past a video's end fail before the slow embedding, where the container says."""
    from filmline.engine.decode import open_decoder
    from filmline.engine.training.intro_annotations import check_duration

    for episode in annotations.episodes:
        with open_decoder(episode.path) as decoder:
            if decoder.info.duration_seconds is not None:
                check_duration(episode, decoder.info.duration_seconds, annotations.source)

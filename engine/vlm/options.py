"""The vision-language flags of `engine-run` and the run options made from them (checked before
any model loads). Light on purpose: `engine-run --help` imports this."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from filmline.engine import registry
from filmline.engine.errors import BadInputError

BACKENDS = registry.names("vlm")
TASKS = ("actions", "captions", "triggers")
ENABLE_HINT = "--vlm transformers --vlm-model FOLDER_OR_HUB_ID, or --vlm openai --vlm-url URL --vlm-model NAME"


def add_vlm_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("vision-language stage (action labels, captions, trigger descriptions)")
    group.add_argument("--vlm", choices=("none", *BACKENDS),
                       help="backend of the vision-language model (default: none, the stage is skipped)")
    group.add_argument("--vlm-model", metavar="MODEL",
                       help="transformers/trtllm: a model folder or Hugging Face id; openai: the served model name")
    group.add_argument("--vlm-url", metavar="URL", help="openai: the server's base URL, e.g. http://localhost:8000/v1")
    group.add_argument("--vlm-max-shots", type=int, metavar="N",
                       help="send at most N key shots per video to the model, the longest first (default: all)")
    group.add_argument("--vlm-tasks", metavar="TASKS", default=",".join(TASKS),
                       help="comma-separated subset of actions,captions,triggers (default: all)")
    group.add_argument("--vlm-concurrency", metavar="N", type=int,
                       help="requests in flight for --vlm openai (default from configs/vlm.yaml: 8)")
    group.add_argument("--vlm-batch-size", metavar="N", type=int,
                       help="prompts per forward pass for transformers/trtllm (default 8)")
    group.add_argument("--vlm-config", metavar="FILE", type=Path,
                       help="a YAML file in the form of configs/vlm.yaml: categories, prompts, limits")


@dataclass(frozen=True)
class VlmOptions:
    backend: str | None  # None: the stage is off
    explicit: bool  # --vlm was given (an explicit `none` needs no note)
    model: str | None
    url: str | None
    max_shots: int | None
    tasks: tuple[str, ...]
    concurrency: int | None
    batch_size: int | None
    config_path: Path | None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "VlmOptions":
        backend = None if args.vlm in (None, "none") else args.vlm
        tasks = tuple(t.strip() for t in args.vlm_tasks.split(",") if t.strip())
        unknown = [t for t in tasks if t not in TASKS]
        if unknown or not tasks:
            raise BadInputError(f"--vlm-tasks {args.vlm_tasks!r}: choose a comma-separated subset of {','.join(TASKS)}")
        for flag, value in (("--vlm-max-shots", args.vlm_max_shots), ("--vlm-concurrency", args.vlm_concurrency),
                            ("--vlm-batch-size", args.vlm_batch_size)):
            if value is not None and value < 1:
                raise BadInputError(f"{flag} must be >= 1, got {value}")
        given = [flag for flag, value in (("--vlm-model", args.vlm_model), ("--vlm-url", args.vlm_url),
                                          ("--vlm-max-shots", args.vlm_max_shots),
                                          ("--vlm-concurrency", args.vlm_concurrency),
                                          ("--vlm-batch-size", args.vlm_batch_size),
                                          ("--vlm-config", args.vlm_config)) if value is not None]
        if backend is None and given:
            raise BadInputError(f"{given[0]} needs a vision-language backend: add --vlm {'|'.join(BACKENDS)}")
        if backend is not None and not args.vlm_model:
            what = "the served model name" if backend == "openai" else "a model folder or Hugging Face id"
            raise BadInputError(f"--vlm {backend} needs --vlm-model: {what}")
        if backend == "openai" and not args.vlm_url:
            raise BadInputError("--vlm openai needs --vlm-url: the server's base URL, e.g. http://localhost:8000/v1")
        if backend not in (None, "openai") and args.vlm_url:
            raise BadInputError(f"--vlm-url is for --vlm openai; --vlm {backend} loads --vlm-model itself")
        if backend == "openai" and not args.vlm_url.startswith(("http://", "https://")):
            raise BadInputError(f"--vlm-url {args.vlm_url!r} is not an http(s) URL; e.g. http://localhost:8000/v1")
        return cls(backend, args.vlm is not None, args.vlm_model, args.vlm_url, args.vlm_max_shots, tasks,
                   args.vlm_concurrency, args.vlm_batch_size, args.vlm_config)

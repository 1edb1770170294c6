"""The trigger model's training loop, with the original's defects fixed.

- The loss is on logits (binary cross-entropy with logits on both class columns, whose class-1
  sigmoid is the confidence engine-run thresholds); the seed took cross-entropy of probabilities
  it had already squashed through a sigmoid and clamped to [0.1, 1].
- Padding is masked: padded frames neither reach the encoder (batch-norm statistics) nor the loss.
- The learning rate follows a warm-up and cosine decay stepped once per batch.
- Trigger frames are rare, so each class weighs half of the loss (weights from the training labels).

Each epoch is scored on the validation videos (per frame and per event, with the same threshold
and suppression as engine-run); the weights of the best epoch are kept.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from filmline.engine.errors import BadInputError
from filmline.engine.models.trigger import TriggerModel, trigger_confidence
from filmline.engine.preprocess import to_pixels
from filmline.engine.stages.triggers import select_triggers
from filmline.engine.training.trigger_data import SampledVideo, batch, pieces
from filmline.engine.training.trigger_metrics import Scores, event_scores, frame_scores

_WARMUP = 0.1  # fraction of the steps spent warming up
_EVAL_BATCH = 64


@dataclass(frozen=True)
class TrainOptions:
    epochs: int
    learning_rate: float
    weight_decay: float
    batch_size: int  # sequences per step
    sequence_frames: int
    grad_clip: float
    threshold: float
    suppress_seconds: float
    tolerance: float  # seconds, for event matching
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    device: str
    seed: int


@dataclass
class TrainResult:
    epoch: int  # the epoch whose weights were kept
    loss: float
    metrics: dict[str, Any]  # of the kept epoch, on the validation videos (else the training ones)
    history: list[dict[str, Any]]


def trigger_loss(logits: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor, positive_weight: float) -> torch.Tensor:
    """Class-weighted BCE with logits over the valid frames of a padded batch."""
    targets = torch.stack([1.0 - labels, labels], dim=-1)
    per_frame = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(-1)
    weights = torch.where(labels > 0.5, positive_weight, 1.0) * valid
    return (per_frame * weights).sum() / weights.sum().clamp_min(1e-8)


def positive_weight(videos: Sequence[SampledVideo]) -> float:
    """Negatives per positive: both classes then weigh the same in the loss."""
    labels = np.concatenate([video.labels for video in videos])
    positives = float(labels.sum())
    if positives == 0:
        raise BadInputError("the training videos have no trigger frames: annotate at least one trigger with a label other than 0")
    return (len(labels) - positives) / positives


def train(
    model: TriggerModel,
    train_videos: Sequence[SampledVideo],
    val_videos: Sequence[SampledVideo],
    options: TrainOptions,
    progress: Callable[[str], None],
) -> TrainResult:
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    device = torch.device(options.device)
    model.to(device)
    weight = positive_weight(train_videos)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay)
    per_epoch = math.ceil(sum(_most_pieces(len(v.seconds), options.sequence_frames) for v in train_videos) / options.batch_size)
    total = max(1, options.epochs * per_epoch)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _learning_rate_factor(step, total))
    scored_on = "validation" if val_videos else "train"
    best: tuple[tuple[float, ...], int, dict[str, Any], dict[str, Any]] | None = None
    history = []
    for epoch in range(1, options.epochs + 1):
        started = time.perf_counter()
        model.train()
        order = pieces(train_videos, options.sequence_frames, rng)
        rng.shuffle(order)
        losses = []
        for first in range(0, len(order), options.batch_size):
            pixels, labels, valid = batch(train_videos, order[first : first + options.batch_size], options.mean, options.std)
            logits = model(pixels.to(device), valid.to(device))
            loss = trigger_loss(logits, labels.to(device), valid.to(device), weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        metrics = evaluate(model, val_videos or train_videos, options, weight)
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)), "seconds": time.perf_counter() - started, scored_on: metrics}
        history.append(record)
        progress(_line(epoch, options.epochs, record["train_loss"], optimizer, scored_on, metrics))
        rank = (metrics["event"]["f1"], metrics["frame"]["f1"], -metrics["loss"])
        if best is None or rank > best[0]:
            best = (rank, epoch, metrics, copy.deepcopy(model.state_dict()))
    assert best is not None  # epochs >= 1
    _, epoch, metrics, state = best
    model.load_state_dict(state)
    return TrainResult(epoch=epoch, loss=metrics["loss"], metrics={"on": scored_on, **metrics}, history=history)


@torch.inference_mode()
def evaluate(model: TriggerModel, videos: Sequence[SampledVideo], options: TrainOptions, weight: float) -> dict[str, Any]:
    """Loss, per-frame and per-event scores over whole videos, decided as engine-run decides."""
    model.eval()
    device = next(model.parameters()).device
    frames, events = Scores(0, 0, 0), Scores(0, 0, 0)
    losses = []
    for video in videos:
        features = []
        for first in range(0, len(video.images), _EVAL_BATCH):
            pixels = to_pixels(video.images[first : first + _EVAL_BATCH], options.mean, options.std)
            features.append(model.visual_encoder(torch.from_numpy(pixels).to(device)))
        logits = model.trigger_detector(torch.cat(features).unsqueeze(0))
        labels = torch.from_numpy(video.labels).to(device).unsqueeze(0)
        losses.append(float(trigger_loss(logits, labels, torch.ones_like(labels, dtype=torch.bool), weight)))
        confidence = trigger_confidence(logits)[0].cpu().numpy()
        frames += frame_scores(confidence >= options.threshold, video.labels)
        kept = select_triggers(video.seconds, confidence, options.threshold, options.suppress_seconds)
        events += event_scores([video.seconds[i] for i in kept], video.events, options.tolerance)
    return {"loss": float(np.mean(losses)), "frame": frames.as_dict(), "event": events.as_dict()}


def _most_pieces(frames: int, length: int) -> int:
    """The most pieces `pieces` can cut a video of `frames` into (its first cut is random)."""
    return 1 if frames <= length else 1 + math.ceil((frames - 1) / length)


def _learning_rate_factor(step: int, total: int) -> float:
    warmup = max(1, round(_WARMUP * total))
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _line(epoch: int, epochs: int, loss: float, optimizer: torch.optim.Optimizer, on: str, metrics: dict[str, Any]) -> str:
    event, frame = metrics["event"], metrics["frame"]
    return (
        f"epoch {epoch}/{epochs}: train loss {loss:.4f}, lr {optimizer.param_groups[0]['lr']:.2e}; {on}: loss "
        f"{metrics['loss']:.4f}, event F1 {event['f1']:.3f} (P {event['precision']:.3f} R {event['recall']:.3f}), "
        f"frame F1 {frame['f1']:.3f}"
    )

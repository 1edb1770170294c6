"""The original video-trigger project's model: a per-frame visual encoder and a temporal head over the frame sequence.

Attribute names follow the seed (`visual_encoder.backbone/projection`, `trigger_detector.
feature_projection/temporal_encoder/classifier`, `time_aware_encoder`), so its checkpoints load.
The per-frame part is what `engine-build` exports; the head is small and sequential (an LSTM over
the whole video) and runs in PyTorch.

Confidence of a trigger is sigmoid(logit of class 1), as in the seed, without its clamp to
[0.1, 1] (which made every frame at least 10 % confident).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from filmline.engine.errors import BadInputError
from filmline.engine.models.resnet import LAYOUTS, ResNet
from filmline.engine.models.trigger_time_aware import TimeAwareConfig, TimeAwareEncoder

ENCODERS = (*LAYOUTS, "efficientnet_b0")
_EFFICIENTNET_DIM = 1280


@dataclass(frozen=True)
class TriggerConfig:
    """The architecture (inferred from a checkpoint's shapes) and the input size it was trained at."""

    encoder: str = "resnet50"
    width: int = 64  # ResNet base width; 64 is torchvision's
    feature_dim: int = 512
    hidden_dim: int = 256
    temporal: bool = True  # the detector's LSTM
    num_classes: int = 2
    image_size: int = 224
    time_aware: TimeAwareConfig | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "TriggerConfig":
        time_aware = raw.get("time_aware")
        return cls(**{**raw, "time_aware": TimeAwareConfig(**time_aware) if time_aware else None})


def _backbone(config: TriggerConfig) -> tuple[nn.Sequential, int]:
    """The original's backbone: the network's children without the classifier, and its output width."""
    if config.encoder in LAYOUTS:
        network = ResNet(config.encoder, width=config.width)
        return nn.Sequential(*list(network.children())[:-1]), network.feature_dim
    if config.encoder == "efficientnet_b0":
        try:
            from torchvision.models import efficientnet_b0
        except ImportError as err:
            raise BadInputError(
                f"the efficientnet_b0 encoder needs torchvision, which does not import here ({err}): "
                "use a resnet18 or resnet50 checkpoint, or build where torchvision is installed"
            ) from err
        return nn.Sequential(*list(efficientnet_b0(weights=None).children())[:-1]), _EFFICIENTNET_DIM
    raise BadInputError(f"unknown trigger encoder '{config.encoder}': choose one of {', '.join(ENCODERS)}")


class VisualEncoder(nn.Module):
    """Normalised pixels [B, 3, S, S] → frame features [B, feature_dim]."""

    def __init__(self, config: TriggerConfig) -> None:
        super().__init__()
        self.backbone, backbone_dim = _backbone(config)
        self.projection = nn.Sequential(
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
            nn.Linear(backbone_dim, config.feature_dim),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(config.feature_dim, config.feature_dim),
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.projection(self.backbone(pixel_values))


class TriggerHead(nn.Module):
    """Frame features [B, T, feature_dim] → class logits [B, T, num_classes].

    The LSTM is causal and runs for every sequence length (the seed skipped it for T = 1), so
    padding at the end of a batch never changes the logits of the frames before it.
    """

    def __init__(self, config: TriggerConfig) -> None:
        super().__init__()
        hidden = config.hidden_dim
        self.feature_projection = nn.Sequential(
            nn.Linear(config.feature_dim, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.temporal_encoder = nn.LSTM(hidden, hidden, batch_first=True) if config.temporal else None
        self.classifier = nn.Sequential(
            nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden // 2, config.num_classes)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.feature_projection(features)
        if self.temporal_encoder is not None:
            x = self.temporal_encoder(x)[0]
        return self.classifier(x)


def trigger_confidence(logits: torch.Tensor) -> torch.Tensor:
    """Confidence that a frame triggers: sigmoid of the class-1 logit."""
    return torch.sigmoid(logits[..., 1])


class TriggerModel(nn.Module):
    """The three parts of the original trigger model that are not its language model."""

    def __init__(self, config: TriggerConfig) -> None:
        super().__init__()
        if config.num_classes != 2:
            raise BadInputError(
                f"the trigger head has {config.num_classes} classes; the engine scores two-class "
                "(no trigger / trigger) models: retrain with two classes"
            )
        self.config = config
        self.visual_encoder = VisualEncoder(config)
        self.trigger_detector = TriggerHead(config)
        self.time_aware_encoder = TimeAwareEncoder(config.time_aware) if config.time_aware else None

    def forward(self, frames: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Frames [B, T, 3, S, S] with valid [B, T] → logits [B, T, 2].

        Only valid frames go through the encoder, so padding never enters batch-norm statistics.
        """
        batch, length = valid.shape
        features = self.visual_encoder(frames[valid])
        sequence = features.new_zeros(batch, length, features.shape[-1])
        sequence[valid] = features
        return self.trigger_detector(sequence)

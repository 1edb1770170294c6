"""The original trigger model's optional time-aware encoder: the temporal context of the frames around a trigger.

No stage of the engine consumes its output yet (the seed feeds it to its language model), but a
published checkpoint always carries it, so it is defined with the original's parameter names to load (and
`--strict` to pass). One defect is fixed: the seed handed its "1 = valid frame" mask to
`src_key_padding_mask`, which means "True = padding", so attention saw only the padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class TimeAwareConfig:
    input_dim: int = 512
    hidden_dim: int = 768
    num_layers: int = 4
    num_heads: int = 8  # not recoverable from a checkpoint's shapes (configs/trigger.yaml)
    kind: str = "transformer"  # or "lstm" (bidirectional)
    use_timestamps: bool = True
    max_positions: int = 500
    dropout: float = 0.1


class PositionalEncoding(nn.Module):
    """Sinusoidal positions in a buffer named `pe`, as in the seed (it is part of the checkpoint)."""

    def __init__(self, dim: int, max_positions: int) -> None:
        super().__init__()
        position = torch.arange(max_positions, dtype=torch.float32).unsqueeze(1)
        rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
        pe = torch.zeros(max_positions, dim)
        pe[:, 0::2] = torch.sin(position * rate)
        pe[:, 1::2] = torch.cos(position * rate)
        self.register_buffer("pe", pe.unsqueeze(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length, table = x.shape[1], self.pe
        if length > table.shape[1]:  # beyond the table: repeat the last position, as the seed does
            table = torch.cat([table, table[:, -1:].expand(1, length - table.shape[1], -1)], dim=1)
        return x + table[:, :length]


class TimeAwareEncoder(nn.Module):
    """Features [B, T, input_dim] (+ seconds [B, T], valid mask [B, T]) → [B, T, hidden_dim]."""

    def __init__(self, config: TimeAwareConfig) -> None:
        super().__init__()
        self.config = config
        hidden = config.hidden_dim
        self.input_projection = nn.Linear(config.input_dim, hidden)
        if config.use_timestamps:
            self.timestamp_embedding = nn.Linear(1, hidden)
            self.pos_encoding = PositionalEncoding(hidden, config.max_positions)
        if config.kind == "transformer":
            layer = nn.TransformerEncoderLayer(
                hidden, config.num_heads, hidden * 4, config.dropout, activation="gelu", batch_first=True
            )
            self.encoder: nn.Module = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        elif config.kind == "lstm":
            self.encoder = nn.LSTM(
                hidden, hidden // 2, config.num_layers, batch_first=True, bidirectional=True,
                dropout=config.dropout if config.num_layers > 1 else 0.0,
            )
        else:
            raise ValueError(f"unknown time-aware encoder {config.kind!r}: transformer or lstm")
        self.dropout = nn.Dropout(config.dropout)
        self.layer_norm = nn.LayerNorm(hidden)

    def forward(
        self, features: torch.Tensor, seconds: torch.Tensor | None = None, valid: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = self.input_projection(features)
        if self.config.use_timestamps:
            if seconds is not None:
                x = x + self.timestamp_embedding(seconds.unsqueeze(-1))
            x = self.pos_encoding(x)
        x = self.layer_norm(self.dropout(x))
        if self.config.kind == "lstm":
            return self.encoder(x)[0]
        padding = None if valid is None else ~valid.bool()
        return self.encoder(x, src_key_padding_mask=padding)

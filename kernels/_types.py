"""Result types shared by the reference and the Triton implementations."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True, eq=False)  # tensors have no single truth value to compare by
class FrameStats:
    """Cheap per-frame statistics of a batch of B frames, for the full-rate cut-candidate pass.

    `luma`: fp32 [B, th, tw], area-averaged luminance thumbnails on a 0-255 scale.
    `hist`: fp32 [B, bins**3], joint colour histogram of each frame, each row summing to 1.
    `diff`: fp32 [B], mean absolute thumbnail change from the previous frame (0 for the first
    frame of a stream, when no previous thumbnail is known).
    """

    luma: torch.Tensor
    hist: torch.Tensor
    diff: torch.Tensor

    def __post_init__(self) -> None:
        if self.luma.ndim != 3 or self.hist.ndim != 2 or self.diff.ndim != 1:
            raise ValueError(
                "FrameStats expects luma [B, th, tw], hist [B, bins**3] and diff [B]; got "
                f"{tuple(self.luma.shape)}, {tuple(self.hist.shape)}, {tuple(self.diff.shape)}."
            )
        batch = self.luma.shape[0]
        if self.hist.shape[0] != batch or self.diff.shape[0] != batch:
            raise ValueError(
                f"FrameStats fields disagree on the batch size: luma {batch}, "
                f"hist {self.hist.shape[0]}, diff {self.diff.shape[0]}."
            )

    def __repr__(self) -> str:
        return (
            f"FrameStats(luma={tuple(self.luma.shape)}, hist={tuple(self.hist.shape)}, "
            f"diff={tuple(self.diff.shape)}, device={self.luma.device})"
        )

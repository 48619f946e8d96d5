"""OpenPose (Cao et al., CVPR 2017 / TPAMI 2019 [DE ref 7]): VGG-19 front and six CPM/PAF stages.

The network of the original release (368x368 input, 46x46 maps): VGG-19 conv1_1..conv4_2
(torchvision's ``vgg19().features[:23]``), conv4_3_CPM (256) and conv4_4_CPM (128) giving the
features F. Stage 1 has two branches on F (part affinity fields L, 38 channels; confidence maps S,
19 channels), each three 3x3x128 convs, a 1x1x512 and a 1x1 output conv. Stages 2-6 read
concat(L, S, F) (185 channels), each branch five 7x7x128 convs, a 1x1x128 and a 1x1 output conv.
ReLU after every conv except the branch outputs. The output is the last stage's concat(L, S).

**Making the stages a chain.** F is read by every stage, so taken literally no point after it has
one live tensor and the six stages would be one unit whose halo (receptive field ~157 rows) covers
the whole 46-row map. Each stage's input is already concat(L, S, F); each stage here also *passes
F on* inside its own output, taking it from its input with a fixed one-hot 1x1 conv
(:func:`channel_select`, a window op the row maths splits, equal to ``x[:, 57:]`` bit for bit,
0.15% of the FLOPs). Then every stage's output is a cut point and each stage is one block unit.

**What is split / what is head.** Split: the VGG-19 front, the CPM convs and each stage. Head:
none (the maps are the output; peak finding and limb grouping are post-processing).
"""

from __future__ import annotations

import torch
from torch import nn

from splitgym.costmodels.models import torchvision_module

__all__ = ["OpenPose", "channel_select", "build"]

PAFS, HEATMAPS, FEATURES = 38, 19, 128


def channel_select(c_in: int, start: int, count: int) -> nn.Conv2d:
    """Channels ``[start, start + count)`` of the input as a fixed one-hot 1x1 conv: a plain
    ``nn.Conv2d``, so the row maths reads it as a window (a subclass would be traced through)."""
    conv = nn.Conv2d(c_in, count, 1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        for j in range(count):
            conv.weight[j, start + j, 0, 0] = 1.0
    conv.weight.requires_grad_(False)
    return conv


def _branch(c_in: int, k: int, n: int, mid: int, c_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(n):
        layers += [nn.Conv2d(c_in, 128, k, padding=k // 2), nn.ReLU(inplace=True)]
        c_in = 128
    layers += [nn.Conv2d(128, mid, 1), nn.ReLU(inplace=True), nn.Conv2d(mid, c_out, 1)]
    return nn.Sequential(*layers)


class Stage(nn.Module):
    """One CPM/PAF stage: (L, S) from its input; ``carry``: also pass F on in the output."""

    def __init__(self, first: bool, carry: bool) -> None:
        super().__init__()
        c_in = FEATURES if first else PAFS + HEATMAPS + FEATURES
        k, n, mid = (3, 3, 512) if first else (7, 5, 128)
        self.pafs = _branch(c_in, k, n, mid, PAFS)
        self.heatmaps = _branch(c_in, k, n, mid, HEATMAPS)
        self.features = None if not carry or first else channel_select(c_in, PAFS + HEATMAPS, FEATURES)
        self.carry = carry

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = [self.pafs(x), self.heatmaps(x)]
        if self.carry:
            out.append(x if self.features is None else self.features(x))
        return torch.cat(out, 1)


class OpenPose(nn.Module):
    """VGG-19 front, CPM convs, ``stages`` stages; returns (N, 38 + 19, H/8, W/8)."""

    def __init__(self, stages: int = 6) -> None:
        super().__init__()
        front = torchvision_module("models").vgg19(weights=None).features[:23]  # conv1_1 .. conv4_2 + ReLU
        self.front = nn.Sequential(
            *front,
            nn.Conv2d(512, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, FEATURES, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.stages = nn.Sequential(*[Stage(first=i == 0, carry=i < stages - 1) for i in range(stages)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.front(x))


def build() -> OpenPose:
    """OpenPose (6 stages), random init."""
    return OpenPose()

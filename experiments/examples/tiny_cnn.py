"""A small residual / depthwise-separable CNN: the README's worked example of your own model.

Any file works the same way: a factory that takes no arguments and returns an ``nn.Module``
that torch.fx can trace, taking a ``(1, 3, H, W)`` image. splitgym calls it under a fixed seed, so
every process (planner, profiler, each rank of the distributed executor) builds the same weights:

    splitgym graph experiments/examples/tiny_cnn.py:build --input 64
    splitgym plan aofl --model experiments/examples/tiny_cnn.py:build --input 64 --devices DB -o plan.json
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["build", "TinyResNet"]


class Residual(nn.Module):
    """A depthwise-separable block with a skip connection (MobileNet's and ResNet's ideas)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.bn(self.pointwise(self.depthwise(x))))


class TinyResNet(nn.Module):
    def __init__(self, width: int = 16, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.block1 = Residual(width)
        self.down = nn.Sequential(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU())
        self.block2 = Residual(2 * width)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block2(self.down(self.block1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def build() -> nn.Module:
    """The factory ``--model experiments/examples/tiny_cnn.py:build`` names."""
    return TinyResNet()

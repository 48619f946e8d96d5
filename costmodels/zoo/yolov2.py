"""YOLOv2 (YOLO9000, Redmon & Farhadi 2017): Darknet-19 with the detection layers, 416x416 input.

Written from the paper's Table 6 (Darknet-19) and Section 3 ("Better"): the classifier's last 1x1
conv, global pool and softmax are removed; three 3x3x1024 convs follow, the last one reading the
*passthrough* of the final 26x26x512 layer, and a 1x1 conv gives 5 anchors x (5 + 80) = 425
outputs per cell. Every conv but the last has batch norm and a leaky ReLU (0.1).

**The passthrough (reorg).** The paper "stacks adjacent features into different channels":
26x26x512 becomes 13x13x2048, concatenated with the 13x13x1024 main path (3072 channels into the
last 3x3 conv). Darknet's ``yolo-voc.cfg`` squeezes to 64 channels with a 1x1 conv first; the
paper's text does not, and neither do we. The row maths knows windows, so the reorg is written as
the window it is: a 2x2, stride-2 conv with ``groups=512`` and fixed one-hot weights
(:func:`reorg`), output row r reading input rows 2r and 2r+1. It equals ``F.pixel_unshuffle(x, 2)``
bit for bit (tested). Because the 26x26 map is read again after the 13x13 path, everything from it
to the concat is one *block* unit (like an Inception block); the convs after the concat are units.

**What is split / what is head.** Split: every conv, pool and the passthrough block. Head (the
requester): Darknet's region layer on the 13x13x425 map: logistic x, y and objectness, softmax over
the 80 classes, w and h left raw (they become exp(.) x anchor only in box decoding), reshaped to
(N, 845, 85).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["YOLOv2", "reorg", "build"]

ANCHORS = 5
CLASSES = 80


def _conv(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.1)
    )


def _darknet19_stage(c_in: int, widths: list[tuple[int, int]]) -> tuple[list[nn.Module], int]:
    layers: list[nn.Module] = []
    for c_out, k in widths:
        layers.append(_conv(c_in, c_out, k))
        c_in = c_out
    return layers, c_in


def reorg(channels: int) -> nn.Conv2d:
    """Space-to-depth by 2 as a fixed one-hot grouped conv: channel ``4c + 2dy + dx`` of the output
    is input channel c at offset (dy, dx), ``F.pixel_unshuffle``'s order. A plain ``nn.Conv2d`` (a
    subclass would be traced through to ``F.conv2d``, which the row maths does not know), so the
    row maths splits it; its weights are constants, not learned."""
    conv = nn.Conv2d(channels, 4 * channels, 2, stride=2, groups=channels, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        for j in range(4):
            conv.weight[j::4, 0, j // 2, j % 2] = 1.0
    conv.weight.requires_grad_(False)
    return conv


class YOLOv2(nn.Module):
    """Darknet-19 + YOLOv2 detection layers; ``forward`` returns the region layer's (N, A*H*W, 85)."""

    def __init__(self, anchors: int = ANCHORS, classes: int = CLASSES) -> None:
        super().__init__()
        pool = nn.MaxPool2d(2, 2)
        s1, c = _darknet19_stage(3, [(32, 3)])
        s2, c = _darknet19_stage(c, [(64, 3)])
        s3, c = _darknet19_stage(c, [(128, 3), (64, 1), (128, 3)])
        s4, c = _darknet19_stage(c, [(256, 3), (128, 1), (256, 3)])
        s5, c = _darknet19_stage(c, [(512, 3), (256, 1), (512, 3), (256, 1), (512, 3)])
        self.to26 = nn.Sequential(*s1, pool, *s2, pool, *s3, pool, *s4, pool, *s5)  # 26x26x512
        s6, c6 = _darknet19_stage(c, [(1024, 3), (512, 1), (1024, 3), (512, 1), (1024, 3)])
        det, c6 = _darknet19_stage(c6, [(1024, 3), (1024, 3)])
        self.to13 = nn.Sequential(pool, *s6, *det)  # 13x13x1024
        self.reorg = reorg(c)  # 26x26x512 -> 13x13x2048
        self.last = _conv(c6 + 4 * c, 1024, 3)
        self.out = nn.Conv2d(1024, anchors * (5 + classes), 1)
        self.anchors, self.classes = anchors, classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine = self.to26(x)
        x = torch.cat([self.reorg(fine), self.to13(fine)], dim=1)
        p = self.out(self.last(x))  # (N, A*(5+C), H, W)
        p = p.unflatten(1, (self.anchors, 5 + self.classes)).permute(0, 1, 3, 4, 2).flatten(1, 3)
        return torch.cat(
            [torch.sigmoid(p[..., :2]), p[..., 2:4], torch.sigmoid(p[..., 4:5]), p[..., 5:].softmax(-1)], -1
        )


def build() -> YOLOv2:
    """YOLOv2 for COCO (80 classes, 5 anchors), random init."""
    return YOLOv2()

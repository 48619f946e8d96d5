"""SSD300 (Liu et al. 2016) on VGG-16 and on ResNet-50, from torchvision's detection blocks.

SSD-VGG16 is torchvision's ``ssd300_vgg16`` network: ``_vgg_extractor`` (VGG-16 to conv4_3 with
ceil-mode pool3, conv5, the dilated fc6/fc7 convs and four extra blocks) and ``SSDHead`` (a 3x3
classification and a 3x3 regression conv per feature map; 4, 6, 6, 6, 4, 4 anchors; 91 classes).
SSD-ResNet50 is the MLPerf/NVIDIA variant: torchvision's ResNet-50 up to ``layer3`` with that
stage's stride set to 1 (a 38x38x1024 map at 300x300), five extra blocks (1x1 then 3x3, BN, ReLU:
38 -> 19 -> 10 -> 5 -> 3 -> 1) and the same ``SSDHead`` on [1024, 512, 512, 256, 256, 256].
Anchor generation and NMS are post-processing and left out: the output is the head's
(N, 8732, 4 + 91) box regressions and class logits.

**What is split / what is head.** A unit boundary is a point where exactly one tensor is live. The
first feature map (conv4_3 after the L2 norm; ResNet's layer3) is read again by the box head after
every extra block, so no later point has one live tensor: with the graph's rule (one tensor per
cut) the *split* part is the backbone up to the first feature map, and the *head* run on the
requester is everything after it: for VGG-16 conv5, fc6, fc7, the extras and the box head; for
ResNet-50 the extras and the box head. Splitting the extras too needs side outputs (each
device's rows of a feature map sent to the requester), which the volume simulator and executors do
not model; the README gives each model's head share of the FLOPs.

The L2-norm rescaling is a depthwise 1x1 conv (:func:`_rescale`, the same per-channel product).
``SSDHead.forward`` unpacks ``results.shape`` (torch.fx cannot trace that); :func:`head_outputs` runs
the same convs and the same (N, HWA, K) layout with static sizes (tested equal to ``SSDHead``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from splitgym.costmodels.models import torchvision_module

__all__ = ["SSD", "build_vgg16", "build_resnet50", "head_outputs"]

ANCHORS = [4, 6, 6, 6, 4, 4]
CLASSES = 91


def _head_layout(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N, A*K, H, W) -> (N, H*W*A, K): ``SSDScoringHead``'s view/permute/reshape, static sizes."""
    return x.permute(0, 2, 3, 1).flatten(1, 2).unflatten(2, (-1, k)).flatten(1, 2)


def head_outputs(head: nn.Module, maps: list[torch.Tensor]) -> torch.Tensor:
    """An ``SSDHead``'s (N, anchors, 4 + classes) on the feature maps, as ``SSDHead.forward``
    computes it but with static sizes, so that torch.fx traces it."""
    reg = head.regression_head.module_list
    cls = head.classification_head.module_list
    k = head.classification_head.num_columns
    boxes = [_head_layout(reg[i](f), 4) for i, f in enumerate(maps)]
    logits = [_head_layout(cls[i](f), k) for i, f in enumerate(maps)]
    return torch.cat([torch.cat(boxes, 1), torch.cat(logits, 1)], -1)


def _rescale(channels: int) -> nn.Conv2d:
    """torchvision's L2-norm rescaling (a per-channel weight, initialised to 20) as a depthwise 1x1
    conv: the same product, and a module, where a bare parameter read in ``forward`` would be a
    ``get_attr`` node that the sliced segments do not run."""
    conv = nn.Conv2d(channels, channels, 1, groups=channels, bias=False)
    nn.init.constant_(conv.weight, 20.0)
    return conv


class SSD(nn.Module):
    """``backbone`` (to the first feature map), ``extra`` blocks (one feature map each) and an
    ``SSDHead``; ``scale``: rescale the L2-normalised first map (VGG-16's conv4_3)."""

    def __init__(self, backbone: nn.Module, extra: nn.ModuleList, channels: list[int], scale: bool) -> None:
        super().__init__()
        detection = torchvision_module("models.detection.ssd")
        self.backbone, self.extra = backbone, extra
        self.rescale = _rescale(channels[0]) if scale else None
        self.head = detection.SSDHead(channels, ANCHORS, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.backbone(x)
        first = x if self.rescale is None else self.rescale(F.normalize(x))
        maps = [first]
        for block in self.extra:
            x = block(x)
            maps.append(x)
        return head_outputs(self.head, maps)


def build_vgg16() -> SSD:
    """torchvision's SSD300-VGG16 network (backbone, extras, head), random init."""
    tv = torchvision_module("models")
    detection = torchvision_module("models.detection.ssd")
    ext = detection._vgg_extractor(tv.vgg16(weights=None), False, 5)  # noqa: SLF001
    return SSD(ext.features, ext.extra, [512, 1024, 512, 256, 256, 256], scale=True)


def _extra(c_in: int, mid: int, c_out: int, stride2: bool) -> nn.Sequential:
    k = {"padding": 1, "stride": 2} if stride2 else {}
    return nn.Sequential(
        nn.Conv2d(c_in, mid, 1, bias=False),
        nn.BatchNorm2d(mid),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid, c_out, 3, bias=False, **k),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def build_resnet50() -> SSD:
    """SSD300-ResNet50 (MLPerf/NVIDIA layout) from torchvision's ResNet-50 and SSDHead, random init."""
    r = torchvision_module("models").resnet50(weights=None)
    r.layer3[0].conv2.stride = (1, 1)  # keep 38x38 at 300x300
    r.layer3[0].downsample[0].stride = (1, 1)
    backbone = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3)
    channels = [1024, 512, 512, 256, 256, 256]
    mids = [256, 256, 128, 128, 128]
    extra = nn.ModuleList([_extra(channels[i], mids[i], channels[i + 1], stride2=i < 3) for i in range(len(mids))])
    return SSD(backbone, extra, channels, scale=False)

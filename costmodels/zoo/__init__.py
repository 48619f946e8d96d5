"""DistrEdge's detection and pose models that torchvision does not ship, built from their papers.

DistrEdge (DE L337) evaluates eight models; torchvision gives VGG-16, ResNet-50 and Inception-v3.
The other four are written here, one module each, randomly initialised like every model (latency
and the exactness of a split do not depend on the weights). :data:`ZOO` maps the name a user gives
(``--model yolov2``, ``model=yolov2``) to the factory :func:`~splitgym.costmodels.models.build_model`
calls; :data:`EXCLUDED` names the models refused, with the one-line reason.

Each module's docstring says what is split (the spatial units) and what is the head (the unsplit
tail run on the requester), and how an operation that the row maths does not know was expressed.
"""

from __future__ import annotations

__all__ = ["ZOO", "ZOO_INPUT", "EXCLUDED"]

#: model name -> ``package.module:factory`` (a model spec, :func:`models.model_factory`).
ZOO: dict[str, str] = {
    "yolov2": "splitgym.costmodels.zoo.yolov2:build",
    "ssd300_vgg16": "splitgym.costmodels.zoo.ssd:build_vgg16",
    "ssd300_resnet50": "splitgym.costmodels.zoo.ssd:build_resnet50",
    "openpose": "splitgym.costmodels.zoo.openpose:build",
}

#: Their papers' input sizes (YOLO9000: 416; SSD300: 300; OpenPose: 368).
ZOO_INPUT: dict[str, int] = {"yolov2": 416, "ssd300_vgg16": 300, "ssd300_resnet50": 300, "openpose": 368}

#: Models DistrEdge evaluates that splitgym refuses, and why (one line each).
EXCLUDED: dict[str, str] = {
    "voxelnet": (
        "VoxelNet is not supported: its input is a sparse voxel grid of a point cloud (VFE layers over "
        "points, then 3-D convolutions over depth x height x width), which the 2-D row maths of a "
        "volume split does not describe; see the README's model table"
    ),
}

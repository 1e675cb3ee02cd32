"""Student networks of the video-distillation benchmark, faithful to the published architectures.

* :class:`ConvNet3D` — the 3-D ConvNet student (input ``[B, T, C, H, W]``).
* :class:`VideoConvNetMean`, :class:`VideoConvNetMLP`, :class:`VideoConvNetLSTM`, :class:`VideoConvNetRNN`,
  :class:`VideoConvNetGRU` — the 2-D ConvNet per frame plus a temporal head (input ``[B, T, C, H, W]``).
* :class:`ConvNet` — the DC/DSA/MTT image ConvNet for stage-1 distillation (input ``[B, C, H, W]``).
* :func:`get_model` — build any of them by name, seeded without touching the global RNG.

Every model has ``forward(x) -> logits [B, num_classes]`` and ``embed(x) -> features [B, F]``, registers its
parameters in the published order (state dicts and flat-parameter expert buffers load), works in float64
and under ``torch.func.functional_call``.

Example:
    >>> import torch
    >>> from temporal_condense.models import get_model
    >>> net = get_model("VideoConvNetGRU", channels=3, num_classes=4, size=(16, 16), frames=4, seed=0)
    >>> net(torch.zeros(2, 4, 3, 16, 16)).shape
    torch.Size([2, 4])
"""

from __future__ import annotations

from temporal_condense.models.convnet import ConvNet, make_trunk, min_trunk_size, trunk_output_size
from temporal_condense.models.convnet3d import ConvNet3D, convnet3d_geometry, convnet3d_valid_sizes
from temporal_condense.models.factory import ModelFactory, make_model, model_name
from temporal_condense.models.registry import (
    MODEL_NAMES,
    VIDEO_MODELS,
    ModelConfig,
    build_model,
    get_model,
    list_models,
)
from temporal_condense.models.video_convnet import (
    VideoConvNetGRU,
    VideoConvNetLSTM,
    VideoConvNetMean,
    VideoConvNetMLP,
    VideoConvNetRNN,
)

__all__ = [
    "MODEL_NAMES",
    "VIDEO_MODELS",
    "ConvNet",
    "ConvNet3D",
    "ModelConfig",
    "ModelFactory",
    "VideoConvNetGRU",
    "VideoConvNetLSTM",
    "VideoConvNetMLP",
    "VideoConvNetMean",
    "VideoConvNetRNN",
    "build_model",
    "convnet3d_geometry",
    "convnet3d_valid_sizes",
    "get_model",
    "list_models",
    "make_model",
    "make_trunk",
    "min_trunk_size",
    "model_name",
    "trunk_output_size",
]

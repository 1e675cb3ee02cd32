"""``VideoConvNet*``: the benchmark's 2-D ConvNet applied per frame, followed by a temporal head.

Every variant runs the DC/DSA ConvNet trunk (width 128, depth 3, instance norm, ReLU, average pooling) on
each frame, flattens the per-frame features (``F = 128 * H/8 * W/8``) and aggregates them over time:

* ``VideoConvNetMean``: the mean over frames.
* ``VideoConvNetMLP``: a learned per-feature temporal weighting, ``sum_t f[b, t, k] W[k, t] + bias[k]``
  (``temporal_weight [F, frames, 1]`` and ``temporal_bias [F, 1]``, drawn from ``randn`` as published).
* ``VideoConvNetLSTM``: a one-layer LSTM with hidden size ``F``, averaged over time.
* ``VideoConvNetRNN`` / ``VideoConvNetGRU``: a one-layer RNN / GRU with hidden size ``F // 8``, averaged
  over time.

then a linear classifier. Module order (and thus ``state_dict`` keys and the flat-parameter order of the
MTT ``ReparamModule``) is the published one: root parameters (``temporal_weight``, ``temporal_bias``),
then ``features.*``, ``classifier.*``, then ``temporal_lstm.*`` / ``temporal_rnn.*``.

Note the size of the LSTM: its hidden size is ``F`` itself, so at 112x112 px (``F = 25088``) it has about
5.0e9 parameters, and at 64x64 px (``F = 8192``, the benchmark crops video inputs to 64 px for these
models) about 5.4e8. A warning is logged above 1e8 parameters.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from einops import rearrange
from torch import nn

from temporal_condense._checks import check_int
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.models.convnet import (
    _out,
    check_frames_input,
    check_trunk_args,
    check_trunk_config,
    make_trunk,
)

__all__ = [
    "VideoConvNetGRU",
    "VideoConvNetLSTM",
    "VideoConvNetMLP",
    "VideoConvNetMean",
    "VideoConvNetRNN",
]

logger = logging.getLogger(__name__)

_FEAT_FACTOR = 8  # RNN / GRU hidden size = features // 8 (published)
_WARN_PARAMS = 100_000_000


class VideoConvNetMean(nn.Module):
    """2-D ConvNet per frame, mean over frames, linear classifier (``networks.VideoConvNetMean``).

    Args:
        channels: Input channels.
        num_classes: Number of classes.
        size: Frame ``(H, W)`` (an int means square).
        frames: Frames per clip. Only ``VideoConvNetMLP`` depends on it (its temporal weights have one entry
            per frame); the other variants accept any number of frames.
        net_width: Channels per conv layer (128).
        net_depth: Number of conv blocks (3).
        net_act: Activation (``"relu"``).
        net_norm: Normalization (``"instancenorm"``).
        net_pooling: Pooling (``"avgpooling"``).
        final_avgpool: Add the original's optional ``AvgPool2d(4, 4)`` after the trunk (off by default, as in
            the published registry).

    Raises:
        ConfigError: An argument is invalid or ``size`` leaves no features (the message names the smallest
            size that works: 8x8 px for the defaults, 32x32 with ``final_avgpool``).

    Shape:
        ``forward``: ``[B, T, C, H, W] -> [B, num_classes]``; ``embed``: ``[B, T, C, H, W] -> [B, F]``.

    Example:
        >>> net = VideoConvNetMean(channels=3, num_classes=5, size=(16, 16), frames=4)
        >>> net(torch.zeros(2, 4, 3, 16, 16)).shape
        torch.Size([2, 5])
    """

    _feat_factor: int = 1
    _model_name: str = "VideoConvNetMean"

    def __init__(
        self,
        channels: int = 3,
        num_classes: int = 10,
        size: tuple[int, int] | int = (112, 112),
        frames: int = 16,
        net_width: int = 128,
        net_depth: int = 3,
        net_act: str = "relu",
        net_norm: str = "instancenorm",
        net_pooling: str = "avgpooling",
        final_avgpool: bool = False,
    ) -> None:
        super().__init__()
        name = self._model_name
        hw = check_trunk_args(name, channels, num_classes, size, net_width, net_depth, net_act, net_norm, net_pooling)
        check_int(frames, "frames")
        if not isinstance(final_avgpool, bool):
            raise ConfigError(f"final_avgpool must be a bool, got {final_avgpool!r}")
        check_trunk_config(name, hw, channels, net_depth, net_pooling, final_pool=4 if final_avgpool else 1)
        self.channels = channels
        self.num_classes = num_classes
        self.size = hw
        self.frames = frames
        self.num_frames = frames
        self._net_depth = net_depth
        self._pooling = net_pooling
        self.features, shape_feat = make_trunk(channels, net_width, net_depth, net_act, net_norm, net_pooling, hw)
        self._feat_hw = (shape_feat[1], shape_feat[2])
        c, h, w = shape_feat
        self.avgpool: nn.Module | None
        if final_avgpool:
            self.avgpool = nn.AvgPool2d(4, 4)
            h, w = _out(h, 4, 4), _out(w, 4, 4)
        else:
            self.avgpool = None
        self.frame_feat = c * h * w
        self.num_feat = self.frame_feat // self._feat_factor  # the original's num_feat after construction
        if self.num_feat < 1:
            raise ConfigError(
                f"{name} needs at least {self._feat_factor} frame features (its hidden size is "
                f"features // {self._feat_factor}), got {self.frame_feat} with net_width={net_width}, size={hw}"
            )
        self.classifier = nn.Linear(self.num_feat, num_classes)

    @property
    def feature_dim(self) -> int:
        """Length ``F`` of :meth:`embed`'s output."""
        return self.num_feat

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame trunk features, before the temporal head.

        Shape:
            ``[B, T, C, H, W] -> [B, T, F_frame]``.
        """
        x = check_frames_input(
            x, "x", 5, self.channels, self.size, self._feat_hw, net_depth=self._net_depth, pooling=self._pooling
        )
        b = x.shape[0]
        out = self.features(rearrange(x, "b t c h w -> (b t) c h w"))
        if self.avgpool is not None:
            out = self.avgpool(out)
        return rearrange(out, "(b t) c h w -> b t (c h w)", b=b)

    def temporal(self, feats: torch.Tensor) -> torch.Tensor:
        """Aggregate per-frame features over time (here: the mean).

        Shape:
            ``[B, T, F_frame] -> [B, F]``.
        """
        return feats.mean(1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Clip features: per-frame trunk, then the temporal head.

        Shape:
            ``[B, T, C, H, W] -> [B, F]``.
        """
        return self.temporal(self.frame_features(x)).contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits.

        Shape:
            ``[B, T, C, H, W] -> [B, num_classes]``.
        """
        return self.classifier(self.embed(x))


class VideoConvNetMLP(VideoConvNetMean):
    """Per-frame ConvNet with a learned temporal weighting per feature (``networks.VideoConvNetMLP``).

    ``embed(x)[b, k] = sum_t f[b, t, k] * temporal_weight[k, t, 0] + temporal_bias[k, 0]``. The clip length
    is fixed at ``frames`` (the original hard-codes 16).

    Shape:
        ``[B, frames, C, H, W] -> [B, num_classes]``.

    Example:
        >>> net = VideoConvNetMLP(channels=3, num_classes=5, size=(16, 16), frames=4)
        >>> net.embed(torch.zeros(2, 4, 3, 16, 16)).shape
        torch.Size([2, 512])
    """

    _model_name = "VideoConvNetMLP"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.temporal_weight = nn.Parameter(torch.randn(self.frame_feat, self.num_frames, 1))
        self.temporal_bias = nn.Parameter(torch.randn(self.frame_feat, 1))

    def temporal(self, feats: torch.Tensor) -> torch.Tensor:
        """Learned weighted sum over frames (the original's ``bmm``).

        Shape:
            ``[B, frames, F] -> [B, F]``.
        """
        if feats.shape[1] != self.num_frames:
            raise ShapeError(
                f"x must have {self.num_frames} frames for {self._model_name} (its temporal weights have one "
                f"entry per frame), got {feats.shape[1]}"
            )
        out = torch.bmm(rearrange(feats, "b t f -> f b t"), self.temporal_weight)[..., 0] + self.temporal_bias
        return rearrange(out, "f b -> b f")


class VideoConvNetLSTM(VideoConvNetMean):
    """Per-frame ConvNet, a one-layer LSTM (hidden size ``F``) averaged over time (``networks.VideoConvNetLSTM``).

    Shape:
        ``[B, T, C, H, W] -> [B, num_classes]``; ``embed``: ``[B, T, C, H, W] -> [B, F]``.

    Example:
        >>> net = VideoConvNetLSTM(channels=3, num_classes=5, size=(8, 8), frames=4)
        >>> net(torch.zeros(2, 4, 3, 8, 8)).shape
        torch.Size([2, 5])
    """

    _model_name = "VideoConvNetLSTM"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.num_layers = 1
        f = self.frame_feat
        _warn_size(self._model_name, 4 * (2 * f * f + 2 * f))
        self.temporal_lstm = nn.LSTM(f, f, self.num_layers, batch_first=True)

    def temporal(self, feats: torch.Tensor) -> torch.Tensor:
        """LSTM from a zero state, averaged over time.

        Shape:
            ``[B, T, F] -> [B, F]``.
        """
        out, _ = self.temporal_lstm(feats)
        return out.mean(1)


class VideoConvNetRNN(VideoConvNetMean):
    """Per-frame ConvNet, a one-layer tanh RNN (hidden ``F // 8``) averaged over time (``networks.VideoConvNetRNN``).

    Shape:
        ``[B, T, C, H, W] -> [B, num_classes]``; ``embed``: ``[B, T, C, H, W] -> [B, F // 8]``.

    Example:
        >>> net = VideoConvNetRNN(channels=3, num_classes=5, size=(16, 16), frames=4)
        >>> net.embed(torch.zeros(2, 4, 3, 16, 16)).shape
        torch.Size([2, 64])
    """

    _feat_factor = _FEAT_FACTOR
    _model_name = "VideoConvNetRNN"
    _cell: type[nn.RNN] | type[nn.GRU] = nn.RNN

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.num_layers = 1
        f, hidden = self.frame_feat, self.num_feat
        gates = 3 if self._cell is nn.GRU else 1
        _warn_size(self._model_name, gates * (f * hidden + hidden * hidden + 2 * hidden))
        self.temporal_rnn = self._cell(f, hidden, self.num_layers, batch_first=True)

    def temporal(self, feats: torch.Tensor) -> torch.Tensor:
        """Recurrent layer from a zero state, averaged over time.

        Shape:
            ``[B, T, F] -> [B, F // 8]``.
        """
        out, _ = self.temporal_rnn(feats)
        return out.mean(1)


class VideoConvNetGRU(VideoConvNetRNN):
    """Per-frame ConvNet, a one-layer GRU (hidden ``F // 8``) averaged over time (``networks.VideoConvNetGRU``).

    Shape:
        ``[B, T, C, H, W] -> [B, num_classes]``; ``embed``: ``[B, T, C, H, W] -> [B, F // 8]``.

    Example:
        >>> net = VideoConvNetGRU(channels=3, num_classes=5, size=(16, 16), frames=4)
        >>> net(torch.zeros(2, 4, 3, 16, 16)).shape
        torch.Size([2, 5])
    """

    _model_name = "VideoConvNetGRU"
    _cell = nn.GRU


def _warn_size(model: str, params: int) -> None:
    if params > _WARN_PARAMS:
        logger.warning(
            "%s: the temporal head alone has %.2e parameters (%.1f GiB in float32); the benchmark crops "
            "videos to 64x64 px for the VideoConvNet models",
            model,
            params,
            params * 4 / 2**30,
        )

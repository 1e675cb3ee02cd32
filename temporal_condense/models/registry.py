"""``get_model``: build a benchmark student by name, reproducibly from a seed.

The names are the published ones (``utils.get_network`` of the video-distillation benchmark). A seed
initializes the parameters without touching the caller's global RNG (the draws happen inside
``torch.random.fork_rng``); nothing is ever seeded from the clock (the original reseeds the global RNG from
``time.time()`` on every call). The configuration is kept on the model as ``model.config`` (a frozen
pydantic :class:`ModelConfig`), so an expert file can store it as JSON and rebuild the same network with
``get_model(**config.model_dump())``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from torch import nn

from temporal_condense._checks import format_validation_error
from temporal_condense.errors import ConfigError
from temporal_condense.models.convnet import NET_ACTS, NET_NORMS, NET_POOLINGS, ConvNet, _check_size
from temporal_condense.models.convnet3d import ConvNet3D
from temporal_condense.models.video_convnet import (
    VideoConvNetGRU,
    VideoConvNetLSTM,
    VideoConvNetMean,
    VideoConvNetMLP,
    VideoConvNetRNN,
)

__all__ = ["MODEL_NAMES", "VIDEO_MODELS", "ModelConfig", "build_model", "get_model", "list_models"]

logger = logging.getLogger(__name__)

VIDEO_MODELS: tuple[str, ...] = (
    "ConvNet3D",
    "VideoConvNetMean",
    "VideoConvNetMLP",
    "VideoConvNetLSTM",
    "VideoConvNetRNN",
    "VideoConvNetGRU",
)
MODEL_NAMES: tuple[str, ...] = (*VIDEO_MODELS, "ConvNet")

_CLASSES: dict[str, type[nn.Module]] = {
    "ConvNet": ConvNet,
    "ConvNet3D": ConvNet3D,
    "VideoConvNetMean": VideoConvNetMean,
    "VideoConvNetMLP": VideoConvNetMLP,
    "VideoConvNetLSTM": VideoConvNetLSTM,
    "VideoConvNetRNN": VideoConvNetRNN,
    "VideoConvNetGRU": VideoConvNetGRU,
}
_TRUNK_OPTIONS = ("net_width", "net_depth", "net_act", "net_norm", "net_pooling")
_OPTIONS: dict[str, tuple[str, ...]] = {
    "ConvNet": _TRUNK_OPTIONS,
    "ConvNet3D": ("net_width", "net_depth", "net_act", "dropout"),
    **{name: (*_TRUNK_OPTIONS, "final_avgpool") for name in VIDEO_MODELS if name != "ConvNet3D"},
}


def list_models() -> list[str]:
    """Names accepted by :func:`get_model`.

    Example:
        >>> "ConvNet3D" in list_models()
        True
    """
    return list(MODEL_NAMES)


class ModelConfig(BaseModel):
    """Everything needed to rebuild a student network (architecture options left ``None`` use the defaults).

    Example:
        >>> ModelConfig(name="ConvNet3D", size=(64, 64), frames=8).size
        (64, 64)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    channels: int = 3
    num_classes: int = 10
    size: tuple[int, int] = (112, 112)
    frames: int = 16
    seed: int | None = None
    net_width: int | None = None
    net_depth: int | None = None
    net_act: str | None = None
    net_norm: str | None = None
    net_pooling: str | None = None
    dropout: float | None = None
    final_avgpool: bool | None = None

    @field_validator("size", mode="before")
    @classmethod
    def _square(cls, value: object) -> object:
        return (value, value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if self.name not in _CLASSES:
            raise ValueError(f"name must be one of {MODEL_NAMES}, got {self.name!r}")
        for field in ("channels", "num_classes", "frames", "net_width", "net_depth"):
            value = getattr(self, field)
            if value is not None and value < 1:
                raise ValueError(f"{field} must be >= 1, got {value}")
        if min(self.size) < 1:
            raise ValueError(f"size must be positive, got {self.size}")
        if self.seed is not None and self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        for field, choices in (("net_act", NET_ACTS), ("net_norm", NET_NORMS), ("net_pooling", NET_POOLINGS)):
            value = getattr(self, field)
            if value is not None and value not in choices:
                raise ValueError(f"{field} must be one of {choices}, got {value!r}")
        allowed = _OPTIONS[self.name]
        for field in ("net_width", "net_depth", "net_act", "net_norm", "net_pooling", "dropout", "final_avgpool"):
            if getattr(self, field) is not None and field not in allowed:
                raise ValueError(f"{self.name} does not take option {field!r}; its options are {allowed}")
        return self

    def options(self) -> dict[str, Any]:
        """The architecture options that were set (passed on to the model class)."""
        return {k: getattr(self, k) for k in _OPTIONS[self.name] if getattr(self, k) is not None}


def _resolve_seed(seed: int | torch.Generator | None) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, torch.Generator):
        return int(torch.randint(0, 2**62, (1,), generator=seed).item())
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int, a torch.Generator or None, got {seed!r}")
    return seed


def get_model(
    name: str,
    channels: int = 3,
    num_classes: int = 10,
    size: tuple[int, int] | int = (112, 112),
    frames: int = 16,
    seed: int | torch.Generator | None = None,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    **kw: Any,
) -> nn.Module:
    """Build a student network by name.

    Args:
        name: One of :data:`MODEL_NAMES`: ``"ConvNet3D"``, ``"VideoConvNetMean"``, ``"VideoConvNetMLP"``,
            ``"VideoConvNetLSTM"``, ``"VideoConvNetRNN"``, ``"VideoConvNetGRU"`` (video models, input
            ``[B, T, C, H, W]``) or ``"ConvNet"`` (image model, input ``[B, C, H, W]``).
        channels: Input channels.
        num_classes: Number of classes.
        size: Input ``(H, W)`` (an int means square).
        frames: Frames per clip (ignored by ``ConvNet``).
        seed: Seeds the parameter initialization (an int, or a generator from which one int is drawn)
            without touching the global RNG state; ``None`` draws from the global RNG as PyTorch does.
        device: Where to put the model. Parameters are always drawn on the CPU first, so a seed gives the
            same values on every device.
        dtype: Floating dtype of the parameters (e.g. ``torch.float64``).
        **kw: Architecture options: ``net_width``, ``net_depth``, ``net_act`` for all; ``net_norm``,
            ``net_pooling`` for the 2-D models; ``final_avgpool`` for the VideoConvNet models; ``dropout``
            for ``ConvNet3D``.

    Returns:
        The model, with ``model.config`` (a :class:`ModelConfig`) attached.

    Raises:
        ConfigError: Unknown name (the message lists the valid ones), an option the model does not take,
            or sizes that cannot work (the message names the smallest that does).

    Shape:
        Video models map ``[B, T, C, H, W]`` to logits ``[B, num_classes]`` (``embed``: ``[B, F]``);
        ``ConvNet`` maps ``[B, C, H, W]``.

    Example:
        >>> net = get_model("ConvNet3D", channels=3, num_classes=5, size=(64, 64), frames=8, seed=0)
        >>> net.eval()(torch.zeros(1, 8, 3, 64, 64)).shape
        torch.Size([1, 5])
    """
    if not isinstance(name, str) or name not in _CLASSES:
        raise ConfigError(f"name must be one of {MODEL_NAMES}, got {name!r}")
    size = _check_size(size)
    try:
        config = ModelConfig(
            name=name,
            channels=channels,
            num_classes=num_classes,
            size=size,
            frames=frames,
            seed=_resolve_seed(seed),
            **kw,
        )
    except ValidationError as exc:
        message = format_validation_error(ModelConfig, exc)
        raise ConfigError(f"invalid arguments for get_model({name!r}): {message}") from None
    return build_model(config, device=device, dtype=dtype)


def build_model(
    config: ModelConfig, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None
) -> nn.Module:
    """Build the network described by ``config`` (see :func:`get_model`).

    Example:
        >>> build_model(ModelConfig(name="ConvNet", size=(32, 32), seed=0)).num_feat
        2048
    """
    cls = _CLASSES[config.name]
    args: dict[str, Any] = {
        "channels": config.channels,
        "num_classes": config.num_classes,
        "size": config.size,
        **config.options(),
    }
    if config.name != "ConvNet":
        args["frames"] = config.frames
    factory: Callable[[], nn.Module] = lambda: cls(**args)  # noqa: E731
    if config.seed is None:
        model = factory()
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = factory()
    if device is not None or dtype is not None:
        model = model.to(device=device, dtype=dtype)
    model.config = config  # type: ignore[assignment]
    logger.debug("built %s with %d parameters", config.name, sum(p.numel() for p in model.parameters()))
    return model

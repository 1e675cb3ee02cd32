"""One way to name a network everywhere: a registry name or a :class:`ModelFactory`.

Stage 1 (:func:`~temporal_condense.static.distill_static`), the experts
(:func:`~temporal_condense.mtt.train_experts`), the evaluation (:func:`~temporal_condense.evaluate.evaluate`)
and the pipeline all take ``model: str | ModelFactory`` and build it through :func:`make_model`: a name goes
to :func:`~temporal_condense.models.get_model` (with the caller's ``model_kwargs``), a factory is called with
keywords only, ``factory(channels=, num_classes=, size=, frames=, seed=)``, and must return an ``nn.Module``.
Image models (stage 1) get ``frames=1``. A factory that needs fewer arguments takes ``**_``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Protocol

from torch import nn

from temporal_condense.errors import ConfigError
from temporal_condense.models.registry import get_model

__all__ = ["ModelFactory", "make_model", "model_name"]


class ModelFactory(Protocol):
    """Anything called like :func:`~temporal_condense.models.get_model` without the name (keywords only).

    Example:
        >>> import torch
        >>> def tiny(*, channels, num_classes, size, frames, seed):
        ...     torch.manual_seed(seed)
        ...     return nn.Linear(channels * size[0] * size[1] * frames, num_classes)
        >>> make_model(tiny, channels=1, num_classes=2, size=(2, 2), frames=3, seed=0).out_features
        2
    """

    def __call__(
        self, *, channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int
    ) -> nn.Module: ...


def model_name(model: str | ModelFactory) -> str:
    """The name of ``model``: the registry name, or the factory's ``__name__`` (its type's name otherwise).

    Example:
        >>> model_name("ConvNet3D"), model_name(make_model)
        ('ConvNet3D', 'make_model')
    """
    return model if isinstance(model, str) else getattr(model, "__name__", type(model).__name__)


def make_model(
    model: str | ModelFactory,
    *,
    channels: int,
    num_classes: int,
    size: tuple[int, int],
    frames: int | None,
    seed: int,
    model_kwargs: Mapping[str, Any] | None = None,
) -> nn.Module:
    """Build ``model`` for the given data geometry.

    Args:
        model: A name for :func:`~temporal_condense.models.get_model` or a :class:`ModelFactory`.
        channels: Input channels.
        num_classes: Number of classes.
        size: ``(H, W)``.
        frames: Frames per clip; ``None`` for an image model (a factory then gets ``frames=1``).
        seed: Initialization seed.
        model_kwargs: Architecture options for a named model (``net_width``...); a factory takes none.

    Returns:
        The network.

    Raises:
        ConfigError: ``model`` is neither a name nor callable, a factory is given ``model_kwargs``, does not
            take the five keywords, or returns something that is not an ``nn.Module``.

    Example:
        >>> make_model("ConvNet", channels=3, num_classes=4, size=(32, 32), frames=None, seed=0).num_feat
        2048
    """
    kwargs = dict(model_kwargs or {})
    if isinstance(model, str):
        if frames is None:
            return get_model(model, channels=channels, num_classes=num_classes, size=size, seed=seed, **kwargs)
        return get_model(
            model, channels=channels, num_classes=num_classes, size=size, frames=frames, seed=seed, **kwargs
        )
    if not callable(model):
        raise ConfigError(f"model must be a model name or a factory callable, got {type(model).__name__}")
    if kwargs:
        raise ConfigError(
            f"model_kwargs apply to model names only; the factory {model_name(model)!r} got {sorted(kwargs)}"
        )
    args: dict[str, Any] = {
        "channels": channels,
        "num_classes": num_classes,
        "size": size,
        "frames": frames or 1,
        "seed": seed,
    }
    try:
        signature = inspect.signature(model)
    except (TypeError, ValueError):  # a callable without an inspectable signature: just call it
        signature = None
    if signature is not None:
        try:
            signature.bind(**args)
        except TypeError:
            raise ConfigError(
                f"model factory {model_name(model)!r} must take the keywords channels, num_classes, size, frames "
                f"and seed (or **kwargs), got the signature {signature}"
            ) from None
    net = model(**args)
    if not isinstance(net, nn.Module):
        raise ConfigError(f"model factory must return an nn.Module, got {type(net).__name__}")
    return net

"""Synthetic video sets: the :class:`SyntheticSet` protocol and the :class:`SyntheticVideos` baseline.

A synthetic set is an :class:`torch.nn.Module` that *renders* synthetic videos on demand::

    videos, labels = synset(indices, generator=None)   # [B, T, C, H, W] contiguous, [B] int64

Video ``i`` has label ``i // videos_per_class`` (class-major order). Rendering runs the registered render
hooks (augmentation, standardization, segment splitting, ...) in registration order, so a distillation
loop needs nothing but ``synset(indices)``. Everything else (the optimizer with one learning rate per part,
storage accounting, safetensors artifacts, an evaluation dataset) lives on the base class.

Example:
    >>> import torch
    >>> from temporal_condense.synthetic import SyntheticVideos
    >>> synset = SyntheticVideos(num_classes=2, videos_per_class=3, frames=8, size=(4, 4), key_frames=2)
    >>> videos, labels = synset([0, 5])
    >>> tuple(videos.shape), labels.tolist()
    ((2, 8, 3, 4, 4), [0, 1])
"""

from __future__ import annotations

import abc
import copy
import logging
import math
import operator
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn
from torch.utils.data import Dataset
from torch.utils.hooks import RemovableHandle

from temporal_condense._checks import check_finite, check_tensor, validate_config
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.initialization import INITS, fit_key_frames, real_clips, videos_per_class_of
from temporal_condense.interpolator import MODES, Interpolator
from temporal_condense.io import load_artifact, save_artifact
from temporal_condense.tensor_like import TensorLikeMixin

__all__ = [
    "RenderHook",
    "SyntheticSet",
    "SyntheticSetConfig",
    "SyntheticVideoDataset",
    "SyntheticVideos",
    "SyntheticVideosConfig",
    "build_config",
]

logger = logging.getLogger(__name__)

RenderHook = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""A render hook: ``fn(videos [B, T, C, H, W], labels [B]) -> (videos, labels)``."""

PositiveInt = Annotated[int, Field(strict=True, ge=1)]

C = TypeVar("C", bound=BaseModel)
S = TypeVar("S", bound="SyntheticSet")


# --------------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------------
def build_config(model: type[C], data: dict[str, Any]) -> C:
    """Validate ``data`` into the pydantic config ``model``, turning errors into :class:`ConfigError`.

    Args:
        model: A pydantic config class (frozen, ``extra="forbid"``).
        data: Field values.

    Returns:
        The validated, immutable config.

    Raises:
        ConfigError: A key is unknown (a typo), a value has the wrong type or range, or a cross-field
            check fails. The message names the key, the expected and the actual value.

    Example:
        >>> cfg = build_config(SyntheticVideosConfig, {"num_classes": 2, "videos_per_class": 1,
        ...                                             "frames": 4, "size": (8, 8)})
        >>> cfg.key_frames
        4
    """
    return validate_config(model, data)


class SyntheticSetConfig(BaseModel):
    """Fields shared by every synthetic set (what :meth:`SyntheticSet.save` writes as JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_classes: PositiveInt
    videos_per_class: PositiveInt
    frames: PositiveInt
    size: tuple[PositiveInt, PositiveInt]
    channels: PositiveInt = 3


class SyntheticVideosConfig(SyntheticSetConfig):
    """Configuration of :class:`SyntheticVideos`.

    ``key_frames`` (``N_syn``) defaults to ``frames`` (the plain baseline) and must not exceed it;
    ``mode`` is the :class:`~temporal_condense.interpolator.Interpolator` mode.
    """

    key_frames: PositiveInt | None = None
    mode: str = "linear"

    @model_validator(mode="before")
    @classmethod
    def _default_key_frames(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("key_frames") is None and "frames" in data:
            data = {**data, "key_frames": data["frames"]}
        return data

    @model_validator(mode="after")
    def _check(self) -> SyntheticVideosConfig:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.key_frames is not None and self.key_frames > self.frames:
            raise ValueError(f"key_frames (N_syn) must be <= frames (N_real) = {self.frames}, got {self.key_frames}")
        return self


# --------------------------------------------------------------------------------------------------------
# The protocol
# --------------------------------------------------------------------------------------------------------
def _check_positive_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ConfigError(
            f"{name} must be a positive number, got {value!r}" + (" (not finite)" if value == math.inf else "")
        )
    return float(value)


def _check_generator(generator: object) -> torch.Generator | None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ConfigError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__} ({generator!r}); "
            "for a seed use torch.Generator().manual_seed(seed)"
        )
    return generator


class SyntheticSet(TensorLikeMixin, nn.Module, abc.ABC):
    """Base class (the protocol) of every synthetic video set.

    Subclasses implement :meth:`_render` (videos of given indices, no hooks) and :meth:`_parts` (the
    trainable tensors grouped by part, e.g. ``{"static": [...], "dynamic": [...], "block": [...]}``) and
    set ``config`` (a pydantic :class:`SyntheticSetConfig`), ``DEFAULT_LRS``, ``PIXEL_PART`` and ``KIND``.

    A set stands in for the tensor ``image_syn`` of published loops (``image_syn[idx]``, ``.detach()``,
    ``.shape``, ``len``; see :mod:`temporal_condense.tensor_like`).

    Attributes:
        config: The validated, frozen configuration (what :meth:`save` writes as JSON).
        num_classes, videos_per_class, frames, channels, size: Shortcuts into ``config``.

    Shape:
        - ``forward(indices)``: videos ``[B, frames, channels, H, W]`` (contiguous, hooks applied) and labels
          ``[B]`` int64, ``B = len(indices)`` unless a hook changes it.
    """

    DEFAULT_LRS: ClassVar[dict[str, float]] = {}
    PIXEL_PART: ClassVar[str] = ""
    KIND: ClassVar[str] = "SyntheticSet"

    config: SyntheticSetConfig

    def __init__(self, config: SyntheticSetConfig) -> None:
        super().__init__()
        self.config = config
        self._render_hooks: OrderedDict[int, RenderHook] = OrderedDict()

    # ---------------------------------------------------------------------------------- shortcuts
    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return self.config.num_classes

    @property
    def videos_per_class(self) -> int:
        """Number of synthetic videos (slots) per class."""
        return self.config.videos_per_class

    @property
    def frames(self) -> int:
        """Frames of every rendered video."""
        return self.config.frames

    @property
    def channels(self) -> int:
        """Channels of every rendered video."""
        return self.config.channels

    @property
    def size(self) -> tuple[int, int]:
        """Spatial size ``(H, W)``."""
        return self.config.size

    def __len__(self) -> int:
        return self.num_classes * self.videos_per_class

    # ---------------------------------------------------------------------------------- to implement
    @abc.abstractmethod
    def _render(self, indices: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Render videos ``[B, T, C, H, W]`` for validated int64 ``indices`` (on the set's device)."""

    @abc.abstractmethod
    def _parts(self) -> dict[str, list[torch.Tensor]]:
        """Tensors grouped by part name, including frozen ones (filtered by ``requires_grad`` later)."""

    # ---------------------------------------------------------------------------------- helpers
    def _device(self) -> torch.device:
        for tensor in self.state_dict().values():
            return tensor.device
        return torch.device("cpu")

    def _check_indices(self, indices: torch.Tensor | Sequence[int] | None) -> torch.Tensor:
        n = len(self)
        device = self._device()
        if indices is None:
            return torch.arange(n, device=device)
        if isinstance(indices, torch.Tensor):
            if indices.dtype == torch.bool or indices.is_floating_point() or indices.is_complex():
                raise ShapeError(f"indices must be an integer tensor (int64), got dtype {indices.dtype}")
            if indices.ndim != 1:
                raise ShapeError(
                    f"indices must be a 1-D tensor of video indices, got {indices.ndim}-D "
                    f"(shape {tuple(indices.shape)})"
                )
            idx = indices.to(device=device, dtype=torch.int64)
        else:
            try:
                items = list(indices)
            except TypeError:
                raise ShapeError(
                    f"indices must be an int64 tensor, a list of ints or None, got {type(indices).__name__}"
                ) from None
            for item in items:
                if isinstance(item, bool) or not isinstance(item, int):
                    raise ShapeError(f"indices must contain Python ints, got {item!r} ({type(item).__name__})")
            idx = torch.tensor(items, dtype=torch.int64, device=device)
        if idx.numel() == 0:
            raise ShapeError("indices must not be empty, got 0 indices")
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise ShapeError(
                f"indices must lie in [0, {n}) (num_classes={self.num_classes} x "
                f"videos_per_class={self.videos_per_class}), got {bad}"
            )
        return idx

    def _check_class(self, c: object) -> int:
        if isinstance(c, torch.Tensor) and c.numel() == 1 and not c.is_floating_point():
            c = int(c.item())
        if isinstance(c, bool) or not isinstance(c, int):
            raise ConfigError(f"c (class index) must be an int, got {c!r} ({type(c).__name__})")
        if not 0 <= c < self.num_classes:
            raise ConfigError(f"c (class index) must lie in [0, {self.num_classes}), got {c}")
        return c

    def _run_hooks(self, videos: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for hook in list(self._render_hooks.values()):
            out = hook(videos, labels)
            if not isinstance(out, tuple) or len(out) != 2 or not all(isinstance(t, torch.Tensor) for t in out):
                raise ShapeError(
                    f"render hook {hook!r} must return a tuple (videos, labels) of tensors, got {type(out).__name__}"
                )
            videos, labels = out
        return videos, labels

    # ---------------------------------------------------------------------------------- protocol
    def forward(
        self,
        indices: torch.Tensor | Sequence[int] | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Render synthetic videos and their labels, then apply the render hooks.

        Args:
            indices: Video indices in ``[0, len(self))`` as an integer tensor or a list; ``None`` = all.
            generator: Drives random choices made while rendering (the static/dynamic pairing of
                :class:`~temporal_condense.dynamic_memory.DynamicMemoryBlock`); ``None`` uses torch's
                global RNG. Hooks such as kornia augmentation draw from the global RNG.

        Returns:
            ``(videos, labels)``; labels are ``indices // videos_per_class``.

        Raises:
            ShapeError: ``indices`` is empty, not 1-D, not integer, or out of range.

        Shape:
            - Output: ``[B, frames, C, H, W]`` (contiguous) and ``[B]`` (int64).
        """
        idx = self._check_indices(indices)
        videos = self._render(idx, _check_generator(generator))
        labels = torch.div(idx, self.videos_per_class, rounding_mode="floor")
        videos, labels = self._run_hooks(videos, labels)
        return videos.contiguous(), labels

    def class_videos(self, c: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Render all videos of class ``c`` (hooks applied), for per-class loops (DC, DM).

        Args:
            c: Class index in ``[0, num_classes)``.
            generator: As in :meth:`forward`.

        Returns:
            The videos only (their labels are all ``c``).

        Shape:
            - Output: ``[videos_per_class, frames, C, H, W]`` (more rows if a hook splits videos).
        """
        c = self._check_class(c)
        device = self._device()
        idx = torch.arange(c * self.videos_per_class, (c + 1) * self.videos_per_class, device=device)
        videos, _ = self.forward(idx, generator)
        return videos

    def export(self, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Render every video once, detached, under ``no_grad``, without render hooks.

        Args:
            generator: Drives the random pairing (see :meth:`forward`).

        Returns:
            ``(videos [N, T, C, H, W], labels [N])`` with ``N = len(self)``.
        """
        generator = _check_generator(generator)
        with torch.no_grad():
            idx = torch.arange(len(self), device=self._device())
            videos = self._render(idx, generator).detach().contiguous()
        labels = torch.div(idx, self.videos_per_class, rounding_mode="floor")
        return videos, labels

    def as_dataset(self, seed: int | None = None) -> SyntheticVideoDataset:
        """A :class:`torch.utils.data.Dataset` over a frozen snapshot of this set, re-rendered per item.

        Every access renders the item again, so random pairings are redrawn each epoch (as the published
        evaluation does). Render hooks are not applied (evaluation brings its own augmentation).

        Args:
            seed: Seeds the dataset's own generator for reproducible pairings; ``None`` uses the global RNG.

        Returns:
            A dataset of ``(video [T, C, H, W], label int)`` that also renders whole batches at once
            (``__getitems__``, used by :class:`torch.utils.data.DataLoader`).
        """
        return SyntheticVideoDataset(self, seed=seed)

    def register_render_hook(self, fn: RenderHook) -> RemovableHandle:
        """Register ``fn(videos, labels) -> (videos, labels)``, run after rendering (in order).

        Args:
            fn: The hook (see :mod:`temporal_condense.hooks` for augmentation, standardization and segment
                splitting).

        Returns:
            A handle; ``handle.remove()`` unregisters the hook.
        """
        if not callable(fn):
            raise ConfigError(f"fn must be callable as fn(videos, labels), got {type(fn).__name__}")
        handle = RemovableHandle(self._render_hooks)
        self._render_hooks[handle.id] = fn
        return handle

    # ---------------------------------------------------------------------------------- optimization
    def param_groups(
        self,
        *,
        lr: float | None = None,
        syn_lr: torch.Tensor | None = None,
        lr_lr: float = 1e-5,
        **lrs: float,
    ) -> list[dict[str, Any]]:
        """Optimizer parameter groups, one per trainable part, each with its own learning rate.

        One vocabulary for every set: ``lr`` is the learning rate of the synthetic *pixels*, the loop's own
        ``lr_img`` (the ``videos`` of :class:`SyntheticVideos`, the ``static`` memory of
        :class:`~temporal_condense.dynamic_memory.DynamicMemoryBlock`); ``lr_<part>`` names one part.

        Args:
            lr: Learning rate of the pixel part (``PIXEL_PART``); same as ``lr_<PIXEL_PART>``.
            syn_lr: Optional learnable (student) learning rate tensor to optimize too (MTT's ``syn_lr``);
                must be a floating leaf tensor with ``requires_grad=True``.
            lr_lr: Learning rate of ``syn_lr``.
            **lrs: ``lr_<part>=value`` for the parts of this set (see ``DEFAULT_LRS``); missing parts use
                the defaults. Naming a frozen part is an error.

        Returns:
            A list of ``{"params": [...], "lr": float, "name": part}`` dicts; frozen parts are left out.

        Raises:
            ConfigError: Unknown ``lr_*`` key, non-positive learning rate, an ``lr_*`` for a frozen part,
                or an invalid ``syn_lr``.
        """
        parts = self._parts()
        valid = tuple(f"lr_{name}" for name in parts)
        for key in lrs:
            if key not in valid:
                raise ConfigError(f"unknown learning-rate argument {key!r} for {self.KIND}; valid: {('lr', *valid)}")
        if lr is not None:
            pixel = f"lr_{self.PIXEL_PART}"
            if pixel in lrs:
                raise ConfigError(f"lr and {pixel} name the same part ({self.PIXEL_PART!r}) of {self.KIND}: give one")
            if not any(t.requires_grad for t in parts[self.PIXEL_PART]):
                others = tuple(k for k in valid if k != pixel)
                raise ConfigError(
                    f"lr (the pixel learning rate, a loop's lr_img) sets part {self.PIXEL_PART!r} of {self.KIND}, "
                    f"which is frozen; set the trainable parts with {others} or make {self.PIXEL_PART!r} trainable"
                )
            lrs = {**lrs, pixel: lr}
        groups: list[dict[str, Any]] = []
        for name, tensors in parts.items():
            trainable = [t for t in tensors if t.requires_grad]
            key = f"lr_{name}"
            if not trainable:
                if key in lrs:
                    raise ConfigError(
                        f"{key} was given but part {name!r} of {self.KIND} is frozen (no trainable tensors); "
                        f"drop {key} or make the part trainable"
                    )
                continue
            lr = _check_positive_float(lrs.get(key, self.DEFAULT_LRS[name]), key)
            groups.append({"params": trainable, "lr": lr, "name": name})
        if syn_lr is not None:
            tensor = check_tensor(syn_lr, "syn_lr", floating=True)
            if not tensor.is_leaf or not tensor.requires_grad:
                raise ConfigError(
                    "syn_lr must be a leaf tensor with requires_grad=True, got "
                    f"is_leaf={tensor.is_leaf}, requires_grad={tensor.requires_grad}"
                )
            groups.append({"params": [tensor], "lr": _check_positive_float(lr_lr, "lr_lr"), "name": "syn_lr"})
        if not groups:
            raise ConfigError(f"{self.KIND} has no trainable parameters (every part is frozen)")
        return groups

    def optimizer(
        self,
        optimizer: Callable[..., torch.optim.Optimizer] = torch.optim.SGD,
        *,
        lr: float | None = None,
        syn_lr: torch.Tensor | None = None,
        lr_lr: float = 1e-5,
        momentum: float | None = 0.95,
        **kwargs: Any,
    ) -> torch.optim.Optimizer:
        """Build an optimizer over :meth:`param_groups` (one learning rate per part).

        Args:
            optimizer: The optimizer class (default :class:`torch.optim.SGD`).
            lr: The pixel learning rate (the loop's ``lr_img``); see :meth:`param_groups`.
            syn_lr: See :meth:`param_groups`.
            lr_lr: See :meth:`param_groups`.
            momentum: Momentum passed to the optimizer (default 0.95, as the published static-dynamic
                loop); ``None`` to pass nothing (e.g. for Adam).
            **kwargs: ``lr_<part>`` values go to :meth:`param_groups`; everything else to the optimizer.

        Returns:
            The optimizer.

        Example:
            >>> synset = SyntheticVideos(2, 1, frames=4, size=(4, 4))
            >>> opt = synset.optimizer(lr=100.0, momentum=0.5)  # was torch.optim.SGD([image_syn], lr=100.0, ...)
            >>> [g["lr"] for g in opt.param_groups]
            [100.0]
        """
        lrs = {k: v for k, v in kwargs.items() if k.startswith("lr_")}
        rest = {k: v for k, v in kwargs.items() if not k.startswith("lr_")}
        groups = self.param_groups(lr=lr, syn_lr=syn_lr, lr_lr=lr_lr, **lrs)
        if momentum is not None:
            if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
                raise ConfigError(f"momentum must be a number in [0, 1) or None, got {momentum!r}")
            rest["momentum"] = momentum
        wd = rest.get("weight_decay", 0.0)
        if isinstance(wd, bool) or not isinstance(wd, (int, float)) or not 0 <= wd < math.inf:
            raise ConfigError(f"weight_decay must be a finite number >= 0, got {wd!r}")
        return optimizer(groups, lr=groups[0]["lr"], **rest)

    # ---------------------------------------------------------------------------------- storage
    def _state_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors that reproduce the set (saved by :meth:`save`, counted by :meth:`storage_bytes`)."""
        return {name: t for name, t in self.state_dict().items() if isinstance(t, torch.Tensor)}

    def storage_bytes(self) -> int:
        """Bytes needed to store the set: every parameter/buffer that :meth:`save` writes, in its dtype.

        Frozen statics count; the cached interpolation matrices and the JSON config do not.
        """
        return sum(t.numel() * t.element_size() for t in self._state_tensors().values())

    def _save_config(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the set to one safetensors file (tensors + JSON config), atomically; never pickles.

        Render hooks are not saved.

        Args:
            path: Destination, conventionally ``*.safetensors``.

        Returns:
            The final path.
        """
        return save_artifact(path, self._state_tensors(), kind=self.KIND, config=self._save_config())

    @classmethod
    def _from_config(cls: type[S], config: dict[str, Any], **kwargs: Any) -> S:
        raise NotImplementedError

    @classmethod
    def load(cls: type[S], path: str | os.PathLike[str], *, device: str | torch.device = "cpu", **kwargs: Any) -> S:
        """Load a set written by :meth:`save`.

        Args:
            path: The artifact.
            device: Where to put the tensors.
            **kwargs: Extra objects that JSON cannot hold (``block=`` for a user-supplied block module of
                :class:`~temporal_condense.dynamic_memory.DynamicMemoryBlock`).

        Returns:
            The set, with the saved tensors, in eval-independent state (no hooks).

        Raises:
            ConfigError: Missing file, another kind of artifact, invalid config, or tensors that do not
                fit the config.
            ShapeError: A stored tensor holds NaN or infinite values.
        """
        tensors, config = load_artifact(path, kind=cls.KIND, device=device)
        obj = cls._from_config(config, **kwargs)
        obj._load_tensors(tensors, str(path))
        return obj.to(device)

    def _load_tensors(self, tensors: dict[str, torch.Tensor], where: str) -> None:
        # Stored dtypes win (a float64 set stays float64): cast the module first, then copy.
        dtypes = {t.dtype for t in tensors.values() if t.is_floating_point()}
        if len(dtypes) == 1:
            self.to(dtype=dtypes.pop())
        expected = self._state_tensors()
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        if missing or unexpected:
            raise ConfigError(
                f"artifact {where!r} does not fit its config: missing tensors {missing}, "
                f"unexpected tensors {unexpected}"
            )
        for name, tensor in tensors.items():
            if tuple(tensor.shape) != tuple(expected[name].shape):
                raise ConfigError(
                    f"tensor {name!r} of artifact {where!r} must have shape {tuple(expected[name].shape)}, "
                    f"got {tuple(tensor.shape)}"
                )
        with torch.no_grad():
            for name, target in expected.items():
                stored = tensors[name].to(device=target.device)
                if stored.is_floating_point() and stored.dtype != target.dtype:
                    # Each tensor keeps its stored dtype (a mixed float64/float32 set stays mixed): swap the
                    # data of the module's own parameter/buffer (state_dict() holds detached aliases).
                    owner = dict(self.named_parameters()).get(name)
                    (owner if owner is not None else self.get_buffer(name)).data = stored.clone()
                else:
                    target.copy_(stored.to(dtype=target.dtype))

    # ---------------------------------------------------------------------------------- snapshot
    def _snapshot(self: S) -> S:
        """A detached deep copy without hooks and without gradients (for evaluation datasets)."""
        hooks = self._render_hooks
        self._render_hooks = OrderedDict()
        try:
            snap = copy.deepcopy(self)
        finally:
            self._render_hooks = hooks
        snap.requires_grad_(False)
        return snap


class SyntheticVideoDataset(Dataset[tuple[torch.Tensor, int]]):
    """Dataset view of a synthetic set (see :meth:`SyntheticSet.as_dataset`).

    Holds a frozen snapshot taken at creation; later training of the set does not change it.

    Shape:
        - Item: ``(video [T, C, H, W], label)``.
    """

    def __init__(self, synset: SyntheticSet, seed: int | None = None) -> None:
        self.synset = synset._snapshot()
        self.generator: torch.Generator | None = None
        if seed is not None:
            self.generator = torch.Generator().manual_seed(int(seed))
        self.num_classes = synset.num_classes

    def __len__(self) -> int:
        return len(self.synset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, int]]:
        """Render a whole batch of items in one call (used by DataLoader)."""
        items = []
        for i in indices:
            try:
                items.append(operator.index(i))  # 0.5 is refused, not floored
            except TypeError:
                raise ConfigError(f"index must be an integer, got {i!r} ({type(i).__name__})") from None
        with torch.no_grad():
            idx = self.synset._check_indices(items)
            videos = self.synset._render(idx, self.generator).detach()
        labels = torch.div(idx, self.synset.videos_per_class, rounding_mode="floor").tolist()
        return [(videos[i].contiguous(), int(labels[i])) for i in range(len(labels))]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        for i in range(len(self)):
            yield self[i]


# --------------------------------------------------------------------------------------------------------
# The baseline
# --------------------------------------------------------------------------------------------------------
class SyntheticVideos(SyntheticSet):
    """Baseline synthetic set: learnable key frames rendered to ``frames`` by an Interpolator.

    Stores ``videos``: ``[num_classes * videos_per_class, key_frames, C, H, W]`` (``N_syn`` key frames).
    ``key_frames = frames`` (the default) is the plain baseline of the video distillation codebases.

    Args:
        num_classes: Number of classes.
        videos_per_class: Synthetic videos per class.
        frames: Output frames (``N_real``).
        size: ``(H, W)``.
        channels: Channels ``C``.
        key_frames: Learnable frames per video (``N_syn``), ``1 <= key_frames <= frames``; default ``frames``.
        mode: Interpolation mode (``"nearest"``, ``"linear"``, ``"cubic"``).
        init: ``None`` (standard normal noise, drawn from ``seed`` if given) or a tensor of shape
            ``[num_classes * videos_per_class, key_frames, C, H, W]`` (e.g. real clips) to copy.
        seed: Seeds the noise initialization (otherwise torch's global RNG).

    Raises:
        ConfigError: Invalid counts, ``key_frames > frames``, unknown mode.
        ShapeError: ``init`` of the wrong shape or with NaN/inf.

    Shape:
        - Output of ``forward``: ``[B, frames, C, H, W]`` and labels ``[B]``.

    Example:
        >>> synset = SyntheticVideos(num_classes=3, videos_per_class=2, frames=16, size=(8, 8), key_frames=4)
        >>> synset.videos.shape
        torch.Size([6, 4, 3, 8, 8])
        >>> synset(torch.tensor([0, 3]))[0].shape
        torch.Size([2, 16, 3, 8, 8])
    """

    DEFAULT_LRS: ClassVar[dict[str, float]] = {"videos": 1.0}
    PIXEL_PART: ClassVar[str] = "videos"
    KIND: ClassVar[str] = "SyntheticVideos"

    config: SyntheticVideosConfig

    def __init__(
        self,
        num_classes: int,
        videos_per_class: int,
        frames: int,
        size: tuple[int, int] | Sequence[int],
        channels: int = 3,
        key_frames: int | None = None,
        mode: str = "linear",
        init: torch.Tensor | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        config = build_config(
            SyntheticVideosConfig,
            {
                "num_classes": num_classes,
                "videos_per_class": videos_per_class,
                "frames": frames,
                "size": tuple(size) if isinstance(size, (list, tuple)) else size,
                "channels": channels,
                "key_frames": key_frames,
                "mode": mode,
            },
        )
        super().__init__(config)
        n_syn = int(config.key_frames or config.frames)
        shape = (len(self), n_syn, config.channels, *config.size)
        if init is None:
            gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
            data = torch.randn(shape, generator=gen)
        else:
            data = check_tensor(init, "init", ndim=5, floating=True)
            if tuple(data.shape) != shape:
                raise ShapeError(
                    f"init must have shape [num_classes*videos_per_class, key_frames, C, H, W] = {shape}, "
                    f"got {tuple(data.shape)}"
                )
            check_finite(data, "init")
            data = data.detach().clone()
        self.videos = nn.Parameter(data.contiguous())
        self.interpolator = Interpolator(config.frames, config.mode)

    @classmethod
    def from_videos(
        cls,
        videos: torch.Tensor,
        videos_per_class: int,
        *,
        key_frames: int | None = None,
        mode: str = "linear",
    ) -> SyntheticVideos:
        """Build the set from the tensor a published init block filled (real clips per class, or noise).

        Replaces ``image_syn = image_syn.detach().to(device).requires_grad_(True)``: the loop's own init
        (``--init real`` / ``noise``) stays, and its result becomes the set. With ``key_frames < T`` the key
        frames are the least-squares fit of the clips (:func:`~temporal_condense.initialization.fit_key_frames`).

        Args:
            videos: Class-major clips ``[num_classes * videos_per_class, T, C, H, W]``; dtype and device are kept.
            videos_per_class: Clips per class (the loop's ``ipc``).
            key_frames: Learnable frames ``N_syn`` (default ``T``).
            mode: Interpolation mode.

        Example:
            >>> image_syn = torch.randn(2 * 3, 8, 3, 4, 4)  # the loop's init block filled this
            >>> image_syn = SyntheticVideos.from_videos(image_syn, 3, key_frames=2)
            >>> image_syn.shape, image_syn.videos.shape[1]
            (torch.Size([6, 8, 3, 4, 4]), 2)
        """
        k = videos_per_class_of(videos, videos_per_class)
        _, t, c, h, w = videos.shape
        n_syn = t if key_frames is None else key_frames
        cfg = build_config(
            SyntheticVideosConfig,
            {"num_classes": k, "videos_per_class": videos_per_class, "frames": t, "size": (h, w), "channels": c,
             "key_frames": n_syn, "mode": mode},
        )  # fmt: skip
        init = fit_key_frames(videos, int(cfg.key_frames or t), cfg.mode)
        obj = cls(k, videos_per_class, t, (h, w), channels=c, key_frames=n_syn, mode=mode, init=init)
        return obj.to(device=videos.device)

    @classmethod
    def from_dataset(
        cls,
        data: object,
        videos_per_class: int,
        *,
        init: str = "real",
        seed: int = 0,
        key_frames: int | None = None,
        mode: str = "linear",
        num_classes: int | None = None,
    ) -> SyntheticVideos:
        """Build the set from a dataset: ``init="real"`` draws ``videos_per_class`` random clips per class.

        Args:
            data: A ``(videos, labels)`` pair or a Dataset of ``(video, label)``.
            videos_per_class: Clips per class.
            init: ``"real"`` (random real clips, the published ``--init real``) or ``"noise"`` (standard normal).
            seed: Seeds the draw of clips (or of the noise).
            key_frames: As in :meth:`from_videos`.
            mode: As in :meth:`from_videos`.
            num_classes: Default: ``data.num_classes`` or the largest label + 1.
        """
        if init not in INITS:
            raise ConfigError(f"init must be one of {INITS}, got {init!r}")
        videos, _ = real_clips(data, videos_per_class, seed, num_classes=num_classes)
        if init == "noise":
            gen = torch.Generator().manual_seed(seed)
            videos = torch.randn(videos.shape, generator=gen, dtype=videos.dtype)
        return cls.from_videos(videos, videos_per_class, key_frames=key_frames, mode=mode)

    @property
    def key_frames(self) -> int:
        """Learnable frames per video (``N_syn``)."""
        return int(self.config.key_frames or self.config.frames)

    def _render(self, indices: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self.interpolator(self.videos[indices])

    def _parts(self) -> dict[str, list[torch.Tensor]]:
        return {"videos": [self.videos]}

    @classmethod
    def _from_config(cls, config: dict[str, Any], **kwargs: Any) -> SyntheticVideos:
        if kwargs:
            raise ConfigError(f"SyntheticVideos.load takes no extra arguments, got {sorted(kwargs)}")
        cfg = build_config(SyntheticVideosConfig, config)
        return cls(**cfg.model_dump(), seed=0)

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, videos_per_class={self.videos_per_class}, "
            f"frames={self.frames}, key_frames={self.key_frames}, size={self.size}, mode={self.config.mode!r}"
        )

"""Stage 1: the static memory, distilled from single frames (or loaded from the authors' release).

:func:`distill_static` distills ``static_per_class`` still images per class from the single-frame view of a
video dataset (one random frame per clip) with an image distillation algorithm on the image ``ConvNet``:

* ``method="dc"`` -- gradient matching, following the published DC loop: every iteration draws a fresh
  student; ``outer_loop`` times it updates the images with the class-wise gradient-matching loss
  (:func:`~temporal_condense.losses.dc_class_loss`) and, between two image updates, trains the student
  ``inner_loop`` epochs on the current synthetic images. This is what the paper used.
* ``method="dm"`` -- distribution matching, following the published DM loop: every iteration draws a
  fresh frozen student and takes one step on :func:`~temporal_condense.losses.dm_loss`.

The result is a :class:`StaticMemory`: ``images`` ``[num_classes * static_per_class, C, H, W]``, class-major,
ready for ``DynamicMemoryBlock(static=memory.images)``. It is saved as one safetensors artifact with a JSON
config (:meth:`StaticMemory.save` / :meth:`StaticMemory.load`). :func:`load_released_static` reads the
authors' released ``{"image": tensor}`` ``.pt`` files with ``torch.load(weights_only=True)``.

Example:
    >>> import torch
    >>> from torch import nn
    >>> class Tiny(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.body, self.head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 8), nn.ReLU()), nn.Linear(8, 2)
    ...     def embed(self, x):
    ...         return self.body(x)
    ...     def forward(self, x):
    ...         return self.head(self.body(x))
    >>> frames, labels = torch.rand(8, 3, 4, 4), torch.tensor([0, 1] * 4)
    >>> def factory(*, seed, **_):
    ...     torch.manual_seed(seed)
    ...     return Tiny()
    >>> memory = distill_static((frames, labels), num_classes=2, static_per_class=1, method="dm",
    ...                         iterations=2, model=factory, progress=False)
    >>> memory.images.shape
    torch.Size([2, 3, 4, 4])
"""

from __future__ import annotations

import inspect
import logging
import os
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from einops import repeat
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, model_validator
from torch import nn
from tqdm.auto import tqdm

from temporal_condense._checks import (
    check_finite,
    check_int,
    check_tensor,
    config_or_arguments,
    format_validation_error,
    validate_config,
)
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.io import load_artifact, save_artifact
from temporal_condense.losses import dc_class_loss, dm_loss
from temporal_condense.losses.siamese import _as_siamese
from temporal_condense.models.factory import ModelFactory, make_model

__all__ = [
    "StaticConfig",
    "StaticMemory",
    "dc_loops",
    "distill_static",
    "load_released_static",
    "load_static",
]

logger = logging.getLogger(__name__)

_KIND = "StaticMemory"
#: The published DC ``get_loops``: ipc -> (outer_loop, inner_loop).
_DC_LOOPS: dict[int, tuple[int, int]] = {
    1: (1, 1),
    10: (10, 50),
    20: (20, 25),
    30: (30, 20),
    40: (40, 15),
    50: (50, 10),
}
#: Published default image learning rates (DC: main.py, DM: main_DM.py).
_DEFAULT_LR: dict[str, float] = {"dc": 0.1, "dm": 1.0}


def dc_loops(static_per_class: int) -> tuple[int, int]:
    """``(outer_loop, inner_loop)`` of the published DC code for ``static_per_class`` images per class.

    The published table covers 1, 10, 20, 30, 40 and 50; another count takes the entry of the next
    tabulated count above it (2-9 -> 10, as forks of DC do for 3 and 5), and counts above 50 take 50's.

    Example:
        >>> dc_loops(10), dc_loops(1), dc_loops(5), dc_loops(100)
        ((10, 50), (1, 1), (10, 50), (50, 10))
    """
    spc = check_int(static_per_class, "static_per_class")
    if spc in _DC_LOOPS:
        return _DC_LOOPS[spc]
    above = [k for k in _DC_LOOPS if k >= spc]
    return _DC_LOOPS[min(above) if above else max(_DC_LOOPS)]


class StaticConfig(BaseModel):
    """Configuration of :func:`distill_static` (also stored in the saved artifact).

    ``lr`` defaults to the published image learning rate of the method (DC 0.1, DM 1.0); ``outer_loop`` and
    ``inner_loop`` (DC only) default to :func:`dc_loops`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_classes: int = Field(ge=1)
    static_per_class: int = Field(ge=1)
    method: Literal["dc", "dm"] = "dc"
    iterations: int = Field(default=1000, ge=0)
    lr: float | None = Field(default=None, gt=0)
    lr_net: float = Field(default=0.01, gt=0)
    momentum: float = Field(default=0.5, ge=0, lt=1)
    init: Literal["real", "noise"] = "real"
    model: str = "ConvNet"
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    batch_real: int = Field(default=256, ge=1)
    batch_train: int = Field(default=256, ge=1)
    outer_loop: int | None = Field(default=None, ge=1)
    inner_loop: int | None = Field(default=None, ge=0)
    metric: Literal["ours", "mse", "cos"] = "ours"

    @model_validator(mode="after")
    def _cross_checks(self) -> StaticConfig:
        if self.method == "dm" and (self.outer_loop is not None or self.inner_loop is not None):
            raise ValueError(
                f"outer_loop/inner_loop apply to method='dc' only, got method='dm' with "
                f"outer_loop={self.outer_loop}, inner_loop={self.inner_loop}"
            )
        return self

    def resolved_lr(self) -> float:
        """The image learning rate actually used."""
        return self.lr if self.lr is not None else _DEFAULT_LR[self.method]

    def resolved_loops(self) -> tuple[int, int]:
        """``(outer_loop, inner_loop)`` actually used (DC)."""
        outer, inner = dc_loops(self.static_per_class)
        return (self.outer_loop or outer, inner if self.inner_loop is None else self.inner_loop)


class _StaticHeader(BaseModel):
    """Header of a saved :class:`StaticMemory` (validated on load: no silent ``2.9 -> 2``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_classes: StrictInt = Field(ge=1)
    static_per_class: StrictInt = Field(ge=1)
    source: StrictStr = "user"
    distill_config: dict[str, Any] | None = None
    losses: list[float] = Field(default_factory=list)


class StaticMemory:
    """Static memory: ``static_per_class`` images per class, class-major.

    Args:
        images: ``[num_classes * static_per_class, C, H, W]`` floating tensor; image ``i`` belongs to class
            ``i // static_per_class``.
        num_classes: Number of classes.
        static_per_class: Images per class.
        source: Where it came from: ``"dc"``, ``"dm"``, ``"released"`` or ``"user"``.
        config: The :class:`StaticConfig` used to distill it (``None`` for released/user images).
        losses: Matching loss per distillation iteration.

    Raises:
        ShapeError: ``images`` is not 4-D floating, has the wrong count, or holds NaN/inf.

    Shape:
        - images: ``[num_classes * static_per_class, C, H, W]``.

    Example:
        >>> memory = StaticMemory(torch.zeros(6, 3, 4, 4), num_classes=3, static_per_class=2)
        >>> memory.labels.tolist(), memory.as_videos(5).shape
        ([0, 0, 1, 1, 2, 2], torch.Size([6, 5, 3, 4, 4]))
    """

    def __init__(
        self,
        images: torch.Tensor,
        num_classes: int,
        static_per_class: int,
        *,
        source: str = "user",
        config: StaticConfig | None = None,
        losses: Sequence[float] = (),
    ) -> None:
        self.num_classes = check_int(num_classes, "num_classes")
        self.static_per_class = check_int(static_per_class, "static_per_class")
        self.images = _check_static_images(images, "images", self.num_classes, self.static_per_class)
        self.source = source
        self.config = config
        self.losses = [float(v) for v in losses]

    @property
    def labels(self) -> torch.Tensor:
        """Class of each image, ``[num_classes * static_per_class]`` int64 (class-major)."""
        return torch.arange(self.num_classes).repeat_interleave(self.static_per_class)

    def __len__(self) -> int:
        return self.images.shape[0]

    def class_images(self, c: int) -> torch.Tensor:
        """The ``[static_per_class, C, H, W]`` images of class ``c``."""
        c = check_int(c, "c", minimum=0)
        if c >= self.num_classes:
            raise ConfigError(f"c must be < num_classes ({self.num_classes}), got {c}")
        return self.images[c * self.static_per_class : (c + 1) * self.static_per_class]

    def as_videos(self, frames: int) -> torch.Tensor:
        """Each image repeated over ``frames`` frames (the "static memory only" baseline).

        Shape:
            - Output: ``[num_classes * static_per_class, frames, C, H, W]``, contiguous.
        """
        frames = check_int(frames, "frames")
        return repeat(self.images, "n c h w -> n t c h w", t=frames).contiguous()

    def storage_bytes(self) -> int:
        """Bytes needed to store the images in their dtype."""
        return self.images.numel() * self.images.element_size()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as one safetensors artifact (atomic) with a JSON config."""
        config = {
            "num_classes": self.num_classes,
            "static_per_class": self.static_per_class,
            "source": self.source,
            "distill_config": None if self.config is None else self.config.model_dump(),
            "losses": self.losses,
        }
        return save_artifact(path, {"images": self.images}, kind=_KIND, config=config)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> StaticMemory:
        """Load an artifact written by :meth:`save` (no pickle); the header is validated field by field.

        Raises:
            ConfigError: Missing/unreadable file, another kind, or a header field that is missing or of the
                wrong type (named, with the file).
            ShapeError: The images do not fit the header or hold NaN/inf.
        """
        tensors, config = load_artifact(path, kind=_KIND, device=device)
        try:
            header = _StaticHeader.model_validate(config)
        except ValidationError as exc:
            raise ConfigError(
                f"artifact {str(path)!r} has an invalid header: " + format_validation_error(_StaticHeader, exc)
            ) from None
        if sorted(tensors) != ["images"]:
            raise ConfigError(f"artifact {str(path)!r} must hold exactly the tensor 'images', got {sorted(tensors)}")
        try:
            cfg = None if header.distill_config is None else validate_config(StaticConfig, header.distill_config)
        except ConfigError as exc:
            raise ConfigError(f"artifact {str(path)!r} has an invalid distill_config: {exc}") from None
        return cls(
            tensors["images"],
            header.num_classes,
            header.static_per_class,
            source=header.source,
            config=cfg,
            losses=header.losses,
        )

    def __repr__(self) -> str:
        return (
            f"StaticMemory(num_classes={self.num_classes}, static_per_class={self.static_per_class}, "
            f"shape={tuple(self.images.shape)}, source={self.source!r})"
        )


def _check_static_images(images: object, name: str, num_classes: int, static_per_class: int) -> torch.Tensor:
    t = check_tensor(images, name, ndim=4, floating=True)
    expected = num_classes * static_per_class
    if t.shape[0] != expected:
        raise ShapeError(
            f"{name} must hold num_classes * static_per_class = {num_classes} * {static_per_class} = {expected} "
            f"images (class-major), got {t.shape[0]} (shape {tuple(t.shape)})"
        )
    check_finite(t, name)
    return t.detach().contiguous()


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


def load_released_static(
    path: str | os.PathLike[str], num_classes: int, static_per_class: int, *, channels: int | None = 3
) -> StaticMemory:
    """Load one of the authors' released static memories safely.

    The release stores ``{"image": tensor}`` with ``torch.save``; the tensor is
    ``[num_classes * static_per_class, 3, H, W]``, class-major, in the authors' normalized pixel space (it
    is returned as it is, as float32). The file is read with ``torch.load(weights_only=True)``: anything
    that needs arbitrary unpickling is refused.

    Args:
        path: The ``.pt`` file.
        num_classes: Expected number of classes.
        static_per_class: Expected images per class.
        channels: Expected channels (``None``: any).

    Returns:
        A :class:`StaticMemory` with ``source="released"``.

    Raises:
        ConfigError: Missing file, not loadable with ``weights_only=True``, not a dict with a tensor under
            ``"image"``.
        ShapeError: Wrong rank, count or channels, non-floating dtype, or NaN/inf values.

    Shape:
        - File tensor: ``[num_classes * static_per_class, C, H, W]``.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "static.pt")
        >>> torch.save({"image": torch.zeros(4, 3, 8, 8)}, p)
        >>> load_released_static(p, num_classes=2, static_per_class=2).images.shape
        torch.Size([4, 3, 8, 8])
    """
    num_classes = check_int(num_classes, "num_classes")
    static_per_class = check_int(static_per_class, "static_per_class")
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"path must be an existing released static-memory file, got {str(p)!r} (not found)")
    try:
        obj: Any = torch.load(p, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"path {str(p)!r} must be a released static memory ({{'image': tensor}} loadable with "
            f"torch.load(weights_only=True)); refused: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from exc
    if not isinstance(obj, dict) or "image" not in obj:
        got = f"dict with keys {sorted(map(str, obj))}" if isinstance(obj, dict) else type(obj).__name__
        raise ConfigError(f"released static memory {str(p)!r} must be a dict with key 'image', got {got}")
    image = obj["image"]
    if not isinstance(image, torch.Tensor):
        raise ConfigError(
            f"released static memory {str(p)!r} must hold a tensor under 'image', got {type(image).__name__}"
        )
    name = f"'image' of {str(p)!r}"
    image = check_tensor(image, name, ndim=4, floating=True)
    if channels is not None and image.shape[1] != channels:
        raise ShapeError(f"{name} must have {channels} channels, got {image.shape[1]} (shape {tuple(image.shape)})")
    image = _check_static_images(image, name, num_classes, static_per_class)
    return StaticMemory(image.float(), num_classes, static_per_class, source="released")


def load_static(
    path: str | os.PathLike[str], num_classes: int | None = None, static_per_class: int | None = None
) -> StaticMemory:
    """Load a static memory: our safetensors artifact, or (any other suffix) a released ``.pt`` file.

    For a released file ``num_classes`` and ``static_per_class`` are required; for our artifact they are
    optional and checked when given.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "m.safetensors")
        >>> _ = StaticMemory(torch.zeros(2, 3, 4, 4), 2, 1).save(p)
        >>> load_static(p).images.shape
        torch.Size([2, 3, 4, 4])
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if str(path).endswith(".safetensors"):
        memory = StaticMemory.load(path)
        for name, want, got in (
            ("num_classes", num_classes, memory.num_classes),
            ("static_per_class", static_per_class, memory.static_per_class),
        ):
            if want is not None and want != got:
                raise ShapeError(f"{name} of {str(path)!r} must be {want}, got {got}")
        return memory
    if num_classes is None or static_per_class is None:
        raise ConfigError(
            "num_classes and static_per_class are required to load a released .pt static memory, "
            f"got num_classes={num_classes}, static_per_class={static_per_class}"
        )
    return load_released_static(path, num_classes, static_per_class)


# --------------------------------------------------------------------------------------------------
# Distillation
# --------------------------------------------------------------------------------------------------


def _preload(data: object, num_classes: int, progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(images [N, C, H, W], labels [N])`` from a tuple of tensors or an ``(image, label)`` dataset."""
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        images, labels = data
    else:
        if not hasattr(data, "__getitem__") or not hasattr(data, "__len__") or isinstance(data, (str, torch.Tensor)):
            raise ConfigError(
                "single_frame_data must be a dataset of (image [C, H, W], label) items or a tuple "
                f"(images [N, C, H, W], labels [N]), got {type(data).__name__}"
            )
        n = len(data)
        if n == 0:
            raise ShapeError("single_frame_data must not be empty, got 0 items")
        items = [data[i] for i in tqdm(range(n), desc="load frames", disable=not progress, leave=False)]
        if not all(isinstance(item, (tuple, list)) and len(item) == 2 for item in items):
            raise ConfigError("single_frame_data items must be (image [C, H, W], label) pairs")
        images = torch.stack([torch.as_tensor(x) for x, _ in items])
        labels = torch.as_tensor([int(y) for _, y in items], dtype=torch.long)
    images = check_tensor(images, "single_frame_data images", ndim=4, floating=True)
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ShapeError(f"single_frame_data labels must have shape [{images.shape[0]}], got {got}")
    labels = labels.long()
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ShapeError(
            f"single_frame_data labels must lie in [0, {num_classes - 1}], "
            f"got [{int(labels.min())}, {int(labels.max())}]"
        )
    check_finite(images, "single_frame_data images")
    return images, labels


def _build_model(
    model: str | ModelFactory,
    seed: int,
    channels: int,
    num_classes: int,
    size: tuple[int, int],
    dtype: torch.dtype,
    kwargs: dict[str, Any],
) -> nn.Module:
    net = make_model(
        model, channels=channels, num_classes=num_classes, size=size, frames=None, seed=seed, model_kwargs=kwargs
    )
    return net.to(dtype=dtype)


def _freeze_batchnorm(net: nn.Module, real_all: Callable[[], torch.Tensor]) -> None:
    """The published DC trick: compute BatchNorm statistics on real data, then fix them."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    net.train()
    with torch.no_grad():
        net(real_all())
    for m in bns:
        m.eval()


def distill_static(
    single_frame_data: object,
    num_classes: int | None = None,
    static_per_class: int | None = None,
    method: str = "dc",
    iterations: int = 1000,
    lr: float | None = None,
    init: str = "real",
    model: str | ModelFactory = "ConvNet",
    seed: int = 0,
    progress: bool = True,
    *,
    lr_net: float = 0.01,
    momentum: float = 0.5,
    batch_real: int = 256,
    batch_train: int = 256,
    outer_loop: int | None = None,
    inner_loop: int | None = None,
    metric: str = "ours",
    augment: object = None,
    model_kwargs: dict[str, Any] | None = None,
    config: StaticConfig | None = None,
) -> StaticMemory:
    """Distill a static memory from single frames with DC or DM (stage 1).

    Args:
        single_frame_data: A dataset whose items are ``(image [C, H, W], label)`` (e.g. a video dataset's
            ``single_frame()`` view; it is read once, under the seed) or a tuple ``(images [N, C, H, W],
            labels [N])``.
        num_classes: Number of classes.
        static_per_class: Images per class to distill.
        method: ``"dc"`` (gradient matching, the paper's choice) or ``"dm"`` (distribution matching).
        iterations: Number of outer iterations (each draws a fresh student).
        lr: Image learning rate (SGD, ``momentum``); default: published value (DC 0.1, DM 1.0).
        init: ``"real"`` (random real frames of the class) or ``"noise"`` (Gaussian with the per-channel mean
            and std of the real frames: the published ``randn`` in the standardized pixel space).
        model: A name for :func:`temporal_condense.models.get_model` (default the image ``"ConvNet"``) or a
            :class:`~temporal_condense.models.ModelFactory` (called with ``frames=1``) whose network has
            ``forward`` (logits) and, for DM, ``embed``.
        seed: Seeds everything: real batches, student initializations, noise, and torch's global RNG
            (forked and restored) for augmentations.
        progress: Show a tqdm progress bar.
        lr_net: DC: learning rate of the student's inner training (SGD momentum 0.5, published 0.01).
        momentum: Momentum of the image optimizer (published 0.5).
        batch_real: Real frames per class per step.
        batch_train: DC: batch size of the student's inner training.
        outer_loop: DC: image updates per iteration (default :func:`dc_loops`).
        inner_loop: DC: student epochs between image updates (default :func:`dc_loops`).
        metric: DC: ``"ours"``, ``"mse"`` or ``"cos"``.
        augment: Optional siamese augmentation (see :class:`~temporal_condense.losses.SiameseAugment`).
        model_kwargs: Extra keyword arguments for ``get_model`` (e.g. ``{"net_width": 32}``); JSON-able.
        config: Every setting as one :class:`StaticConfig` instead of the separate arguments (which must then
            keep their defaults; ``num_classes`` and ``static_per_class`` may be left ``None``). A factory
            ``model`` is still passed as ``model``.

    Returns:
        The :class:`StaticMemory` (``losses`` holds the mean per-class matching loss of every iteration).

    Raises:
        ConfigError: Invalid settings.
        ShapeError: Bad data (rank, labels, NaN), or ``init="real"`` with a class that has fewer frames
            than ``static_per_class``.

    Shape:
        - single_frame_data: ``[N, C, H, W]`` images with ``[N]`` labels.
        - Output images: ``[num_classes * static_per_class, C, H, W]``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> net = lambda **_: nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
        >>> data = (torch.rand(6, 3, 2, 2), torch.tensor([0, 1, 0, 1, 0, 1]))
        >>> distill_static(data, 2, 1, method="dc", iterations=1, model=net, progress=False).images.shape
        torch.Size([2, 3, 2, 2])
    """
    arguments: dict[str, Any] = {
        "num_classes": num_classes,
        "static_per_class": static_per_class,
        "method": method,
        "iterations": iterations,
        "lr": lr,
        "lr_net": lr_net,
        "momentum": momentum,
        "init": init,
        "model": model if isinstance(model, str) else getattr(model, "__name__", type(model).__name__),
        "model_kwargs": model_kwargs,
        "seed": seed,
        "batch_real": batch_real,
        "batch_train": batch_train,
        "outer_loop": outer_loop,
        "inner_loop": inner_loop,
        "metric": metric,
    }
    if config is None:
        arguments["model_kwargs"] = dict(model_kwargs or {})
    else:
        arguments = {k: v for k, v in arguments.items() if k not in ("model", "num_classes", "static_per_class")}
        if num_classes is not None or static_per_class is not None:
            raise ConfigError("distill_static: with config=, leave num_classes and static_per_class unset")
        if isinstance(model, str) and model != _DISTILL_DEFAULTS["model"]:
            raise ConfigError("distill_static: with config=, a model name goes into config.model, got model= too")
        if isinstance(model, str):
            model = config.model
    try:
        cfg = config_or_arguments(StaticConfig, config, arguments, _DISTILL_DEFAULTS, "distill_static")
    except ConfigError as exc:
        raise ConfigError(f"invalid distill_static settings: {exc}") from None
    if not isinstance(model, str) and not callable(model):
        raise ConfigError(f"model must be a model name or a factory seed -> nn.Module, got {type(model).__name__}")
    siamese = _as_siamese(augment)
    images, labels = _preload_seeded(single_frame_data, cfg, progress)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return _distill(images, labels, cfg, model, siamese, progress)


_DISTILL_DEFAULTS: dict[str, Any] = {
    name: p.default for name, p in inspect.signature(distill_static).parameters.items()
}


def _preload_seeded(data: object, cfg: StaticConfig, progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
    # A single-frame view draws its frame from torch's global RNG: seed it so the frames are reproducible.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return _preload(data, cfg.num_classes, progress)


def _distill(
    images: torch.Tensor,
    labels: torch.Tensor,
    cfg: StaticConfig,
    model: str | ModelFactory,
    augment: Any,
    progress: bool,
) -> StaticMemory:
    nc, spc = cfg.num_classes, cfg.static_per_class
    n, channels, h, w = images.shape
    gen = torch.Generator().manual_seed(cfg.seed)
    indices_class = [torch.nonzero(labels == c).flatten() for c in range(nc)]
    for c, idx in enumerate(indices_class):
        if idx.numel() == 0:
            raise ShapeError(f"single_frame_data must have at least one frame of every class, class {c} has none")

    def get_images(c: int, k: int) -> torch.Tensor:
        idx = indices_class[c]
        return images[idx[torch.randperm(idx.numel(), generator=gen)[:k]]]

    # Initialization.
    if cfg.init == "real":
        for c, idx in enumerate(indices_class):
            if idx.numel() < spc:
                raise ShapeError(
                    f'init="real" needs at least static_per_class ({spc}) frames per class, class {c} has {idx.numel()}'
                )
        syn0 = torch.cat([get_images(c, spc) for c in range(nc)])
    else:
        mean = images.mean(dim=(0, 2, 3)).view(1, channels, 1, 1)
        std = images.std(dim=(0, 2, 3)).view(1, channels, 1, 1) if n > 1 else torch.ones(1, channels, 1, 1)
        noise = torch.randn((nc * spc, channels, h, w), generator=gen, dtype=images.dtype)
        syn0 = noise * std + mean
    image_syn = syn0.detach().clone().requires_grad_(True)
    label_syn = torch.arange(nc).repeat_interleave(spc)
    optimizer_img = torch.optim.SGD([image_syn], lr=cfg.resolved_lr(), momentum=cfg.momentum)
    outer, inner = cfg.resolved_loops()

    history: list[float] = []
    bar = tqdm(range(cfg.iterations), desc=f"stage 1 ({cfg.method})", disable=not progress)
    for it in bar:
        net_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
        net = _build_model(model, net_seed, channels, nc, (h, w), images.dtype, cfg.model_kwargs)
        net.train()
        if cfg.method == "dm":
            for p in net.parameters():
                p.requires_grad_(False)
            embed = getattr(net, "embed", None)
            if not callable(embed):
                raise ConfigError(f'model must have an embed() method for method="dm", got {type(net).__name__}')
            real = torch.cat([get_images(c, cfg.batch_real) for c in range(nc)])
            real_labels = torch.cat(
                [torch.full((min(cfg.batch_real, indices_class[c].numel()),), c, dtype=torch.long) for c in range(nc)]
            )
            loss = dm_loss(embed, real, real_labels, image_syn, label_syn, nc, augment=augment)
            optimizer_img.zero_grad()
            (grad,) = torch.autograd.grad(loss, [image_syn])
            image_syn.grad = grad
            optimizer_img.step()
            loss_avg = loss.item() / nc
        else:
            loss_avg = _dc_iteration(
                net, get_images, image_syn, label_syn, optimizer_img, cfg, outer, inner, augment, gen
            )
        history.append(loss_avg)
        if progress:
            bar.set_postfix(loss=f"{loss_avg:.4f}")
        logger.debug("stage 1 iteration %d: loss %.6f", it, loss_avg)

    return StaticMemory(image_syn.detach().clone(), nc, spc, source=cfg.method, config=cfg, losses=history)


def _dc_iteration(
    net: nn.Module,
    get_images: Callable[[int, int], torch.Tensor],
    image_syn: torch.Tensor,
    label_syn: torch.Tensor,
    optimizer_img: torch.optim.Optimizer,
    cfg: StaticConfig,
    outer: int,
    inner: int,
    augment: Any,
    gen: torch.Generator,
) -> float:
    """One iteration of the published DC loop (outer_loop image updates, inner_loop student epochs)."""
    nc, spc = cfg.num_classes, cfg.static_per_class
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise ConfigError(f'model must have trainable parameters for method="dc", got none in {type(net).__name__}')
    optimizer_net = torch.optim.SGD(params, lr=cfg.lr_net, momentum=0.5)
    loss_sum = 0.0
    for ol in range(outer):
        _freeze_batchnorm(net, lambda: torch.cat([get_images(c, 16) for c in range(nc)]))
        loss = image_syn.new_zeros(())
        for c in range(nc):
            img_real = get_images(c, cfg.batch_real)
            img_syn = image_syn[c * spc : (c + 1) * spc]
            loss = loss + dc_class_loss(img_real, img_syn, net, c, metric=cfg.metric, augment=augment, params=params)
        optimizer_img.zero_grad()
        (grad,) = torch.autograd.grad(loss, [image_syn])
        image_syn.grad = grad
        optimizer_img.step()
        loss_sum += loss.item()
        if ol == outer - 1:
            break
        # Train the student on the current synthetic images (published: inner_loop epochs, shuffled batches).
        x_train, y_train = image_syn.detach().clone(), label_syn
        for _ in range(inner):
            order = torch.randperm(x_train.shape[0], generator=gen)
            for start in range(0, x_train.shape[0], cfg.batch_train):
                idx = order[start : start + cfg.batch_train]
                optimizer_net.zero_grad()
                F.cross_entropy(net(x_train[idx]), y_train[idx]).backward()
                optimizer_net.step()
    return loss_sum / (nc * outer)

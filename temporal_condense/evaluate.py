"""Evaluation: train fresh networks on a (synthetic) training set and test them on real clips.

This is the protocol of the dataset-distillation codebases (DC/DSA/DM/MTT ``evaluate_synset`` + ``epoch``,
and the video benchmark's variant of it), made seeded and reproducible:

* ``protocol="published"`` follows the published video benchmark: SGD with momentum 0.9 and weight decay
  5e-4; ``epochs + 1`` passes over the training set (the reference loops over ``range(Epoch + 1)``); after
  pass ``epochs // 2 + 1`` the learning rate is divided by 10 and the optimizer is rebuilt (so the momentum
  buffer restarts, as in the reference); every batch, train and test, is standardized with its own scalar
  mean and standard deviation, ``(x - x.mean()) / x.std()``; the test set is read ``3`` times when it is a
  ``Dataset`` (whose temporal sampling may be random) and once when it is a tensor pair (three identical
  passes would give the same number); test batches hold 64 clips.
* ``protocol="plain"``: the same optimizer, exactly ``epochs`` passes, the learning rate divided by 10 after
  the first ``ceil(epochs / 2)`` passes (momentum kept), no input standardization (use it when the inputs are
  already normalized), one test pass.

Run ``r`` of ``evaluate(..., seed=s)`` builds its network with a seed derived from ``(s, r)``, shuffles with a
generator seeded from ``(s, r)``, and seeds torch's (and Python's) global RNG from ``(s, r)`` inside
:func:`torch.random.fork_rng`, so dropout, render hooks (kornia augmentation) and the random static/dynamic
pairing of a synthetic set are reproducible, and the caller's global RNG state is left untouched. Nothing
seeds from the clock.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from temporal_condense.evaluate import evaluate
    >>> def tiny(channels, num_classes, size, frames, seed):
    ...     torch.manual_seed(seed)
    ...     return nn.Sequential(nn.Flatten(), nn.Linear(frames * channels * size[0] * size[1], num_classes))
    >>> x = torch.rand(8, 2, 1, 4, 4); y = torch.arange(8) % 2
    >>> res = evaluate((x, y), (x, y), model=tiny, runs=2, epochs=3, progress=False)
    >>> len(res.top1), 0.0 <= res.mean <= 100.0
    (2, True)
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn
from tqdm.auto import tqdm

from temporal_condense._checks import check_finite, check_int, check_tensor, validate_config
from temporal_condense.errors import ConfigError, ShapeError

__all__ = [
    "DEFAULT_POOL",
    "PROTOCOLS",
    "EvalConfig",
    "EvalResult",
    "evaluate",
    "evaluate_pool",
    "group_accuracy",
    "lr_schedule",
    "predict",
    "random_real_subset",
    "standardize_batch",
    "topk_accuracy",
    "train_network",
    "within_group_accuracy",
]

logger = logging.getLogger(__name__)

ProtocolName = Literal["published", "plain"]
PROTOCOLS: tuple[str, ...] = ("published", "plain")
DEFAULT_POOL: tuple[str, ...] = (
    "ConvNet3D",
    "VideoConvNetMean",
    "VideoConvNetMLP",
    "VideoConvNetGRU",
    "VideoConvNetLSTM",
)

Pair = tuple[torch.Tensor, torch.Tensor]
Metric = Callable[[torch.Tensor, torch.Tensor], float]


class ModelFactory(Protocol):
    """Anything called like :func:`temporal_condense.models.get_model` without the name."""

    def __call__(
        self, *, channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int
    ) -> nn.Module: ...


# --------------------------------------------------------------------------------------------------- config


class EvalConfig(BaseModel):
    """Training/testing hyper-parameters of one evaluation (validated).

    Attributes:
        protocol: ``"published"`` or ``"plain"`` (see the module docstring).
        epochs: Nominal number of epochs (the published protocol runs ``epochs + 1`` passes).
        lr: Initial learning rate of SGD.
        batch_size: Training batch size (the reference uses 256).
        test_batch_size: Test batch size (the reference uses 64; with per-batch standardization the test
            accuracy depends slightly on it).
        momentum: SGD momentum.
        weight_decay: SGD weight decay.
        standardize: Per-batch standardization; ``None`` = the protocol's choice (published: on, plain: off).
        test_passes: Passes over a ``Dataset`` test set; ``None`` = the protocol's choice (published: 3,
            plain: 1). A tensor test set is always read once.
        crop: Pixels cut from every spatial border of train and test inputs before the network (the
            reference cuts 24 px for its ``VideoConvNet*`` models on 112 px clips); the network is built for
            the cropped size.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    protocol: ProtocolName = "published"
    epochs: int = Field(default=50, ge=1)
    lr: float = Field(default=0.01, gt=0.0)
    batch_size: int = Field(default=256, ge=1)
    test_batch_size: int = Field(default=64, ge=1)
    momentum: float = Field(default=0.9, ge=0.0)
    weight_decay: float = Field(default=5e-4, ge=0.0)
    standardize: bool | None = None
    test_passes: int | None = Field(default=None, ge=1)
    crop: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _finite(self) -> EvalConfig:
        for name in ("lr", "momentum", "weight_decay"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        return self

    @property
    def use_standardize(self) -> bool:
        """Whether batches are standardized (resolved against the protocol)."""
        return self.protocol == "published" if self.standardize is None else self.standardize

    def passes_for(self, data_is_dataset: bool) -> int:
        """Number of test passes for a test set of the given kind."""
        if not data_is_dataset:
            return 1
        if self.test_passes is not None:
            return self.test_passes
        return 3 if self.protocol == "published" else 1


def _make_config(**kwargs: Any) -> EvalConfig:
    return validate_config(EvalConfig, kwargs)


def lr_schedule(epochs: int, lr: float, protocol: str = "published") -> list[float]:
    """Learning rate used in each training pass.

    Args:
        epochs: Nominal number of epochs.
        lr: Initial learning rate.
        protocol: ``"published"`` (``epochs + 1`` passes; passes ``0 .. epochs // 2 + 1`` at ``lr``, the rest
            at ``lr / 10``, as the reference ``lr_schedule = [Epoch // 2 + 1]``) or ``"plain"`` (``epochs``
            passes, the first ``ceil(epochs / 2)`` at ``lr``).

    Returns:
        One learning rate per pass.

    Example:
        >>> lr_schedule(4, 1.0, "plain")
        [1.0, 1.0, 0.1, 0.1]
        >>> lr_schedule(4, 1.0, "published")
        [1.0, 1.0, 1.0, 1.0, 0.1]
    """
    cfg = _make_config(epochs=epochs, lr=lr, protocol=protocol)
    if cfg.protocol == "published":
        last_high = cfg.epochs // 2 + 1
        return [cfg.lr if ep <= last_high else cfg.lr * 0.1 for ep in range(cfg.epochs + 1)]
    high = (cfg.epochs + 1) // 2
    return [cfg.lr if ep < high else cfg.lr * 0.1 for ep in range(cfg.epochs)]


# --------------------------------------------------------------------------------------------------- result


@dataclass(frozen=True)
class EvalResult:
    """Accuracy of networks trained on one training set, over several runs.

    Attributes:
        model: Model name.
        protocol: Protocol used.
        top1: Per-run top-1 test accuracy in percent.
        top5: Per-run top-5 test accuracy in percent (``k = min(5, num_classes)``).
        train_top1: Per-run training accuracy of the last pass, in percent.
        seconds: Per-run wall-clock time (training and testing), in seconds.
        lrs: Learning rate of each training pass (read from the optimizer; the same in every run).
        epochs: Nominal epochs.
        seed: Base seed.
        num_train: Training samples per pass.
        num_test: Test samples (one pass).
        metrics: Per-run values of the extra ``metrics`` passed to :func:`evaluate`, by name.
    """

    model: str
    protocol: str
    top1: tuple[float, ...]
    top5: tuple[float, ...]
    train_top1: tuple[float, ...]
    seconds: tuple[float, ...]
    lrs: tuple[float, ...]
    epochs: int
    seed: int
    num_train: int
    num_test: int
    metrics: dict[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        """Number of runs."""
        return len(self.top1)

    @property
    def mean(self) -> float:
        """Mean top-1 accuracy (percent) over runs."""
        return statistics.fmean(self.top1)

    @property
    def std(self) -> float:
        """Population standard deviation (``numpy.std``, as the reference reports) of top-1 over runs."""
        return statistics.pstdev(self.top1)

    @property
    def top5_mean(self) -> float:
        """Mean top-5 accuracy (percent) over runs."""
        return statistics.fmean(self.top5)

    @property
    def top5_std(self) -> float:
        """Population standard deviation of top-5 over runs."""
        return statistics.pstdev(self.top5)

    @property
    def time_per_run(self) -> float:
        """Mean wall-clock seconds per run."""
        return statistics.fmean(self.seconds)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python summary (JSON-serializable), with the aggregates."""
        out = asdict(self)
        out.update(
            mean=self.mean,
            std=self.std,
            top5_mean=self.top5_mean,
            top5_std=self.top5_std,
            time_per_run=self.time_per_run,
        )
        return out

    def __str__(self) -> str:
        return (
            f"{self.model}: top-1 {self.mean:.2f} ± {self.std:.2f} %, top-5 {self.top5_mean:.2f} ± "
            f"{self.top5_std:.2f} % over {self.runs} run(s), {self.time_per_run:.1f} s/run"
        )


# --------------------------------------------------------------------------------------------- data access


class _Source:
    """Uniform batched access to a tensor pair, a synthetic set (via ``as_dataset``) or a Dataset."""

    def __init__(
        self,
        data: object,
        name: str,
        *,
        num_classes: int | None = None,
    ) -> None:
        self.name = name
        self.tensors: Pair | None = None
        self.dataset: Any = None
        self.declared_classes: int | None = None
        self.labels: torch.Tensor | None = None
        if isinstance(data, (tuple, list)):
            if len(data) != 2:
                raise ShapeError(f"{name} must be a (videos, labels) pair, got a sequence of length {len(data)}")
            x, y = _check_pair(data[0], data[1], name)
            self.tensors = (x, y)
            self.labels = y
            self.sample_shape = tuple(x.shape[1:])
            self.length = int(x.shape[0])
        elif hasattr(data, "as_dataset") and callable(data.as_dataset):  # a synthetic set
            self.declared_classes = _int_attr(data, "num_classes")
            self.dataset = data.as_dataset()
            vpc = _int_attr(data, "videos_per_class")
            if self.declared_classes is not None and vpc is not None:
                self.labels = torch.arange(self.declared_classes * vpc) // vpc
            self._init_dataset()
        elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
            self.dataset = data
            self.declared_classes = _int_attr(data, "num_classes")
            labels = getattr(data, "labels", None)
            if isinstance(labels, (torch.Tensor, list, tuple)):
                self.labels = torch.as_tensor(labels, dtype=torch.int64)
            self._init_dataset()
        else:
            raise ShapeError(
                f"{name} must be a (videos, labels) tensor pair, a synthetic set or a torch Dataset of "
                f"(video, label), got {type(data).__name__}"
            )
        if num_classes is not None:
            self.declared_classes = num_classes

    def _init_dataset(self) -> None:
        self.length = len(self.dataset)
        if self.length == 0:
            raise ShapeError(f"{self.name} must not be empty, got a dataset of length 0")
        x0, _ = self._item(0)
        if x0.ndim not in (3, 4):
            raise ShapeError(
                f"{self.name} items must be videos [T, C, H, W] (or images [C, H, W]), got an item of shape "
                f"{tuple(x0.shape)}"
            )
        self.sample_shape = tuple(x0.shape)

    @property
    def is_dataset(self) -> bool:
        return self.dataset is not None

    def _epoch_owner(self) -> Any:
        ds = self.dataset
        if ds is None or not callable(getattr(ds, "set_epoch", None)):
            return None
        return ds

    def set_epoch(self, epoch: int) -> None:
        """Select the random draws of pass ``epoch`` on datasets that have ``set_epoch`` (ours do)."""
        owner = self._epoch_owner()
        if owner is not None:
            owner.set_epoch(epoch)

    def saved_epoch(self) -> int | None:
        """The dataset's current epoch (restored after evaluation), or ``None``."""
        owner = self._epoch_owner()
        if owner is None:
            return None
        for obj in (owner, getattr(owner, "parent", None)):
            value = getattr(obj, "epoch", None)
            if isinstance(value, int):
                return value
        return 0

    def _item(self, i: int) -> tuple[torch.Tensor, int]:
        return self._unpack(self.dataset[i], i)

    def _unpack(self, item: Any, i: int) -> tuple[torch.Tensor, int]:
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ShapeError(f"{self.name}[{i}] must be a (video, label) pair, got {type(item).__name__}")
        x = item[0]
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise ShapeError(f"{self.name}[{i}] video must be a floating torch.Tensor, got {type(x).__name__}")
        return x.detach(), int(item[1])

    def batch(self, idx: torch.Tensor) -> Pair:
        """Samples ``idx`` as ``(x [b, *sample_shape], y [b] int64)``."""
        if self.tensors is not None:
            return self.tensors[0][idx], self.tensors[1][idx]
        xs, ys = [], []
        with torch.no_grad():
            getitems = getattr(self.dataset, "__getitems__", None)
            items = getitems(idx.tolist()) if callable(getitems) else None  # batched rendering when offered
            for pos, i in enumerate(idx.tolist()):
                x, y = self._item(int(i)) if items is None else self._unpack(items[pos], int(i))
                if tuple(x.shape) != self.sample_shape:
                    raise ShapeError(
                        f"{self.name}[{i}] has shape {tuple(x.shape)}, expected {self.sample_shape} like item 0"
                    )
                xs.append(x)
                ys.append(y)
        x = torch.stack(xs)
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            bad = [int(i) for i, v in zip(idx.tolist(), xs, strict=True) if not bool(torch.isfinite(v).all())]
            raise ShapeError(f"{self.name} videos must be finite, got NaN/inf values in item(s) {bad[:10]}")
        return x, torch.tensor(ys, dtype=torch.int64)


def _int_attr(obj: object, name: str) -> int | None:
    value = getattr(obj, name, None)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _check_pair(videos: object, labels: object, name: str) -> Pair:
    x = check_finite(check_tensor(videos, f"{name} videos", floating=True), f"{name} videos")
    if x.ndim not in (4, 5):
        raise ShapeError(
            f"{name} videos must be 5-D [N, T, C, H, W] (or 4-D images [N, C, H, W]), got {x.ndim}-D tensor "
            f"of shape {tuple(x.shape)}"
        )
    y = check_tensor(labels, f"{name} labels", ndim=1)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ShapeError(f"{name} labels must have an integer dtype, got {y.dtype}")
    if x.shape[0] != y.shape[0]:
        raise ShapeError(
            f"{name} videos and labels must have the same length, got {x.shape[0]} videos and {y.shape[0]} labels"
        )
    if x.shape[0] == 0:
        raise ShapeError(f"{name} must not be empty, got 0 samples")
    if y.min() < 0:
        raise ShapeError(f"{name} labels must be >= 0, got minimum {int(y.min())}")
    return x.detach(), y.detach().to(torch.int64)


def _check_label_range(labels: torch.Tensor, num_classes: int, name: str) -> None:
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)]
        raise ShapeError(
            f"{name} labels must lie in [0, {num_classes - 1}] (num_classes={num_classes}), got {int(bad[0])}"
        )


def _derive_seed(seed: int, run: int, salt: str) -> int:
    digest = hashlib.blake2b(f"{seed}:{run}:{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 62) - 1)


# ---------------------------------------------------------------------------------------------- primitives


def standardize_batch(x: torch.Tensor) -> torch.Tensor:
    """Standardize a batch with its own scalar mean and (unbiased) standard deviation, as the reference.

    Args:
        x: Any batch.

    Returns:
        ``(x - x.mean()) / x.std()`` (the std is clamped at 1e-12 so a constant batch gives zeros, not NaN).

    Shape:
        Input and output: any shape.

    Example:
        >>> standardize_batch(torch.tensor([1.0, 3.0])).tolist()
        [-0.7071067690849304, 0.7071067690849304]
    """
    std = x.std() if x.numel() > 1 else x.new_ones(())
    return (x - x.mean()) / std.clamp_min(1e-12)


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int = 1) -> float:
    """Fraction (0..1) of samples whose label is among the ``k`` largest logits.

    ``k`` larger than the number of classes counts every sample as correct. Ties are broken by
    :func:`torch.topk`.

    Args:
        logits: Scores.
        labels: True class indices.
        k: How many top classes count as a hit.

    Returns:
        The top-k accuracy as a float in [0, 1].

    Shape:
        ``logits``: ``[N, K]``; ``labels``: ``[N]``.

    Example:
        >>> topk_accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
        0.5
    """
    check_tensor(logits, "logits", ndim=2)
    check_tensor(labels, "labels", ndim=1)
    k = check_int(k, "k")
    if logits.shape[0] != labels.shape[0]:
        raise ShapeError(f"logits and labels must have the same length, got {logits.shape[0]} and {labels.shape[0]}")
    if logits.shape[0] == 0:
        raise ShapeError("logits must not be empty, got 0 rows")
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    hits = (top == labels.to(top.device).view(-1, 1)).any(dim=1)
    return float(hits.double().mean())


def group_accuracy(logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor) -> float:
    """Accuracy when each sample chooses only among the classes of its true class's group.

    With ``groups`` = the appearance of every class (MovingShapes), this is the accuracy on "classes that
    differ only by motion": can the network tell the motion once the appearance is given?

    Args:
        logits: ``[N, K]`` class scores.
        labels: ``[N]`` true classes.
        groups: ``[K]`` group id of every class.

    Returns:
        Fraction in ``[0, 1]``.

    Raises:
        ShapeError: Mismatched shapes.

    Shape:
        ``logits [N, K]``, ``labels [N]``, ``groups [K]`` -> scalar.

    Example:
        >>> logits = torch.tensor([[0.0, 1.0, 5.0], [2.0, 1.0, 0.0]])
        >>> group_accuracy(logits, torch.tensor([1, 1]), torch.tensor([0, 0, 1]))  # class 2 is another group
        0.5
    """
    if logits.ndim != 2 or labels.shape != (logits.shape[0],) or groups.shape != (logits.shape[1],):
        raise ShapeError(
            f"logits [N, K], labels [N] and groups [K] must agree, got {tuple(logits.shape)}, "
            f"{tuple(labels.shape)} and {tuple(groups.shape)}"
        )
    if logits.shape[0] == 0:
        raise ShapeError("logits and labels must be non-empty, got N = 0")
    labels, groups = labels.to(logits.device), groups.to(logits.device)
    same = groups[labels].unsqueeze(1) == groups.unsqueeze(0)  # [N, K]
    masked = logits.masked_fill(~same, float("-inf"))
    return float((masked.argmax(1) == labels).float().mean())


def within_group_accuracy(logits: torch.Tensor, labels: torch.Tensor, group_size: int) -> float:
    """Accuracy (0..1) of choosing the right class among the ``group_size`` classes of the true class's group.

    Classes are grouped in consecutive blocks: class ``c`` is member ``c % group_size`` of group
    ``c // group_size``. For :class:`~temporal_condense.data.MovingShapes` (``label = appearance * num_motions +
    motion``) with ``group_size = num_motions`` this is the *motion accuracy*: the motion predicted among the
    classes of the clip's own appearance (chance: ``1 / num_motions``).

    Args:
        logits: Scores.
        labels: True classes.
        group_size: Classes per group; must divide the number of classes.

    Returns:
        The within-group accuracy as a float in [0, 1].

    Shape:
        ``logits``: ``[N, K]``; ``labels``: ``[N]``.

    Example:
        >>> logits = torch.tensor([[0.0, 1.0, 5.0, 0.0]])  # overall argmax is class 2 (another group)
        >>> within_group_accuracy(logits, torch.tensor([1]), group_size=2)
        1.0
    """
    check_tensor(logits, "logits", ndim=2)
    group_size = check_int(group_size, "group_size")
    k = logits.shape[1]
    if k % group_size != 0:
        raise ConfigError(f"group_size ({group_size}) must divide the number of classes ({k})")
    return group_accuracy(logits, labels, torch.arange(k, device=logits.device) // group_size)


def _prepare(x: torch.Tensor, cfg: EvalConfig, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    x = x.to(device=device, dtype=dtype)
    if cfg.crop:
        c = cfg.crop
        x = x[..., c:-c, c:-c]
    if cfg.use_standardize:
        x = standardize_batch(x)
    return x.contiguous()


def _param_dtype(net: nn.Module) -> torch.dtype:
    for p in net.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def train_network(
    net: nn.Module,
    train_data: object,
    *,
    config: EvalConfig | None = None,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
    desc: str = "train",
) -> tuple[list[float], float]:
    """Train ``net`` in place with the configured protocol (no test).

    Uses the caller's global RNG for dropout and for rendering; :func:`evaluate` wraps this in a seeded
    :func:`torch.random.fork_rng`.

    Args:
        net: The network (its ``forward`` returns logits ``[B, num_classes]``).
        train_data: A ``(videos, labels)`` pair, a synthetic set or a Dataset of ``(video, label)``.
        config: Hyper-parameters (default :class:`EvalConfig`).
        generator: Drives the shuffling; default a generator seeded with 0.
        device: Where to train.
        progress: Show a tqdm bar.
        desc: Label of the bar.

    Returns:
        ``(lrs, train_acc)``: the learning rate of every pass and the training accuracy (0..1) of the last.

    Shape:
        Training videos ``[N, T, C, H, W]`` (or images ``[N, C, H, W]``).

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(2 * 1 * 2 * 2, 2))
        >>> x = torch.rand(4, 2, 1, 2, 2); y = torch.tensor([0, 1, 0, 1])
        >>> lrs, acc = train_network(net, (x, y), config=EvalConfig(epochs=2, protocol="plain"))
        >>> lrs
        [0.01, 0.001]
    """
    cfg = config if config is not None else EvalConfig()
    source = train_data if isinstance(train_data, _Source) else _Source(train_data, "train_data")
    return _train(net, source, cfg, generator, torch.device(device), progress, desc)


def _train(
    net: nn.Module,
    source: _Source,
    cfg: EvalConfig,
    generator: torch.Generator | None,
    device: torch.device,
    progress: bool,
    desc: str,
) -> tuple[list[float], float]:
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    net.to(device)
    dtype = _param_dtype(net)
    schedule = lr_schedule(cfg.epochs, cfg.lr, cfg.protocol)

    def make_opt(lr: float) -> torch.optim.Optimizer:
        return torch.optim.SGD(net.parameters(), lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)

    optimizer = make_opt(schedule[0])
    criterion = nn.CrossEntropyLoss()
    lrs: list[float] = []
    correct, seen = 0, 0
    saved = source.saved_epoch()
    try:
        for ep, lr in enumerate(tqdm(schedule, desc=desc, disable=not progress, leave=False)):
            if lr != optimizer.param_groups[0]["lr"]:
                if cfg.protocol == "published":
                    optimizer = make_opt(lr)  # the reference rebuilds the optimizer (momentum restarts)
                else:
                    for group in optimizer.param_groups:
                        group["lr"] = lr
            lrs.append(float(optimizer.param_groups[0]["lr"]))
            source.set_epoch(ep)
            net.train()
            correct, seen = 0, 0
            order = torch.randperm(source.length, generator=generator)
            for idx in order.split(cfg.batch_size):
                x, y = source.batch(idx)
                if source.declared_classes is not None:
                    _check_label_range(y, source.declared_classes, source.name)
                x = _prepare(x, cfg, dtype, device)
                y = y.to(device)
                out = net(x)
                loss = criterion(out, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                correct += int((out.detach().argmax(1) == y).sum())
                seen += int(y.numel())
    finally:
        if saved is not None:
            source.set_epoch(saved)
    return lrs, correct / max(seen, 1)


def predict(
    net: nn.Module,
    data: object,
    *,
    config: EvalConfig | None = None,
    passes: int | None = None,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of ``net`` (in eval mode, without gradients) on every sample of ``data``.

    Batches are prepared like training batches (crop, per-batch standardization when the protocol uses it).

    Args:
        net: A trained network.
        data: A ``(videos, labels)`` pair or a Dataset of ``(video, label)``.
        config: Hyper-parameters (``test_batch_size``, ``crop``, standardization, passes).
        passes: Passes over the data (default: the protocol's choice for this kind of data).
        device: Where to run.

    Returns:
        ``(logits [P*N, K], labels [P*N])`` for ``P`` passes, on the CPU.

    Shape:
        Test videos ``[N, T, C, H, W]`` (or images ``[N, C, H, W]``).

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> logits, labels = predict(net, (torch.rand(5, 1, 1, 2, 2), torch.zeros(5, dtype=torch.long)))
        >>> tuple(logits.shape)
        (5, 3)
    """
    cfg = config if config is not None else EvalConfig()
    source = data if isinstance(data, _Source) else _Source(data, "test_data")
    n_pass = passes if passes is not None else cfg.passes_for(source.is_dataset)
    dev = torch.device(device)
    net.to(dev)
    dtype = _param_dtype(net)
    was_training = net.training
    net.eval()
    all_logits, all_labels = [], []
    saved = source.saved_epoch()
    try:
        with torch.no_grad():
            for p in range(n_pass):
                source.set_epoch(p)
                for idx in torch.arange(source.length).split(cfg.test_batch_size):
                    x, y = source.batch(idx)
                    all_logits.append(net(_prepare(x, cfg, dtype, dev)).float().cpu())
                    all_labels.append(y)
    finally:
        net.train(was_training)
        if saved is not None:
            source.set_epoch(saved)
    return torch.cat(all_logits), torch.cat(all_labels)


# --------------------------------------------------------------------------------------------- evaluation


def _build_model(
    model: str | ModelFactory,
    *,
    channels: int,
    num_classes: int,
    size: tuple[int, int],
    frames: int | None,
    seed: int,
) -> nn.Module:
    if isinstance(model, str):
        from temporal_condense.models import get_model

        if frames is None:
            return get_model(model, channels=channels, num_classes=num_classes, size=size, seed=seed)
        return get_model(model, channels=channels, num_classes=num_classes, size=size, frames=frames, seed=seed)
    if not callable(model):
        raise ConfigError(f"model must be a model name or a factory callable, got {type(model).__name__}")
    net = model(channels=channels, num_classes=num_classes, size=size, frames=frames or 1, seed=seed)
    if not isinstance(net, nn.Module):
        raise ConfigError(f"model factory must return an nn.Module, got {type(net).__name__}")
    return net


def _model_name(model: str | ModelFactory) -> str:
    return model if isinstance(model, str) else getattr(model, "__name__", type(model).__name__)


def _resolve_classes(train: _Source, test: _Source, num_classes: int | None) -> int:
    if num_classes is not None:
        return check_int(num_classes, "num_classes")
    for src in (train, test):
        if src.declared_classes is not None:
            return src.declared_classes
    highest = [int(s.labels.max()) for s in (train, test) if s.labels is not None]
    if not highest:
        raise ConfigError(
            "num_classes could not be inferred (no num_classes attribute and no label tensor); pass num_classes"
        )
    return max(highest) + 1


def _fork_devices(device: torch.device) -> list[int]:
    if device.type == "cuda":
        return [device.index if device.index is not None else torch.cuda.current_device()]
    return []


def _sources(synthetic: object, test_data: object, num_classes: int | None, crop: int) -> tuple[_Source, _Source, int]:
    train = synthetic if isinstance(synthetic, _Source) else _Source(synthetic, "synthetic")
    test = test_data if isinstance(test_data, _Source) else _Source(test_data, "test_data")
    k = _resolve_classes(train, test, num_classes)
    train.declared_classes = k
    test.declared_classes = k
    if train.sample_shape != test.sample_shape:
        raise ShapeError(
            f"synthetic samples have shape {train.sample_shape} but test_data samples have shape "
            f"{test.sample_shape}; they must match (frames, channels, height, width)"
        )
    for src in (train, test):
        if src.labels is not None:
            _check_label_range(src.labels, k, src.name)
    if train.labels is not None:
        counts = torch.bincount(train.labels, minlength=k)
        empty = (counts == 0).nonzero().flatten().tolist()
        if empty:
            raise ConfigError(
                f"synthetic must hold at least one sample of every class 0..{k - 1}; class(es) {empty[:10]} "
                f"{'(and more) ' if len(empty) > 10 else ''}have none"
            )
    h, w = train.sample_shape[-2:]
    if crop and (h <= 2 * crop or w <= 2 * crop):
        raise ConfigError(f"crop must be < half the frame size {(h, w)}, got {crop}")
    return train, test, k


def evaluate(
    synthetic: object,
    test_data: object,
    model: str | ModelFactory = "ConvNet3D",
    runs: int = 3,
    epochs: int = 50,
    lr: float = 0.01,
    batch_size: int = 256,
    seed: int = 0,
    protocol: str = "published",
    progress: bool = True,
    device: str | torch.device = "cpu",
    *,
    num_classes: int | None = None,
    test_batch_size: int = 64,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    standardize: bool | None = None,
    test_passes: int | None = None,
    crop: int = 0,
    metrics: Mapping[str, Metric] | None = None,
) -> EvalResult:
    """Train ``runs`` fresh networks on ``synthetic`` and report their accuracy on ``test_data``.

    Args:
        synthetic: Training set: a ``(videos [N, T, C, H, W], labels [N])`` pair, a synthetic set (anything
            with ``as_dataset()``; re-rendered per item, so every pass sees a fresh static/dynamic pairing, like
            the published evaluation) or a torch Dataset of ``(video, label)``. 4-D images ``[N, C, H, W]``
            work too, with an image model.
        test_data: A ``(videos, labels)`` pair or a Dataset of ``(video, label)`` (e.g. a
            ``temporal_condense.data`` dataset).
        model: A name for :func:`temporal_condense.models.get_model`, or a factory called as
            ``model(channels=, num_classes=, size=, frames=, seed=)``.
        runs: Networks trained (each from its own seed).
        epochs: Nominal epochs (the paper: 500; the published protocol trains ``epochs + 1`` passes).
        lr: Initial SGD learning rate.
        batch_size: Training batch size.
        seed: Base seed; run ``r`` derives its model seed, shuffling and global RNG seed from ``(seed, r)``.
        protocol: ``"published"`` or ``"plain"``.
        progress: Show tqdm bars.
        device: Where to train and test.
        num_classes: Number of classes; default from a ``num_classes`` attribute or the largest label + 1.
        test_batch_size: Test batch size.
        momentum: SGD momentum.
        weight_decay: SGD weight decay.
        standardize: Override the protocol's per-batch standardization.
        test_passes: Override the number of passes over a Dataset test set.
        crop: Pixels cut from every border before the network.
        metrics: Extra per-run metrics ``{name: fn(logits [N, K], labels [N]) -> float}`` computed on the test
            predictions (e.g. :func:`within_group_accuracy`), stored in ``EvalResult.metrics``.

    Returns:
        An :class:`EvalResult` with per-run and aggregate top-1/top-5 accuracy (percent) and time per run.

    Raises:
        ShapeError: Wrong ranks, mismatched lengths or sample shapes, labels out of range.
        ConfigError: Bad hyper-parameters, a class without training samples, an unknown model.

    Shape:
        ``synthetic`` and ``test_data`` samples ``[T, C, H, W]`` (identical), labels ``[N]`` int.

    Example:
        >>> def tiny(channels, num_classes, size, frames, seed):
        ...     torch.manual_seed(seed)
        ...     return nn.Sequential(nn.Flatten(), nn.Linear(frames * channels * size[0] * size[1], num_classes))
        >>> x = torch.rand(6, 2, 1, 3, 3); y = torch.tensor([0, 1, 2] * 2)
        >>> evaluate((x, y), (x, y), model=tiny, runs=1, epochs=2, progress=False).runs
        1
    """
    runs = check_int(runs, "runs")
    seed = check_int(seed, "seed", minimum=0)
    cfg = _make_config(
        protocol=protocol,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        test_batch_size=test_batch_size,
        momentum=momentum,
        weight_decay=weight_decay,
        standardize=standardize,
        test_passes=test_passes,
        crop=crop,
    )
    train, test, k = _sources(synthetic, test_data, num_classes, cfg.crop)
    extra = dict(metrics or {})
    for key, fn in extra.items():
        if not isinstance(key, str) or not callable(fn):
            raise ConfigError(f"metrics must map names to callables, got {key!r}: {type(fn).__name__}")
    return _evaluate(train, test, k, model, runs, seed, cfg, progress, torch.device(device), extra)


def _evaluate(
    train: _Source,
    test: _Source,
    num_classes: int,
    model: str | ModelFactory,
    runs: int,
    seed: int,
    cfg: EvalConfig,
    progress: bool,
    device: torch.device,
    extra: dict[str, Metric],
) -> EvalResult:
    shape = train.sample_shape
    frames = int(shape[0]) if len(shape) == 4 else None
    channels = int(shape[-3])
    size = (int(shape[-2]) - 2 * cfg.crop, int(shape[-1]) - 2 * cfg.crop)
    name = _model_name(model)
    top1: list[float] = []
    top5: list[float] = []
    train_acc: list[float] = []
    seconds: list[float] = []
    lrs: list[float] = []
    values: dict[str, list[float]] = {key: [] for key in extra}
    for r in range(runs):
        start = time.perf_counter()
        py_state = random.getstate()
        try:
            with torch.random.fork_rng(devices=_fork_devices(device)):
                torch.manual_seed(_derive_seed(seed, r, "global"))
                random.seed(_derive_seed(seed, r, "python"))
                net = _build_model(
                    model,
                    channels=channels,
                    num_classes=num_classes,
                    size=size,
                    frames=frames,
                    seed=_derive_seed(seed, r, "model") % (2**31),
                )
                gen = torch.Generator().manual_seed(_derive_seed(seed, r, "order"))
                lrs, acc = _train(net, train, cfg, gen, device, progress, f"{name} run {r + 1}/{runs}")
                logits, labels = predict(net, test, config=cfg, device=device)
        finally:
            random.setstate(py_state)
        _check_label_range(labels, num_classes, test.name)
        if logits.shape[1] != num_classes:
            raise ConfigError(
                f"model {name!r} returned {logits.shape[1]} logits per sample, expected num_classes={num_classes}"
            )
        top1.append(100.0 * topk_accuracy(logits, labels, 1))
        top5.append(100.0 * topk_accuracy(logits, labels, 5))
        train_acc.append(100.0 * acc)
        for key, fn in extra.items():
            values[key].append(float(fn(logits, labels)))
        seconds.append(time.perf_counter() - start)
        logger.info("%s run %d/%d: top-1 %.2f%%, %.1f s", name, r + 1, runs, top1[-1], seconds[-1])
    return EvalResult(
        model=name,
        protocol=cfg.protocol,
        top1=tuple(top1),
        top5=tuple(top5),
        train_top1=tuple(train_acc),
        seconds=tuple(seconds),
        lrs=tuple(lrs),
        epochs=cfg.epochs,
        seed=seed,
        num_train=train.length,
        num_test=test.length,
        metrics={key: tuple(v) for key, v in values.items()},
    )


def evaluate_pool(
    synthetic: object,
    test_data: object,
    models: Sequence[str | ModelFactory] = DEFAULT_POOL,
    **kwargs: Any,
) -> dict[str, EvalResult]:
    """Evaluate the same training set on several architectures (cross-architecture generalization).

    Every model gets the same runs, seeds and hyper-parameters (``kwargs`` go to :func:`evaluate`).

    Args:
        synthetic: Training set (see :func:`evaluate`).
        test_data: Test set (see :func:`evaluate`).
        models: Model names (or factories); default ConvNet3D and the VideoConvNet Mean/MLP/GRU/LSTM heads.
        **kwargs: Any keyword argument of :func:`evaluate` except ``model``.

    Returns:
        ``{model name: EvalResult}`` in the order of ``models``.

    Shape:
        As :func:`evaluate`.

    Example:
        >>> def tiny(channels, num_classes, size, frames, seed):
        ...     torch.manual_seed(seed)
        ...     return nn.Sequential(nn.Flatten(), nn.Linear(frames * channels * size[0] * size[1], num_classes))
        >>> x = torch.rand(4, 2, 1, 3, 3); y = torch.tensor([0, 1] * 2)
        >>> list(evaluate_pool((x, y), (x, y), models=[tiny], runs=1, epochs=1, progress=False))
        ['tiny']
    """
    if "model" in kwargs:
        raise ConfigError("evaluate_pool takes models=..., not model=...")
    if isinstance(models, str) or len(models) == 0:
        raise ConfigError(f"models must be a non-empty sequence of model names, got {models!r}")
    names = [_model_name(m) for m in models]
    if len(set(names)) != len(names):
        raise ConfigError(f"models must have distinct names, got {names}")
    out: dict[str, EvalResult] = {}
    for m in models:
        out[_model_name(m)] = evaluate(synthetic, test_data, model=m, **kwargs)
    return out


# ------------------------------------------------------------------------------------------------ baselines


def random_real_subset(
    data: object,
    per_class: int,
    seed: int = 0,
    *,
    num_classes: int | None = None,
) -> Pair:
    """A class-balanced random subset of real videos (the "random real" baseline of the papers).

    Args:
        data: A ``(videos, labels)`` pair or a Dataset of ``(video, label)`` (a ``labels`` attribute, when
            present, avoids reading every item to learn the labels).
        per_class: Videos drawn (without replacement) from every class.
        seed: Seeds the draw; the same seed gives the same subset.
        num_classes: Number of classes; default a ``num_classes`` attribute or the largest label + 1.

    Returns:
        ``(videos [num_classes * per_class, ...], labels)``, class-major (class 0's videos first), contiguous.

    Raises:
        ConfigError: A class has fewer than ``per_class`` samples.

    Shape:
        ``videos``: ``[num_classes * per_class, T, C, H, W]``; ``labels``: ``[num_classes * per_class]``.

    Example:
        >>> x = torch.rand(6, 2, 1, 2, 2); y = torch.tensor([0, 1, 0, 1, 0, 1])
        >>> sub_x, sub_y = random_real_subset((x, y), per_class=2, seed=0)
        >>> sub_y.tolist()
        [0, 0, 1, 1]
    """
    per_class = check_int(per_class, "per_class")
    seed = check_int(seed, "seed", minimum=0)
    source = _Source(data, "data")
    if source.labels is None:
        labels = torch.tensor([source._item(i)[1] for i in range(source.length)], dtype=torch.int64)
    else:
        labels = source.labels
    if labels.numel() != source.length:
        raise ShapeError(f"data.labels has {labels.numel()} entries but data has {source.length} items")
    if num_classes is not None:
        k = check_int(num_classes, "num_classes")
    elif source.declared_classes is not None:
        k = source.declared_classes
    else:
        k = int(labels.max()) + 1
    _check_label_range(labels, k, "data")
    gen = torch.Generator().manual_seed(seed)
    chosen: list[torch.Tensor] = []
    for c in range(k):
        members = (labels == c).nonzero().flatten()
        if members.numel() < per_class:
            raise ConfigError(f"per_class={per_class} but class {c} has only {members.numel()} sample(s) in data")
        pick = members[torch.randperm(members.numel(), generator=gen)[:per_class]]
        chosen.append(pick.sort().values)
    idx = torch.cat(chosen)
    x, _ = source.batch(idx)
    return x.contiguous(), labels[idx].contiguous()

"""The training/testing protocol: :class:`EvalConfig`, the learning-rate schedule, training and prediction."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn
from tqdm.auto import tqdm

from temporal_condense._checks import validate_config
from temporal_condense.data.source import VideoSource, check_label_range
from temporal_condense.hooks import standardize_batch

__all__ = ["PROTOCOLS", "EvalConfig", "lr_schedule", "predict", "standardize_batch", "train_network"]

ProtocolName = Literal["published", "plain"]
PROTOCOLS: tuple[str, ...] = ("published", "plain")


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
    source = train_data if isinstance(train_data, VideoSource) else VideoSource(train_data, "train_data")
    return _train(net, source, cfg, generator, torch.device(device), progress, desc)


def _train(
    net: nn.Module,
    source: VideoSource,
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
                    check_label_range(y, source.declared_classes, source.name)
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
    source = data if isinstance(data, VideoSource) else VideoSource(data, "test_data")
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

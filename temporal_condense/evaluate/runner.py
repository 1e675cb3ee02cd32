"""``evaluate`` and ``evaluate_pool``: train fresh networks on a training set, test them on real clips."""

from __future__ import annotations

import inspect
import logging
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from temporal_condense._checks import check_int, config_or_arguments
from temporal_condense.data.source import VideoSource, check_label_range
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.evaluate.metrics import Metric, topk_accuracy
from temporal_condense.evaluate.protocol import EvalConfig, _train, predict
from temporal_condense.evaluate.result import EvalResult
from temporal_condense.models import ModelFactory, make_model, model_name
from temporal_condense.seeds import derive_seed

__all__ = ["DEFAULT_POOL", "ModelFactory", "evaluate", "evaluate_pool"]

logger = logging.getLogger(__name__)

DEFAULT_POOL: tuple[str, ...] = (
    "ConvNet3D",
    "VideoConvNetMean",
    "VideoConvNetMLP",
    "VideoConvNetGRU",
    "VideoConvNetLSTM",
)


def _resolve_classes(train: VideoSource, test: VideoSource, num_classes: int | None) -> int:
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


def _sources(
    synthetic: object, test_data: object, num_classes: int | None, crop: int
) -> tuple[VideoSource, VideoSource, int]:
    train = synthetic if isinstance(synthetic, VideoSource) else VideoSource(synthetic, "synthetic")
    test = test_data if isinstance(test_data, VideoSource) else VideoSource(test_data, "test_data")
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
            check_label_range(src.labels, k, src.name)
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
    config: EvalConfig | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
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
        config: All training/testing hyper-parameters as one :class:`EvalConfig` (``protocol``, ``epochs``,
            ``lr``, ``batch_size``, ``test_batch_size``, ``momentum``, ``weight_decay``, ``standardize``,
            ``test_passes``, ``crop``) instead of the separate arguments, which must then keep their defaults.
        model_kwargs: Architecture options for a named ``model`` (e.g. ``{"net_width": 16}``).

    Returns:
        An :class:`EvalResult` with per-run and aggregate top-1/top-5 accuracy (percent) and time per run.

    Raises:
        ShapeError: Wrong ranks, mismatched lengths or sample shapes, labels out of range.
        ConfigError: Bad hyper-parameters, a class without training samples, an unknown model.

    Shape:
        ``synthetic`` and ``test_data`` samples ``[T, C, H, W]`` (identical), labels ``[N]`` int.

    Example:
        >>> from torch import nn
        >>> def tiny(channels, num_classes, size, frames, seed):
        ...     torch.manual_seed(seed)
        ...     return nn.Sequential(nn.Flatten(), nn.Linear(frames * channels * size[0] * size[1], num_classes))
        >>> x = torch.rand(6, 2, 1, 3, 3); y = torch.tensor([0, 1, 2] * 2)
        >>> evaluate((x, y), (x, y), model=tiny, runs=1, epochs=2, progress=False).runs
        1
    """
    runs = check_int(runs, "runs")
    seed = check_int(seed, "seed", minimum=0)
    arguments = {
        "protocol": protocol,
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "test_batch_size": test_batch_size,
        "momentum": momentum,
        "weight_decay": weight_decay,
        "standardize": standardize,
        "test_passes": test_passes,
        "crop": crop,
    }
    cfg = config_or_arguments(EvalConfig, config, arguments, _EVALUATE_DEFAULTS, "evaluate")
    train, test, k = _sources(synthetic, test_data, num_classes, cfg.crop)
    extra = dict(metrics or {})
    for key, fn in extra.items():
        if not isinstance(key, str) or not callable(fn):
            raise ConfigError(f"metrics must map names to callables, got {key!r}: {type(fn).__name__}")
    return _evaluate(train, test, k, model, runs, seed, cfg, progress, torch.device(device), extra, model_kwargs)


_EVALUATE_DEFAULTS: dict[str, Any] = {
    name: p.default for name, p in inspect.signature(evaluate).parameters.items() if name in EvalConfig.model_fields
}


def _evaluate(
    train: VideoSource,
    test: VideoSource,
    num_classes: int,
    model: str | ModelFactory,
    runs: int,
    seed: int,
    cfg: EvalConfig,
    progress: bool,
    device: torch.device,
    extra: dict[str, Metric],
    model_kwargs: Mapping[str, Any] | None = None,
) -> EvalResult:
    shape = train.sample_shape
    frames = int(shape[0]) if len(shape) == 4 else None
    channels = int(shape[-3])
    size = (int(shape[-2]) - 2 * cfg.crop, int(shape[-1]) - 2 * cfg.crop)
    name = model_name(model)
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
                torch.manual_seed(derive_seed(seed, "eval", r, "global"))
                random.seed(derive_seed(seed, "eval", r, "python"))
                net = make_model(
                    model,
                    channels=channels,
                    num_classes=num_classes,
                    size=size,
                    frames=frames,
                    seed=derive_seed(seed, "eval", r, "model"),
                    model_kwargs=model_kwargs,
                )
                gen = torch.Generator().manual_seed(derive_seed(seed, "eval", r, "order"))
                lrs, acc = _train(net, train, cfg, gen, device, progress, f"{name} run {r + 1}/{runs}")
                logits, labels = predict(net, test, config=cfg, device=device)
        finally:
            random.setstate(py_state)
        check_label_range(labels, num_classes, test.name)
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
        >>> from torch import nn
        >>> def tiny(channels, num_classes, size, frames, seed):
        ...     torch.manual_seed(seed)
        ...     return nn.Sequential(nn.Flatten(), nn.Linear(frames * channels * size[0] * size[1], num_classes))
        >>> x = torch.rand(4, 2, 1, 3, 3); y = torch.tensor([0, 1] * 2)
        >>> list(evaluate_pool((x, y), (x, y), models=[tiny], runs=1, epochs=1, progress=False))
        ['tiny']
    """
    if "model" in kwargs:
        raise ConfigError("evaluate_pool takes models=..., not model=...")
    if isinstance(models, str) or not isinstance(models, Sequence) or len(models) == 0:
        raise ConfigError(f"models must be a non-empty sequence of model names, got {models!r}")
    names = [model_name(m) for m in models]
    if len(set(names)) != len(names):
        raise ConfigError(f"models must have distinct names, got {names}")
    out: dict[str, EvalResult] = {}
    for m in models:
        out[model_name(m)] = evaluate(synthetic, test_data, model=m, **kwargs)
    return out

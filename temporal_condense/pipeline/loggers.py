"""Metrics loggers for :func:`~temporal_condense.pipeline.run_pipeline`'s ``log=`` (optional dependencies).

A logger is any callable ``log(metrics: dict[str, float], step=int)``, the signature of ``wandb.log``:

* Weights & Biases: ``run_pipeline(cfg, out, log=wandb.log)`` (after ``wandb.init(...)``);
* TensorBoard: ``run_pipeline(cfg, out, log=tensorboard_logger("runs/tb"))`` (needs ``pip install tensorboard``);
* anything else: ``log=lambda metrics, step: print(step, metrics)``.

Example:
    >>> class Writer:  # stands in for torch.utils.tensorboard.SummaryWriter
    ...     def add_scalar(self, tag, value, step): print(tag, value, step)
    ...     def flush(self): pass
    >>> log = tensorboard_logger(writer=Writer())
    >>> log({"stage2/loss": 0.5}, step=3)
    stage2/loss 0.5 3
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from temporal_condense.errors import ConfigError

__all__ = ["tensorboard_logger"]


def tensorboard_logger(log_dir: str | os.PathLike[str] | None = None, *, writer: Any = None) -> Callable[..., None]:
    """A ``log(metrics, step=)`` callable writing scalars with TensorBoard's ``SummaryWriter``.

    Args:
        log_dir: Event folder for a new ``torch.utils.tensorboard.SummaryWriter``.
        writer: An existing writer (anything with ``add_scalar(tag, value, step)``) instead of ``log_dir``.

    Returns:
        The logger; every call writes one scalar per metric and flushes.

    Raises:
        ConfigError: Neither or both of ``log_dir`` and ``writer``, or TensorBoard is not installed.
    """
    if (log_dir is None) == (writer is None):
        raise ConfigError("tensorboard_logger needs exactly one of log_dir and writer")
    if writer is None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # tensorboard is an optional dependency
            raise ConfigError(
                f"tensorboard_logger needs TensorBoard: pip install tensorboard (or temporal-condense[tensorboard]); "
                f"{exc}"
            ) from None
        writer = SummaryWriter(log_dir=str(log_dir))

    def log(metrics: Mapping[str, float], step: int | None = None) -> None:
        for tag, value in metrics.items():
            writer.add_scalar(tag, float(value), step)
        flush = getattr(writer, "flush", None)
        if callable(flush):
            flush()

    return log

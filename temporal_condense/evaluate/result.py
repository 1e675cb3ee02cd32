"""The result of an evaluation: per-run accuracies and their aggregates."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["EvalResult"]


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

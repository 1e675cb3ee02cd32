"""What a run produced: :class:`PipelineResult`, the preview videos and the result tables."""

from __future__ import annotations

import csv
import io
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import torch
from torch import nn

from temporal_condense.errors import ConfigError
from temporal_condense.io import load_artifact, save_artifact
from temporal_condense.pipeline.config import write_json, write_text

__all__ = [
    "PREVIEW_KIND",
    "TABLE_COLUMNS",
    "PipelineResult",
    "format_table",
    "load_preview",
    "pool_results",
    "write_table",
]


@dataclass
class PipelineResult:
    """What one run produced (also written as ``result.json``).

    Attributes:
        name: The config's name (the method).
        kind: The synthetic set's kind.
        method: Stage-2 method.
        top1: Per-run top-1 test accuracy (percent).
        top5: Per-run top-5 test accuracy (percent).
        motion: Per-run accuracy among the classes that share the true class's appearance (percent; only
            for datasets with ``class_appearance``, e.g. MovingShapes), else empty.
        storage_bytes: Bytes to keep to reproduce the training set (parameters in their dtype).
        stage1_seconds: Stage-1 time (also when its result was reused from a file that records it).
        stage2_seconds: Stage-2 time (summed over resumed sessions).
        experts_seconds: Expert training time of this call (0 when the experts existed).
        eval_seconds: Evaluation time.
        iterations: Stage-2 iterations done.
        losses: Stage-2 loss per iteration.
        out_dir: Output folder.
        split: What the accuracies were measured on: ``"test"``, or ``"validation"`` clips held out of the
            training split (tuning runs, ``data.validation_per_class``).
        render_std_ratio: Std of the rendered training videos over the std of the real training clips (a
            set whose render drifts far from 1 is swamped by one of its parts; stage 2 warns beyond 3x).
    """

    name: str
    kind: str
    method: str
    top1: list[float]
    top5: list[float]
    motion: list[float]
    storage_bytes: int
    stage1_seconds: float = 0.0
    stage2_seconds: float = 0.0
    experts_seconds: float = 0.0
    eval_seconds: float = 0.0
    iterations: int = 0
    losses: list[float] = field(default_factory=list)
    out_dir: str = ""
    split: str = "test"
    render_std_ratio: float | None = None

    @property
    def mean(self) -> float:
        """Mean top-1 (percent)."""
        return statistics.fmean(self.top1)

    @property
    def std(self) -> float:
        """Population std of top-1 over runs (as the published code reports)."""
        return statistics.pstdev(self.top1)

    @property
    def motion_mean(self) -> float:
        """Mean motion accuracy (percent); NaN when not available."""
        return statistics.fmean(self.motion) if self.motion else math.nan

    @property
    def motion_std(self) -> float:
        """Population std of the motion accuracy; NaN when not available."""
        return statistics.pstdev(self.motion) if self.motion else math.nan

    @property
    def distill_seconds(self) -> float:
        """Stage 1 + stage 2 time (expert training not included)."""
        return self.stage1_seconds + self.stage2_seconds

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable summary including the aggregates."""
        out = asdict(self)
        out.update(
            mean=self.mean,
            std=self.std,
            motion_mean=None if not self.motion else self.motion_mean,
            motion_std=None if not self.motion else self.motion_std,
            distill_seconds=self.distill_seconds,
        )
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineResult:
        """Inverse of :meth:`to_dict`."""
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in names})


def pool_results(results: Sequence[PipelineResult]) -> PipelineResult:
    """One row's results over several draws (runs of the same method with other seeds) as one result.

    With one clip per class, which real clips, statics and students a seed draws moves a row by more than the
    spread of its evaluation runs; pooling the runs of several draws gives a mean and std that include the draw.
    The per-run lists (``top1``, ``top5``, ``motion``) are concatenated in order and the times summed;
    ``render_std_ratio`` is the mean over the draws (``None`` if any lacks it), ``iterations`` the first
    draw's, ``losses`` empty (each draw's curve stays in its own folder), ``out_dir`` the folders' common
    parent.

    Args:
        results: The same row (name, kind, method, split and storage) from each draw.

    Raises:
        ConfigError: ``results`` is empty or its entries are not the same row.

    Example:
        >>> a = PipelineResult("DM", "baseline", "DM", [40.0, 42.0], [90.0, 90.0], [], 100)
        >>> b = PipelineResult("DM", "baseline", "DM", [30.0, 32.0], [80.0, 80.0], [], 100)
        >>> pooled = pool_results([a, b])
        >>> pooled.top1, pooled.mean
        ([40.0, 42.0, 30.0, 32.0], 36.0)
    """
    if not results:
        raise ConfigError("results must hold at least one PipelineResult, got none")
    first = results[0]
    for i, r in enumerate(results[1:], start=1):
        for name in ("name", "kind", "method", "split", "storage_bytes"):
            if getattr(r, name) != getattr(first, name):
                raise ConfigError(
                    f"results must be the same row from each draw: results[{i}].{name} is "
                    f"{getattr(r, name)!r}, results[0].{name} is {getattr(first, name)!r}"
                )
        if bool(r.motion) != bool(first.motion):
            raise ConfigError(f"results must all have motion accuracies or none; results[{i}] differs from results[0]")
    ratios = [r.render_std_ratio for r in results]
    return PipelineResult(
        name=first.name,
        kind=first.kind,
        method=first.method,
        top1=[a for r in results for a in r.top1],
        top5=[a for r in results for a in r.top5],
        motion=[a for r in results for a in r.motion],
        storage_bytes=first.storage_bytes,
        stage1_seconds=sum(r.stage1_seconds for r in results),
        stage2_seconds=sum(r.stage2_seconds for r in results),
        experts_seconds=sum(r.experts_seconds for r in results),
        eval_seconds=sum(r.eval_seconds for r in results),
        iterations=first.iterations,
        out_dir=os.path.commonpath([r.out_dir for r in results]) if all(r.out_dir for r in results) else "",
        split=first.split,
        render_std_ratio=None if any(x is None for x in ratios) else statistics.fmean(cast(list[float], ratios)),
    )


PREVIEW_KIND = "PipelinePreview"


def save_preview(
    train_set: Any,
    num_classes: int,
    path: Path,
    seed: int,
    pixel_mean: torch.Tensor | None = None,
    pixel_std: torch.Tensor | None = None,
) -> Path:
    """Save the first training video of every class (rendered once, without hooks) for pictures.

    With ``pixel_mean``/``pixel_std`` (standardized runs) the videos are mapped back to the data's pixel
    space (``x * std + mean``, clipped to [0, 1]) so that pictures show what a person would see.
    """
    if isinstance(train_set, nn.Module):
        videos, labels = cast(Any, train_set).export(generator=torch.Generator().manual_seed(seed))
    else:
        videos, labels = train_set
    first = torch.stack([(labels == c).nonzero().flatten()[0] for c in range(num_classes)])
    videos = videos[first]
    if pixel_mean is not None and pixel_std is not None:
        shape = (1, 1, -1, 1, 1)
        videos = (videos * pixel_std.view(shape) + pixel_mean.view(shape)).clamp(0.0, 1.0)
    return save_artifact(path, {"videos": videos.contiguous(), "labels": labels[first]}, kind=PREVIEW_KIND)


def load_preview(out_dir: str | os.PathLike[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(videos [K, T, C, H, W], labels [K])`` preview (one video per class, in the data's pixel space)."""
    tensors, _ = load_artifact(Path(out_dir) / "preview.safetensors", kind=PREVIEW_KIND)
    return tensors["videos"], tensors["labels"]


TABLE_COLUMNS: tuple[str, ...] = (
    "method",
    "top-1 (%)",
    "motion (%)",
    "storage (KB)",
    "storage vs DM",
    "distill (s)",
    "eval runs",
)


def _rows(results: Sequence[PipelineResult], reference: str = "DM") -> list[list[str]]:
    ref = next((r.storage_bytes for r in results if r.name == reference), None)
    rows = []
    for r in results:
        motion = "n/a" if not r.motion else f"{r.motion_mean:.1f} ± {r.motion_std:.1f}"
        ratio = "" if ref is None else f"{100.0 * r.storage_bytes / ref:.0f}%"
        distill = "-" if r.kind in ("random_real", "full_data") else f"{r.distill_seconds:.1f}"
        rows.append(
            [
                r.name,
                f"{r.mean:.1f} ± {r.std:.1f}",
                motion,
                f"{r.storage_bytes / 1024:.1f}",
                ratio,
                distill,
                str(len(r.top1)),
            ]
        )
    return rows


def format_table(results: Sequence[PipelineResult], fmt: Literal["markdown", "csv", "text"] = "markdown") -> str:
    """Format results as one row per method.

    Columns: method, top-1 mean ± std, motion accuracy (among classes with the same appearance), storage in
    KB, storage relative to the ``"DM"`` row, distillation time (stage 1 + stage 2; experts excluded) and
    the number of evaluation runs.

    Args:
        results: Rows, in order.
        fmt: ``"markdown"``, ``"csv"`` or ``"text"`` (aligned plain text for a terminal).

    Returns:
        The table as a string.

    Example:
        >>> r = PipelineResult("DM", "baseline", "DM", [50.0, 60.0], [90.0, 90.0], [], 2048)
        >>> print(format_table([r], "csv").splitlines()[1])
        DM,55.0 ± 5.0,n/a,2.0,100%,0.0,2
    """
    rows = _rows(results)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(TABLE_COLUMNS)
        writer.writerows(rows)
        return buf.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "|".join("---" for _ in TABLE_COLUMNS) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    if fmt == "text":
        widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(TABLE_COLUMNS)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(TABLE_COLUMNS, widths, strict=True))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
        return "\n".join(lines) + "\n"
    raise ConfigError(f"fmt must be one of ('markdown', 'csv', 'text'), got {fmt!r}")


def write_table(results: Sequence[PipelineResult], out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``results.csv``, ``results.md`` and ``results.json`` into ``out_dir`` (atomically)."""
    out = Path(out_dir)
    paths = {}
    for fmt, name in (("csv", "results.csv"), ("markdown", "results.md")):
        paths[fmt] = write_text(out / name, format_table(results, fmt))  # type: ignore[arg-type]
    paths["json"] = write_json(out / "results.json", [r.to_dict() for r in results])
    return paths

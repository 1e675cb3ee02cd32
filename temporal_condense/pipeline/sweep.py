"""Sweeps: one configuration over a grid of settings, on clips held out of the training split, every setting kept.

Honest tuning chooses hyper-parameters on validation clips carved from the training data, never on the test
split, and records every setting tried. :func:`run_sweep` does both: it refuses a configuration that evaluates on
the test split (unless told otherwise), runs every point of the grid into its own folder with
:func:`~temporal_condense.pipeline.run_pipeline` (so a killed sweep resumes, and a finished point is read
back, not recomputed), and after every point rewrites ``sweep.json`` and ``sweep.md`` (atomically) with
every setting tried so far and its result.

Grid keys are dotted paths into the configuration (``"distill.lr.videos"``, ``"static.iterations"``,
``"seed"``); every combination of their values is one point, the first key varying slowest.

Example:
    >>> grid_points({"distill.iterations": [50, 100], "distill.lr.videos": [10.0, 100.0]})[1]
    {'distill.iterations': 50, 'distill.lr.videos': 100.0}
    >>> apply_point(PipelineConfig(), {"distill.lr.videos": 10.0}).distill.lr["videos"]
    10.0
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporal_condense.errors import ConfigError
from temporal_condense.pipeline.config import PipelineConfig, write_json, write_text
from temporal_condense.pipeline.report import PipelineResult
from temporal_condense.pipeline.run import run_pipeline

__all__ = ["SweepRow", "apply_point", "format_sweep", "grid_points", "point_folder", "run_sweep"]


@dataclass(frozen=True)
class SweepRow:
    """One point of a sweep: its settings, its run folder (below the sweep's) and its result."""

    point: dict[str, Any]
    folder: str
    result: PipelineResult

    def to_dict(self) -> dict[str, Any]:
        """The record ``sweep.json`` keeps: the point, its folder, the headline figures and the whole result."""
        r = self.result
        return {
            "point": self.point,
            "folder": self.folder,
            "split": r.split,
            "top1_mean": r.mean,
            "top1_std": r.std,
            "motion_mean": r.motion_mean if r.motion else None,
            "storage_bytes": r.storage_bytes,
            "result": r.to_dict(),
        }


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values (the first key varies slowest).

    Args:
        grid: ``{dotted key: [values]}``, at least one key, each with at least one value.

    Returns:
        The points, each ``{dotted key: value}``.

    Raises:
        ConfigError: An empty grid, a key that is not a dotted name, a key inside another key, values that are
            not a non-empty list.
    """
    if not isinstance(grid, Mapping) or not grid:
        raise ConfigError(f"grid must be a non-empty mapping {{dotted key: [values]}}, got {grid!r}")
    for key, values in grid.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", key):
            raise ConfigError(f"grid keys must be dotted names such as 'distill.lr.videos', got {key!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ConfigError(f"grid[{key!r}] must be a non-empty list of values, got {values!r}")
    keys = list(grid)
    for key in keys:
        inner = [other for other in keys if other.startswith(key + ".")]
        if inner:
            raise ConfigError(f"grid sets {key!r} and, inside it, {inner[0]!r}: give one of them")
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def apply_point(config: PipelineConfig, point: Mapping[str, Any]) -> PipelineConfig:
    """``config`` with every dotted key of ``point`` set (nested sections merged, the rest kept).

    Raises:
        ConfigError: A key the configuration does not have, or a value it refuses (the message names both).
    """
    changes: dict[str, Any] = {}
    for key, value in point.items():
        *parents, leaf = key.split(".")
        node = changes
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    try:
        return config.replace(**changes)
    except ConfigError as exc:
        raise ConfigError(f"sweep point {dict(point)!r}: {exc}") from None


def point_folder(point: Mapping[str, Any]) -> str:
    """A readable, stable folder name for ``point``: its settings, then 8 hex digits of their hash.

    Example:
        >>> point_folder({"distill.lr.videos": 10.0})
        'lr.videos=10.0-d91476e2'
    """
    text = json.dumps(dict(point), sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    readable = "_".join(f"{key.split('.', 1)[-1]}={value}" for key, value in point.items())
    readable = re.sub(r"[^A-Za-z0-9._=+-]+", "-", readable)[:80]
    return f"{readable}-{digest}"


def format_sweep(rows: Sequence[SweepRow]) -> str:
    """A markdown table of the sweep: one row per point, in grid order, the best top-1 marked.

    Example:
        >>> r = PipelineResult("dm", "baseline", "DM", [50.0, 60.0], [90.0, 90.0], [], 2048, split="validation")
        >>> print(format_sweep([SweepRow({"distill.iterations": 50}, "f", r)]).splitlines()[2])
        | distill.iterations=50 | 55.0 ± 5.0 | n/a | 2.0 | validation | best |
    """
    best = max(range(len(rows)), key=lambda i: rows[i].result.mean) if rows else -1
    lines = [
        "| setting | top-1 (%) | motion (%) | storage (KB) | split | |",
        "|---|---|---|---|---|---|",
    ]
    for i, row in enumerate(rows):
        r = row.result
        setting = "; ".join(f"{key}={value}" for key, value in row.point.items())
        motion = f"{r.motion_mean:.1f}" if r.motion else "n/a"
        mark = "best" if i == best else ""
        lines.append(
            f"| {setting} | {r.mean:.1f} ± {r.std:.1f} | {motion} | {r.storage_bytes / 1024:.1f} | {r.split} | {mark} |"
        )
    return "\n".join(lines) + "\n"


def run_sweep(
    config: PipelineConfig | Mapping[str, Any] | str | os.PathLike[str],
    grid: Mapping[str, Sequence[Any]],
    out_dir: str | os.PathLike[str],
    *,
    progress: bool = True,
    allow_test: bool = False,
    data: object = None,
    log_line: Callable[[str], None] | None = None,
) -> list[SweepRow]:
    """Run ``config`` at every point of ``grid`` into ``out_dir/<point_folder>``, recording every setting tried.

    Every point's configuration is built and checked before the first run. After each point, ``sweep.json``
    (the base configuration, the grid and every finished point with its result) and ``sweep.md`` (the table of
    :func:`format_sweep`) are rewritten atomically. Re-running resumes: finished points are read back. A point's
    folder depends on the point only, so another base configuration belongs in another ``out_dir`` (``run_pipeline``
    refuses to replace a finished stage of other inputs).

    Args:
        config: The base configuration (as :func:`~temporal_condense.pipeline.run_pipeline` takes it). It must
            hold validation clips out of the training split (``data.validation_per_class > 0``): a sweep
            chooses settings, and settings chosen on the test split overstate what they give.
        grid: ``{dotted key: [values]}`` (:func:`grid_points`).
        out_dir: The sweep's folder.
        progress: Progress bars of each run.
        allow_test: Sweep on the test split anyway (for a study that reports every point, not to choose one).
        data: Your own clips, for ``data.dataset: custom`` (as in ``run_pipeline``).
        log_line: Called with one line per finished point (e.g. ``print``).

    Returns:
        One :class:`SweepRow` per point, in grid order.

    Raises:
        ConfigError: A bad grid or point, or a point that evaluates on the test split without ``allow_test``
            (nothing is run); any error of ``run_pipeline``.
    """
    base = PipelineConfig.coerce(config)
    points = grid_points(grid)
    configs = [apply_point(base, point) for point in points]
    for point, cfg in zip(points, configs):
        if cfg.data.validation_per_class == 0 and not allow_test:
            raise ConfigError(
                f"sweep tunes on clips held out of the training split: data.validation_per_class must be > 0 "
                f"(e.g. 20), got 0 at point {point!r}; pass allow_test=True to sweep on the test split anyway"
            )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[SweepRow] = []
    for point, cfg in zip(points, configs):
        folder = point_folder(point)
        result = run_pipeline(cfg, out / folder, progress=progress, data=data)
        rows.append(SweepRow(point, folder, result))
        record = {
            "base": base.model_dump(mode="json"),
            "grid": {key: list(values) for key, values in grid.items()},
            "points": [row.to_dict() for row in rows],
        }
        write_json(out / "sweep.json", record)
        write_text(out / "sweep.md", format_sweep(rows))
        if log_line is not None:
            motion = f", motion {result.motion_mean:.1f} %" if result.motion else ""
            log_line(f"{folder}: top-1 {result.mean:.1f} ± {result.std:.1f} % ({result.split}{motion})")
    return rows

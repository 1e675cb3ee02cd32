"""``run_pipeline``: stage 1 -> stage 2 -> evaluation into a folder, resuming whatever is already there."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from temporal_condense.errors import ConfigError
from temporal_condense.evaluate import evaluate, group_accuracy
from temporal_condense.models import get_model
from temporal_condense.pipeline.config import PipelineConfig, write_json
from temporal_condense.pipeline.data import RealData, load_data
from temporal_condense.pipeline.guard import (
    check_buildable,
    check_folder,
    claim_folder,
    discard_checkpoint,
    plan_existing,
    read_result_record,
    stage_keys,
)
from temporal_condense.pipeline.report import PipelineResult, save_preview
from temporal_condense.pipeline.stages import (
    buffer_trajectories,
    build_training_set,
    check_render_scale,
    check_trajectories,
    make_optimizer,
    stage1,
    stage2,
    student_set,
)
from temporal_condense.seeds import derive_seed
from temporal_condense.static import StaticMemory

__all__ = ["Logger", "run_pipeline"]

Logger = Callable[..., Any]
"""``log(metrics: dict[str, float], step=int)``: the signature of ``wandb.log`` (see :func:`run_pipeline`)."""


def _fingerprint(data: RealData) -> str:
    """SHA-256 of the real clips and labels (a run folder must not silently mix two datasets)."""
    digest = hashlib.sha256()
    for t in (data.train_x, data.train_y, data.test_x, data.test_y):
        digest.update(str((tuple(t.shape), str(t.dtype))).encode())
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _check_data(out: Path, data: RealData) -> bool:
    """Refuse a folder whose earlier run used other data; ``True`` when ``data.json`` must still be written."""
    path = out / "data.json"
    if not path.is_file():
        return True
    try:
        previous = json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{str(path)!r} must be a JSON file written by the pipeline, got: {exc}") from None
    if previous != _fingerprint(data):
        raise ConfigError(
            f"out_dir {str(out)!r} holds a run on other data (fingerprint {previous!r}, this data "
            f"{_fingerprint(data)!r}); use a new out_dir or delete the old run"
        )
    return False


def _write_data_record(out: Path, data: RealData) -> None:
    shapes = {"train": list(data.train_x.shape), "test": list(data.test_x.shape)}
    write_json(out / "data.json", {"fingerprint": _fingerprint(data), **shapes})


def _preflight(cfg: PipelineConfig, data: RealData) -> None:
    """Build, without training, everything the run will build: networks, the training set, its optimizer."""
    check_buildable(cfg, data.channels, data.num_classes, data.size, data.frames)
    memory = None
    if cfg.synthetic.kind in ("static_dynamic", "static_only") and cfg.static.method != "none":
        spc = cfg.static.static_per_class
        memory = StaticMemory(torch.zeros(data.num_classes * spc, data.channels, *data.size), data.num_classes, spc)
    if cfg.synthetic.kind in ("kcenter", "herding"):
        return  # a coreset is real clips: its embedding network is checked by check_buildable
    train_set, _ = build_training_set(cfg, data, memory)
    if isinstance(train_set, nn.Module) and cfg.distill.method != "none":
        make_optimizer(cfg, train_set)
    if cfg.distill.method == "MTT" and cfg.distill.mtt.buffer_path is not None:
        student = get_model(
            cfg.distill.model,
            channels=data.channels,
            num_classes=data.num_classes,
            size=data.size,
            frames=data.frames // cfg.distill.segments,
            device="meta",
            **cfg.distill.model_kwargs,
        )
        check_trajectories(cfg, buffer_trajectories(cfg), sum(p.numel() for p in student.parameters()))


def run_pipeline(
    config: PipelineConfig | dict[str, Any] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    progress: bool = True,
    *,
    callback: Callable[[int, float], None] | None = None,
    log: Logger | None = None,
    data: object = None,
) -> PipelineResult:
    """Run stage 1 -> stage 2 -> evaluation into ``out_dir``, resuming whatever is already there.

    Re-running with the same ``out_dir`` continues after a kill: the stage-1 memory and the experts are
    reused, stage 2 restarts from its last checkpoint (same numbers as an uninterrupted run), and a finished
    run returns its saved ``result.json`` without recomputing. Each stage is keyed by the part of the
    configuration it depends on (see :mod:`temporal_condense.pipeline.guard`): a re-run with another
    configuration reuses the finished stages whose inputs are unchanged, restarts an unfinished stage 2, and
    refuses to replace a finished stage of other inputs. A folder holding files the pipeline did not write is
    refused before anything is written.

    Args:
        config: A :class:`PipelineConfig`, a mapping, or the path of a YAML file.
        out_dir: Output folder (created).
        progress: Show tqdm progress bars.
        callback: Called as ``callback(iterations_done, loss)`` after every stage-2 iteration (after the
            checkpoint of that iteration, if any).
        log: A metrics logger called as ``log({name: value}, step=step)``: ``stage2/loss`` every stage-2
            iteration, then ``stage1/seconds``, ``stage2/seconds``, ``eval/top1``, ``eval/top1_std``,
            ``eval/top5`` (and ``eval/motion``) once. ``log=wandb.log`` attaches Weights & Biases;
            :func:`~temporal_condense.pipeline.tensorboard_logger` TensorBoard. Optional dependencies.
        data: Your own clips for ``data.dataset: custom``: ``(train, test)`` or ``{"train": ..., "test": ...}``,
            each a ``(videos [N, T, C, H, W], labels [N])`` pair or a map-style Dataset of ``(video, label)``.
            Stage 1's single frames are drawn from the training clips. The data's fingerprint is kept in
            ``data.json``: resuming the folder with other data is refused.

    Returns:
        The :class:`PipelineResult`.

    Raises:
        ConfigError: Invalid configuration (models, data options, cross-field rules, non-finite numbers: all
            checked before anything is written), ``out_dir`` holds files this pipeline did not write (named;
            nothing is written), a finished stage of another configuration, damaged records, or a run on
            other data.

    Example:
        >>> import tempfile, torch
        >>> cfg = PipelineConfig(
        ...     data={"dataset": "custom"}, static={"method": "none"}, synthetic={"kind": "random_real"},
        ...     distill={"method": "none"},
        ...     evaluation={"model": "VideoConvNetMean", "model_kwargs": {"net_width": 8}, "runs": 1, "epochs": 1})
        >>> videos, labels = torch.rand(8, 4, 3, 16, 16), torch.arange(8) % 2
        >>> res = run_pipeline(cfg, tempfile.mkdtemp(), progress=False, data=((videos, labels), (videos, labels)))
        >>> len(res.top1)
        1
    """
    cfg = PipelineConfig.coerce(config)
    out = Path(out_dir)
    # Nothing is written until the whole configuration, the data and whatever an earlier run left are validated.
    check_folder(out)
    plan = plan_existing(cfg, out) if out.is_dir() else {"discard_checkpoint": False}
    real = None
    if cfg.data.dataset == "custom":  # the caller's data: check it before a finished run is returned
        real = load_data(cfg.data, progress, data, seed=cfg.seed)
        _check_data(out, real)
    result_path = out / "result.json"
    result_key = stage_keys(cfg)["result"]
    if result_path.is_file():
        record = read_result_record(result_path)
        if record.config == result_key:
            try:
                return PipelineResult.from_dict(record.result)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{str(result_path)!r} is damaged: {exc}") from None
    if real is None:
        real = load_data(cfg.data, progress, data, seed=cfg.seed)
    new_data = _check_data(out, real)
    _preflight(cfg, real)

    claim_folder(out)
    if plan["discard_checkpoint"]:
        discard_checkpoint(out)
    if new_data:
        _write_data_record(out, real)
    cfg.save_yaml(out / "config.yaml")
    memory, stage1_s = (None, 0.0)
    if cfg.synthetic.kind in ("static_dynamic", "static_only"):
        memory, stage1_s = stage1(cfg, real, out, progress)
    train_set, storage = build_training_set(cfg, real, memory)
    losses: list[float] = []
    stage2_s = experts_s = 0.0
    if isinstance(train_set, nn.Module) and cfg.distill.method != "none":
        step_callback = callback
        if log is not None:

            def step_callback(it: int, loss: float) -> None:
                log({"stage2/loss": loss}, step=it)
                if callback is not None:
                    callback(it, loss)

        losses, stage2_s, experts_s = stage2(cfg, real, train_set, out, progress, step_callback)
    ratio = None
    if isinstance(train_set, nn.Module):
        cast(Any, train_set).save(out / "synthetic_set.safetensors")
        ratio = check_render_scale(train_set, real, cfg, len(losses))
    save_preview(
        train_set,
        real.num_classes,
        out / "preview.safetensors",
        derive_seed(cfg.seed, "preview"),
        real.pixel_mean,
        real.pixel_std,
    )

    ev = cfg.evaluation
    metrics: dict[str, Callable[[torch.Tensor, torch.Tensor], float]] = {}
    appearance = real.appearance
    if appearance is not None:  # accuracy among the classes that share the true class's appearance

        def motion(logits: torch.Tensor, labels: torch.Tensor) -> float:
            return 100.0 * group_accuracy(logits, labels, cast(torch.Tensor, appearance))

        metrics["motion"] = motion
    t0 = time.perf_counter()
    res = evaluate(
        student_set(cfg, train_set),
        (real.test_x, real.test_y),
        model=ev.model,
        model_kwargs=ev.model_kwargs,
        runs=ev.runs,
        seed=derive_seed(cfg.seed, "eval"),
        progress=progress,
        num_classes=real.num_classes,
        config=ev.library_config(),
        metrics=metrics,
    )
    motion_acc = list(res.metrics.get("motion", ()))
    eval_s = time.perf_counter() - t0
    result = PipelineResult(
        name=cfg.name,
        kind=cfg.synthetic.kind,
        method=cfg.distill.method,
        top1=list(res.top1),
        top5=list(res.top5),
        motion=motion_acc,
        storage_bytes=int(storage),
        stage1_seconds=stage1_s,
        stage2_seconds=stage2_s,
        experts_seconds=experts_s,
        eval_seconds=eval_s,
        iterations=len(losses),
        losses=losses,
        out_dir=str(out),
        split=real.split,
        render_std_ratio=ratio,
    )
    write_json(result_path, {"config": result_key, "result": result.to_dict()})
    if log is not None:
        summary = {
            "stage1/seconds": stage1_s,
            "stage2/seconds": stage2_s,
            "eval/top1": result.mean,
            "eval/top1_std": result.std,
            "eval/top5": sum(result.top5) / len(result.top5),
        }
        if result.motion:
            summary["eval/motion"] = result.motion_mean
        log(summary, step=len(losses))
    return result

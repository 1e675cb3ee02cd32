"""``run_pipeline``: stage 1 -> stage 2 -> evaluation into a folder, resuming whatever is already there."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.evaluate import EvalConfig, evaluate, group_accuracy, predict
from temporal_condense.models import get_model
from temporal_condense.pipeline.config import PipelineConfig, _config_digest, _write_json
from temporal_condense.pipeline.data import _Data, _load_data
from temporal_condense.pipeline.guard import (
    check_buildable,
    check_folder,
    claim_folder,
    discard_checkpoint,
    plan_existing,
    read_result_record,
)
from temporal_condense.pipeline.report import PipelineResult, _save_preview
from temporal_condense.pipeline.stages import (
    _build_set,
    _make_optimizer,
    _stage1,
    _stage2,
    buffer_trajectories,
    check_trajectories,
)
from temporal_condense.seeds import derive_seed
from temporal_condense.static import StaticMemory

__all__ = ["run_pipeline"]


def _model_factory(name: str, kwargs: dict[str, Any], built: list[nn.Module] | None = None) -> Callable[..., nn.Module]:
    """A factory for ``evaluate`` (keyword call) that can record the networks it builds."""

    def factory(*, channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
        net = get_model(name, channels=channels, num_classes=num_classes, size=size, frames=frames, seed=seed, **kwargs)
        if built is not None:
            built.append(net)
        return net

    factory.__name__ = name
    factory.__qualname__ = name
    return factory


def _motion_accuracy(nets: Sequence[nn.Module], data: _Data, cfg: PipelineConfig) -> list[float]:
    """Per-network accuracy among the classes that share the true class's appearance (percent)."""
    if data.appearance is None:
        return []
    ev = cfg.evaluation
    ecfg = EvalConfig(protocol=ev.protocol, epochs=ev.epochs, lr=ev.lr, batch_size=ev.batch_size)
    out = []
    for net in nets:
        logits, labels = predict(net, (data.test_x, data.test_y), config=ecfg)
        out.append(100.0 * group_accuracy(logits, labels, data.appearance))
    return out


def _preflight(cfg: PipelineConfig, data: _Data) -> None:
    """Build, without training, everything the run will build: networks, the training set, its optimizer."""
    check_buildable(cfg, data.channels, data.num_classes, data.size, data.frames)
    memory = None
    if cfg.synthetic.kind in ("static_dynamic", "static_only") and cfg.static.method != "none":
        spc = cfg.static.static_per_class
        images = torch.zeros(data.num_classes * spc, data.channels, *data.size)
        memory = StaticMemory(images, data.num_classes, spc)
    if cfg.synthetic.kind in ("kcenter", "herding"):
        return  # a coreset is real clips: its embedding network is checked by check_buildable
    train_set, _ = _build_set(cfg, data, memory)
    if isinstance(train_set, nn.Module) and cfg.distill.method != "none":
        _make_optimizer(cfg, train_set)
    if cfg.distill.method == "MTT" and cfg.distill.mtt.buffer_path is not None:
        student = get_model(
            cfg.distill.model,
            channels=data.channels,
            num_classes=data.num_classes,
            size=data.size,
            frames=data.frames,
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

    Returns:
        The :class:`PipelineResult`.

    Raises:
        ConfigError: Invalid configuration (models, data options, cross-field rules, non-finite numbers: all
            checked before anything is written), ``out_dir`` holds files this pipeline did not write (named;
            nothing is written), a finished stage of another configuration, or damaged records.

    Example:
        >>> # result = run_pipeline(PipelineConfig.load_yaml("configs/miniucf_dm_vpc1.yaml"), "runs/dm1")
        >>> # print(f"{result.mean:.1f} +- {result.std:.1f} %")
    """
    if isinstance(config, (str, os.PathLike)):
        cfg = PipelineConfig.load_yaml(config)
    elif isinstance(config, dict):
        cfg = PipelineConfig.from_dict(config)
    elif isinstance(config, PipelineConfig):
        cfg = config
    else:
        raise ConfigError(f"config must be a PipelineConfig, a mapping or a YAML path, got {type(config).__name__}")
    out = Path(out_dir)
    # Nothing is written until the whole configuration and whatever an earlier run left are validated.
    check_folder(out)
    plan = plan_existing(cfg, out) if out.is_dir() else {"discard_checkpoint": False}
    result_path = out / "result.json"
    if result_path.is_file():
        record = read_result_record(result_path)
        if record.config == _config_digest(cfg):
            try:
                return PipelineResult.from_dict(record.result)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{str(result_path)!r} is damaged: {exc}") from None

    data = _load_data(cfg.data, progress)
    if cfg.data.dataset == "MovingShapes" and cfg.data.frames != data.frames:  # pragma: no cover - sanity
        raise ShapeError(f"data.frames {cfg.data.frames} != generated {data.frames}")
    _preflight(cfg, data)

    claim_folder(out)
    if plan["discard_checkpoint"]:
        discard_checkpoint(out)
    cfg.save_yaml(out / "config.yaml")
    memory, stage1_s = (None, 0.0)
    if cfg.synthetic.kind in ("static_dynamic", "static_only"):
        memory, stage1_s = _stage1(cfg, data, out, progress)
    train_set, storage = _build_set(cfg, data, memory)
    losses: list[float] = []
    stage2_s = experts_s = 0.0
    if isinstance(train_set, nn.Module) and cfg.distill.method != "none":
        losses, stage2_s, experts_s = _stage2(cfg, data, train_set, out, progress, callback)
    if isinstance(train_set, nn.Module):
        cast(Any, train_set).save(out / "synthetic_set.safetensors")
    _save_preview(train_set, data.num_classes, out / "preview.safetensors", derive_seed(cfg.seed, "preview"))

    ev = cfg.evaluation
    nets: list[nn.Module] = []
    t0 = time.perf_counter()
    res = evaluate(
        train_set,
        (data.test_x, data.test_y),
        model=_model_factory(ev.model, ev.model_kwargs, nets),
        runs=ev.runs,
        epochs=ev.epochs,
        lr=ev.lr,
        batch_size=ev.batch_size,
        seed=derive_seed(cfg.seed, "eval"),
        protocol=ev.protocol,
        progress=progress,
        num_classes=data.num_classes,
    )
    motion = _motion_accuracy(nets, data, cfg)
    eval_s = time.perf_counter() - t0
    result = PipelineResult(
        name=cfg.name,
        kind=cfg.synthetic.kind,
        method=cfg.distill.method,
        top1=list(res.top1),
        top5=list(res.top5),
        motion=motion,
        storage_bytes=int(storage),
        stage1_seconds=stage1_s,
        stage2_seconds=stage2_s,
        experts_seconds=experts_s,
        eval_seconds=eval_s,
        iterations=len(losses),
        losses=losses,
        out_dir=str(out),
    )
    _write_json(result_path, {"config": _config_digest(cfg), "result": result.to_dict()})
    return result

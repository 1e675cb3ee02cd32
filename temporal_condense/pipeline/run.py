"""``run_pipeline``: stage 1 -> stage 2 -> evaluation into a folder, resuming whatever is already there."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from torch import nn

from temporal_condense.errors import ConfigError, ShapeError, TemporalCondenseError
from temporal_condense.evaluate import EvalConfig, evaluate, group_accuracy, predict
from temporal_condense.models import get_model
from temporal_condense.pipeline.config import PipelineConfig, _config_digest, _write_json
from temporal_condense.pipeline.data import _Data, _load_data
from temporal_condense.pipeline.report import PipelineResult, _save_preview
from temporal_condense.pipeline.stages import _build_set, _derive, _stage1, _stage2

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
    run returns its saved ``result.json`` without recomputing. A different configuration in the same folder
    is refused.

    Args:
        config: A :class:`PipelineConfig`, a mapping, or the path of a YAML file.
        out_dir: Output folder (created).
        progress: Show tqdm progress bars.
        callback: Called as ``callback(iterations_done, loss)`` after every stage-2 iteration (after the
            checkpoint of that iteration, if any).

    Returns:
        The :class:`PipelineResult`.

    Raises:
        ConfigError: Invalid configuration, or ``out_dir`` holds a run of another configuration.

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
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.yaml"
    if cfg_path.is_file():
        try:
            previous = PipelineConfig.load_yaml(cfg_path)
        except TemporalCondenseError:
            previous = None
        if previous is not None and previous != cfg:
            raise ConfigError(
                f"out_dir {str(out)!r} holds a run of another configuration ({str(cfg_path)!r}); "
                "use a new out_dir or delete the old run"
            )
    cfg.save_yaml(cfg_path)
    result_path = out / "result.json"
    if result_path.is_file():
        record = json.loads(result_path.read_text())
        if record.get("config") == _config_digest(cfg):
            return PipelineResult.from_dict(record["result"])

    data = _load_data(cfg.data, progress)
    if cfg.data.dataset == "MovingShapes" and cfg.data.frames != data.frames:  # pragma: no cover - sanity
        raise ShapeError(f"data.frames {cfg.data.frames} != generated {data.frames}")
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
    _save_preview(train_set, data.num_classes, out / "preview.safetensors", _derive(cfg.seed, "preview"))

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
        seed=_derive(cfg.seed, "eval"),
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

"""Stage 2 with FRePo: kernel ridge regression on a pool of online-trained students (the published loop).

Every iteration draws one pool member, renders the whole synthetic set, computes
:func:`~temporal_condense.losses.frepo_loss` (through :class:`~temporal_condense.SegmentedMatcher` when
``distill.segments > 1``) against ``frepo.batch_real`` random real clips (any classes),
takes one Adam step on the synthetic set (per-part learning rates, cosine-decayed to a tenth over the run),
and trains the drawn member for one step on the updated set. The pool (students, their optimizers and
schedules, its RNG) is stored in the stage-2 checkpoint itself, so a killed run resumes with the same
numbers.

Differences from the published ``FRePo/script/distill_s2d.py``, all deliberate: the labels stay fixed
(centred one-hot) because :func:`~temporal_condense.evaluate.evaluate` trains on hard labels; the cosine
floor is a tenth of each part's own learning rate (the published code uses a tenth of the hallucinator's
for every part).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from temporal_condense import SegmentedMatcher
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.losses import FRePoMatching, ModelPool
from temporal_condense.models import get_model
from temporal_condense.pipeline.checkpoint import load_checkpoint, save_checkpoint
from temporal_condense.pipeline.config import PipelineConfig
from temporal_condense.pipeline.data import RealData
from temporal_condense.pipeline.guard import stage_keys
from temporal_condense.seeds import derive_seed

logger = logging.getLogger(__name__)

__all__ = ["stage2_frepo"]


def _cosine(base: float, it: int, total: int) -> float:
    """The published ``CosineAnnealingLR(T_max=total, eta_min=base / 10)`` learning rate at step ``it``."""
    floor = 0.1 * base
    return floor + (base - floor) * (1 + math.cos(math.pi * it / max(total, 1))) / 2


def stage2_frepo(
    cfg: PipelineConfig,
    data: RealData,
    synset: Any,
    optimizer: torch.optim.Optimizer,
    out: Path,
    progress: bool,
    callback: Callable[[int, float], None] | None,
) -> tuple[list[float], float, float]:
    """Train the synthetic set with FRePo (``optimizer``: its Adam); returns ``(losses, stage-2 seconds, 0.0)``."""
    d, f = cfg.distill, cfg.distill.frepo
    k = data.num_classes
    base_lrs = [float(g["lr"]) for g in optimizer.param_groups]

    def model_fn() -> nn.Module:
        return get_model(
            d.model,
            channels=data.channels,
            num_classes=k,
            size=data.size,
            frames=data.frames // d.segments,
            **d.model_kwargs,
        )

    pool = ModelPool(
        model_fn,
        f.pool_size,
        max_online_updates=f.max_online_updates,
        lr=f.lr_net,
        warmup=f.warmup,
        batch_size=f.online_batch,
        seed=derive_seed(cfg.seed, "frepo-pool"),
    )
    # K segments (distill.segments): synthetic segment k against real segment k, one student for all of them
    matcher = SegmentedMatcher(FRePoMatching(pool, k, reg=f.reg), segments=d.segments, interpolator=None)
    generator = torch.Generator().manual_seed(derive_seed(cfg.seed, "stage2"))
    ckpt = out / "checkpoint.safetensors"
    digest = stage_keys(cfg)["stage2"]
    losses: list[float] = []
    elapsed = 0.0
    start_it = 0
    n_train = int(data.train_y.shape[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cfg.seed, "stage2-global"))
        py_state = random.getstate()
        random.seed(derive_seed(cfg.seed, "stage2-python"))
        try:
            if ckpt.is_file():
                state = load_checkpoint(ckpt, module=synset, optimizer=optimizer, generator=generator)
                meta = state["meta"]
                if meta.get("config") != digest:
                    raise ConfigError(
                        f"checkpoint {str(ckpt)!r} belongs to another configuration (digest {meta.get('config')!r}, "
                        f"this run {digest!r}); use another out_dir or delete it"
                    )
                pool_tensors = {k[5:]: v for k, v in state["extra"].items() if k.startswith("pool.")}
                pool.import_state(pool_tensors, meta.get("pool", {}), source=f"in checkpoint {str(ckpt)!r}")
                start_it = state["iteration"]
                elapsed = float(meta.get("seconds", 0.0))
                losses = [float(v) for v in state["extra"].get("losses", torch.zeros(0)).tolist()]
                logger.info("stage 2: resumed %s at iteration %d", ckpt, start_it)
            t0 = time.perf_counter()

            def checkpoint(it: int) -> None:
                pool_tensors, pool_meta = pool.export_state()
                meta = {"config": digest, "seconds": elapsed + time.perf_counter() - t0, "pool": pool_meta}
                extra = {"losses": torch.tensor(losses, dtype=torch.float64)}
                extra.update({f"pool.{k}": v for k, v in pool_tensors.items()})
                save_checkpoint(
                    ckpt, iteration=it, module=synset, optimizer=optimizer, generator=generator, extra=extra, meta=meta
                )

            bar = tqdm(
                range(start_it, d.iterations),
                initial=start_it,
                total=d.iterations,
                disable=not progress,
                desc=f"{cfg.name} stage 2 (FRePo)",
            )
            for it in bar:
                for group, base in zip(optimizer.param_groups, base_lrs):
                    group["lr"] = _cosine(base, it, d.iterations)
                pool.select()
                real_idx = torch.randperm(n_train, generator=generator)[: f.batch_real]
                videos, labels = synset(generator=generator)
                loss = matcher(data.train_x[real_idx], videos, data.train_y[real_idx], labels)
                if not torch.isfinite(loss):
                    raise ShapeError(f"stage-2 loss must be finite, got {float(loss)} at iteration {it}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                with torch.no_grad():
                    videos, labels = synset(generator=generator)
                pool.train_step(videos, labels)
                losses.append(float(loss.detach()))
                bar.set_postfix(loss=f"{losses[-1]:.4g}")
                if (it + 1) % cfg.checkpoint_every == 0 or it + 1 == d.iterations:
                    checkpoint(it + 1)
                if callback is not None:
                    callback(it + 1, losses[-1])
            bar.close()
            seconds = elapsed + time.perf_counter() - t0
        finally:
            random.setstate(py_state)
    return losses, seconds, 0.0

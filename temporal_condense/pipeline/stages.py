"""The stages of a run: stage 1 (static memory), the training set, the experts and stage 2.

Each stage receives the library's own config objects (``StaticSpec.library_config()``,
``ExpertSpec.library_config()``) and composes the library's public pieces only: ``distill_static``,
``DynamicMemoryBlock``/``SyntheticVideos`` with their per-part learning rates, ``train_experts`` and
``ExpertBuffer`` (whose ``state_dict`` makes resume exact), ``dm_loss`` through ``SegmentedMatcher``,
``trajectory_matching_loss`` with the ``BatchStandardize``/``SegmentSplit`` render hooks and
``clamp_after_step``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from tqdm.auto import tqdm

from temporal_condense import DynamicMemoryBlock, Interpolator, SegmentedMatcher, SyntheticVideos
from temporal_condense.coreset import select_coreset
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.evaluate import random_real_subset
from temporal_condense.formation import MultiFormation
from temporal_condense.hooks import BatchStandardize, SegmentSplit, VideoAugmentation
from temporal_condense.losses import dm_loss
from temporal_condense.models import get_model
from temporal_condense.motion import estimate_translation
from temporal_condense.mtt import (
    ExpertBuffer,
    FlatStudent,
    clamp_after_step,
    make_syn_lr,
    train_experts,
    trajectory_matching_loss,
)
from temporal_condense.mtt.experts import ExpertTrajectory, expert_files, published_files, read_published_buffer
from temporal_condense.pipeline.checkpoint import load_checkpoint, save_checkpoint
from temporal_condense.pipeline.config import PipelineConfig, write_json
from temporal_condense.pipeline.data import RealData
from temporal_condense.pipeline.frepo import stage2_frepo
from temporal_condense.pipeline.guard import read_stage1_record, stage_keys
from temporal_condense.seeds import derive_seed
from temporal_condense.static import StaticMemory, distill_static, load_static

__all__ = [
    "buffer_trajectories",
    "build_training_set",
    "check_trajectories",
    "experts",
    "make_optimizer",
    "mtt_matching_loss",
    "stage1",
    "stage2",
    "student_set",
]

logger = logging.getLogger(__name__)

Callback = Callable[[int, float], None]


def stage1(cfg: PipelineConfig, data: RealData, out: Path, progress: bool) -> tuple[StaticMemory, float]:
    """The static memory (distilled, reused from ``out`` or loaded) and the stage-1 seconds."""
    spec = cfg.static
    if spec.method == "load":
        memory = load_static(str(spec.path), data.num_classes, spec.static_per_class)
        side = Path(str(spec.path)).with_name("stage1.json")
        seconds = read_stage1_record(side).seconds if side.is_file() else 0.0
        return memory, seconds
    path, side = out / "static_memory.safetensors", out / "stage1.json"
    key = stage_keys(cfg)["stage1"]
    if path.is_file() and side.is_file():
        record = read_stage1_record(side)
        if record.key == key:
            logger.info("stage 1: reusing %s", path)
            return load_static(path, data.num_classes, spec.static_per_class), record.seconds
    start = time.perf_counter()
    config = spec.library_config(data.num_classes, derive_seed(cfg.seed, "stage1"))
    memory = distill_static(data.frames_view, config=config, progress=progress)
    seconds = time.perf_counter() - start
    memory.save(path)
    write_json(side, {"seconds": seconds, "static": spec.model_dump(mode="json"), "seed": cfg.seed, "key": key})
    return memory, seconds


def real_draw_seed(cfg: PipelineConfig) -> int:
    """Seed of the real clips drawn for a table: the random-real rows and the real init of the distilled sets.

    One draw for both, so the table's difference between a distilled set and random real is the distillation's
    own effect, not the luck of two different draws (docs/results.md: with two draws the gap was the draw's).
    """
    return derive_seed(cfg.seed, "random_real")


def _key_frame_index(frames: int, key_frames: int) -> torch.Tensor:
    """Indices of ``key_frames`` evenly spaced frames of ``frames`` (first and last included)."""
    return torch.linspace(0, frames - 1, key_frames).round().long()


def real_key_frames(data: RealData, per_class: int, key_frames: int, seed: int) -> torch.Tensor:
    """``per_class`` random real clips per class (class-major), reduced to ``key_frames`` evenly spaced frames."""
    videos, _ = random_real_subset((data.train_x, data.train_y), per_class, seed=seed, num_classes=data.num_classes)
    return videos[:, _key_frame_index(data.frames, key_frames)].contiguous()


def real_translations(data: RealData, per_class: int, key_frames: int, seed: int) -> torch.Tensor:
    """Global translations (``dy, dx``) of ``per_class`` random real clips per class, at ``key_frames`` evenly spaced
    frames: ``[num_classes, per_class, key_frames, 2]``.

    Measured against each clip's middle frame: a stage-1 static is one frame of a clip, so warped by this path
    it sits mid-way along a real motion.
    """
    shift = estimate_translation(real_key_frames(data, per_class, data.frames, seed), reference=data.frames // 2)
    return shift[:, _key_frame_index(data.frames, key_frames)].reshape(data.num_classes, per_class, key_frames, 2)


def _real_clips_per_class(cfg: PipelineConfig, data: RealData) -> int:
    """Real clips a random-real row or a real init draws per class: ``videos_per_class * f^2``.

    With multi-formation a class with fewer clips is refused here, naming the option (without it,
    :func:`~temporal_condense.evaluate.random_real_subset` refuses it).
    """
    syn = cfg.synthetic
    need = syn.videos_per_class * syn.formation**2
    if syn.formation == 1:
        return need
    counts = torch.bincount(data.train_y, minlength=data.num_classes)
    if int(counts.min()) < need:
        c = int(counts.argmin())
        raise ConfigError(
            f"synthetic.formation {syn.formation} packs videos_per_class x formation^2 = {need} real clips per "
            f"class, but class {c} has {int(counts[c])} training clips"
        )
    return need


def build_training_set(cfg: PipelineConfig, data: RealData, memory: Any) -> tuple[Any, int]:
    """The training set (a synthetic set module or a ``(videos, labels)`` pair) and its storage in bytes."""
    syn = cfg.synthetic
    k, frames = data.num_classes, data.frames
    per_class = _real_clips_per_class(cfg, data)
    if syn.kind == "full_data":
        return (data.train_x, data.train_y), data.train_x.numel() * data.train_x.element_size()
    if syn.kind == "random_real":
        seed = real_draw_seed(cfg)
        pack = MultiFormation(syn.formation).pack  # f^2 real clips in the storage of one (f = 1: as they are)
        labels = torch.arange(k).repeat_interleave(syn.videos_per_class)  # class-major, as the subset
        if syn.key_frames is not None and syn.key_frames < frames:
            # random real clips at a smaller storage: keep key frames only, interpolate them back to ``frames``
            kept = pack(real_key_frames(data, per_class, syn.key_frames, seed))
            return (Interpolator(frames, syn.mode)(kept).contiguous(), labels), kept.numel() * kept.element_size()
        videos, _ = random_real_subset((data.train_x, data.train_y), per_class, seed=seed, num_classes=k)
        stored = pack(videos)
        return (stored, labels), stored.numel() * stored.element_size()
    if syn.kind in ("kcenter", "herding"):
        d = cfg.distill
        net = get_model(
            d.model,
            channels=data.channels,
            num_classes=k,
            size=data.size,
            frames=frames,
            seed=derive_seed(cfg.seed, "coreset"),
            **d.model_kwargs,
        )
        core = select_coreset((data.train_x, data.train_y), syn.videos_per_class, syn.kind, net, num_classes=k)
        return core.as_pair(), core.storage_bytes()
    if syn.kind == "static_only":
        return (memory.as_videos(frames), memory.labels), int(memory.storage_bytes())
    if syn.kind == "baseline":
        n_syn = syn.key_frames or frames
        formation = MultiFormation(syn.formation)
        init = (
            formation.pack(real_key_frames(data, per_class, n_syn, real_draw_seed(cfg))) if syn.init == "real" else None
        )
        synset: Any = SyntheticVideos(
            k,
            syn.videos_per_class,
            frames,
            data.size,
            channels=data.channels,
            key_frames=n_syn,
            mode=syn.mode,
            init=init,
            seed=derive_seed(cfg.seed, "init"),
        )
        if syn.formation > 1:  # stage 2 distills the stored clips through the decoding
            synset.register_render_hook(formation)
        return synset, int(synset.storage_bytes())
    # static_dynamic
    spc = syn.static_per_class or memory.static_per_class
    images = memory.images.reshape(k, memory.static_per_class, *memory.images.shape[1:])[:, :spc]
    synset_sd = DynamicMemoryBlock(
        k,
        syn.videos_per_class,
        frames,
        data.size,
        static=images.reshape(k * spc, *images.shape[2:]).contiguous(),
        static_per_class=spc,
        dynamic_per_class=syn.videos_per_class * syn.dynamic_per_video,
        dynamic_frames=syn.key_frames or frames,
        dynamic_channels=syn.dynamic_channels,
        block=syn.block,
        block_init=syn.block_init,
        dynamic_init="zeros" if syn.dynamic_init == "real" else syn.dynamic_init,
        dynamic_std=syn.dynamic_std,
        pairing=syn.pairing,
        static_per_video=syn.static_per_video,
        dynamic_per_video=syn.dynamic_per_video,
        train_static=cfg.distill.train_static,
        train_block=cfg.distill.train_block,
        mode=syn.mode,
        seed=derive_seed(cfg.seed, "init"),
        static_size=syn.static_size,
        dynamic_size=syn.dynamic_size,
        warp_padding=syn.warp_padding,
    )
    if syn.dynamic_init == "real":
        dyn = synset_sd.dynamic
        path = real_translations(data, dyn.shape[1], dyn.shape[2], real_draw_seed(cfg))
        with torch.no_grad():
            dyn.copy_(path[..., None, None].expand_as(dyn))
    return synset_sd, int(synset_sd.storage_bytes())


def student_set(cfg: PipelineConfig, train_set: Any) -> Any:
    """What the evaluation's students train on: ``train_set``, or its decoded clips with ``synthetic.formation``.

    A multi-formation set stores ``f x f`` clips in each of its clips (what :func:`build_training_set` returns,
    saves and previews); the students see each of them up-sampled, as stage 2 did through the render hook.
    """
    f = cfg.synthetic.formation
    if f == 1:
        return train_set
    pair = cast(Any, train_set).export() if isinstance(train_set, nn.Module) else train_set
    return MultiFormation(f)(*pair)


RENDER_STD_LIMIT = 3.0  # a render this many times wider (or narrower) than the real clips is swamped by a part


def render_std_ratio(synset: Any, data: RealData, seed: int) -> float:
    """Std of one rendered copy of the whole set (no hooks) over the std of the real training clips."""
    videos, _ = synset.export(generator=torch.Generator().manual_seed(seed))
    return float(videos.std() / data.train_x.std().clamp_min(1e-12))


def check_render_scale(synset: Any, data: RealData, cfg: PipelineConfig, iteration: int) -> float:
    """Warn (logging) when the rendered videos' std leaves ``[1/3, 3]`` times the real clips' std.

    That is the signature of one part swamping the others (e.g. a block that mixes an untrained N(0, 1)
    dynamic memory into [0, 1] statics): the set then renders as noise while its loss still falls.
    """
    ratio = render_std_ratio(synset, data, derive_seed(cfg.seed, "render-check"))
    if not 1 / RENDER_STD_LIMIT <= ratio <= RENDER_STD_LIMIT:
        logger.warning(
            "stage 2 (%s), iteration %d: the rendered videos' std is %.2fx the real clips' (expected within "
            "%.0fx): one part of the set swamps the others; lower its learning rate or init scale",
            cfg.name,
            iteration,
            ratio,
            RENDER_STD_LIMIT,
        )
    return ratio


def make_optimizer(cfg: PipelineConfig, synset: Any) -> tuple[torch.optim.Optimizer, torch.Tensor | None]:
    """The stage-2 optimizer over the set's trainable parts (``distill.lr`` by part name) and MTT's ``syn_lr``.

    A learned ``syn_lr`` is kept at least ``distill.mtt.min_syn_lr`` by ``clamp_after_step``.
    """
    d = cfg.distill
    parts = [group["name"] for group in synset.param_groups()]  # the set's trainable parts
    if d.method == "FRePo":  # Adam, as the published FRePo loop (synopt)
        lrs = {f"lr_{part}": d.lr[part] for part in parts}
        return synset.optimizer(torch.optim.Adam, momentum=None, betas=(0.9, 0.999), **lrs), None
    syn_lr = make_syn_lr(d.mtt.experts.lr) if d.method == "MTT" else None
    learn_lr = syn_lr is not None and d.mtt.train_lr
    if syn_lr is not None and not learn_lr:
        syn_lr.requires_grad_(False)
    optimizer = synset.optimizer(
        momentum=d.momentum,
        syn_lr=syn_lr if learn_lr else None,
        lr_lr=d.mtt.lr_lr,
        **{f"lr_{part}": d.lr[part] for part in parts},
    )
    if learn_lr:
        assert syn_lr is not None
        clamp_after_step(optimizer, syn_lr, min=d.mtt.min_syn_lr)
    return optimizer, syn_lr


def buffer_trajectories(cfg: PipelineConfig) -> list[Any]:
    """The trajectories in ``distill.mtt.buffer_path``: our expert files, else published ``replay_buffer_N.pt``.

    Raises:
        ConfigError: The folder is missing or holds neither kind of file, or a file is damaged.
    """
    folder = Path(str(cfg.distill.mtt.buffer_path))
    if not folder.is_dir():
        raise ConfigError(f"distill.mtt.buffer_path must be an existing folder, got {str(folder)!r}")
    ours = expert_files(folder)
    if ours:
        return [ExpertTrajectory(f) for f in ours]
    published = published_files(folder)
    if not published:
        raise ConfigError(
            f"distill.mtt.buffer_path {str(folder)!r} holds no expert_K.safetensors or replay_buffer_N.pt files"
        )
    return [traj for f in published for traj in read_published_buffer(f)]


def check_trajectories(cfg: PipelineConfig, trajectories: list[Any], num_params: int) -> None:
    """Every trajectory fits the student (``num_params``) and holds the snapshots a window can reach."""
    m = cfg.distill.mtt
    needed = m.max_start_epoch - 1 + m.expert_epochs
    for i, traj in enumerate(trajectories):
        where = f"trajectory {i} of distill.mtt.buffer_path {str(m.buffer_path)!r}"
        if traj.num_params != num_params:
            raise ConfigError(
                f"{where} has {traj.num_params} parameters, the student distill.model {cfg.distill.model!r} "
                f"has {num_params}"
            )
        if traj.epochs < needed:
            raise ConfigError(
                f"{where} records epochs 0..{traj.epochs}, but max_start_epoch - 1 + expert_epochs = {needed}"
            )


def experts(cfg: PipelineConfig, data: RealData, out: Path, progress: bool) -> tuple[Path, float]:
    """The folder of the MTT experts (trained into ``out/experts`` unless ``buffer_path``) and the seconds spent."""
    m, d = cfg.distill.mtt, cfg.distill
    if m.buffer_path is not None:
        return Path(m.buffer_path), 0.0
    start = time.perf_counter()
    folder = out / "experts"
    real: tuple[torch.Tensor, torch.Tensor] = (data.train_x, data.train_y)
    if d.segments > 1:  # experts learn on real segments of the length the student will see
        real = SegmentSplit(d.segments)(*real)
    geometry = {
        "channels": data.channels,
        "num_classes": data.num_classes,
        "size": list(data.size),
        "frames": data.frames // d.segments,
        **d.model_kwargs,
    }
    config = m.experts.library_config(d.model, geometry, derive_seed(cfg.seed, "experts"))
    train_experts(config.model, real, config.num_experts, out_dir=folder, config=config, progress=progress)
    return folder, time.perf_counter() - start


def mtt_matching_loss(
    cfg: PipelineConfig,
    net: nn.Module,
    synset: Any,
    window: tuple[torch.Tensor, torch.Tensor],
    syn_lr: torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """One matching of stage 2's MTT: ``distill.mtt`` student steps of ``net`` (in train mode) on ``synset``.

    The student starts from the window's first snapshot (``net``'s own weights do not matter) and is compared
    with its second (:func:`~temporal_condense.mtt.trajectory_matching_loss`, ``syn_steps``, ``batch_syn``
    and ``mode`` from ``cfg.distill.mtt``); ``generator`` draws the synthetic batches.

    Shape:
        - window: two flat snapshots ``[P]``. Output: scalar.
    """
    m = cfg.distill.mtt
    student = FlatStudent(net)
    student.train()
    theta0, target = window
    return trajectory_matching_loss(
        student,
        synset,
        theta0,
        target,
        syn_lr,
        syn_steps=m.syn_steps,
        batch_syn=m.batch_syn,
        mode=m.mode,
        generator=generator,
    )


def _student(cfg: PipelineConfig, data: RealData, it: int) -> nn.Module:
    d = cfg.distill
    return get_model(
        d.model,
        channels=data.channels,
        num_classes=data.num_classes,
        size=data.size,
        frames=data.frames // d.segments,
        seed=derive_seed(cfg.seed, "student", it),
        **d.model_kwargs,
    )


def _dm_segment(
    real: torch.Tensor,
    syn: torch.Tensor,
    embed: Callable[[torch.Tensor], torch.Tensor],
    real_labels: torch.Tensor,
    syn_labels: torch.Tensor,
    num_classes: int,
    augment: VideoAugmentation | None,
) -> torch.Tensor:
    """DM on one temporal segment (the loss ``SegmentedMatcher`` applies per segment)."""
    return dm_loss(embed, real, real_labels, syn, syn_labels, num_classes, augment=augment)


def stage2(
    cfg: PipelineConfig,
    data: RealData,
    synset: Any,
    out: Path,
    progress: bool,
    callback: Callback | None,
) -> tuple[list[float], float, float]:
    """Train the synthetic set; returns ``(losses, stage-2 seconds, expert seconds)``."""
    d = cfg.distill
    k = data.num_classes
    optimizer, syn_lr = make_optimizer(cfg, synset)
    if d.method == "FRePo":
        return stage2_frepo(cfg, data, synset, optimizer, out, progress, callback)
    buffer: ExpertBuffer | None = None
    expert_seconds = 0.0
    if d.method == "MTT":
        folder, expert_seconds = experts(cfg, data, out, progress)
        buffer = ExpertBuffer(
            folder,
            expert_epochs=d.mtt.expert_epochs,
            max_start_epoch=d.mtt.max_start_epoch,
            seed=derive_seed(cfg.seed, "expert_buffer"),
        )

    members = [(data.train_y == c).nonzero().flatten() for c in range(k)]
    matcher = SegmentedMatcher(_dm_segment, segments=d.segments, interpolator=None)
    augment = VideoAugmentation(siamese=True) if d.augment else None
    generator = torch.Generator().manual_seed(derive_seed(cfg.seed, "stage2"))
    ckpt = out / "checkpoint.safetensors"
    digest = stage_keys(cfg)["stage2"]
    losses: list[float] = []
    elapsed = 0.0
    start_it = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cfg.seed, "stage2-global"))
        py_state = random.getstate()
        random.seed(derive_seed(cfg.seed, "stage2-python"))
        try:
            if ckpt.is_file():
                state = load_checkpoint(ckpt, module=synset, optimizer=optimizer, generator=generator)
                if state["meta"].get("config") != digest:
                    raise ConfigError(
                        f"checkpoint {str(ckpt)!r} belongs to another configuration (digest "
                        f"{state['meta'].get('config')!r}, this run {digest!r}); use another out_dir or delete it"
                    )
                start_it = state["iteration"]
                elapsed = float(state["meta"].get("seconds", 0.0))
                losses = [float(v) for v in state["extra"].get("losses", torch.zeros(0)).tolist()]
                if syn_lr is not None and "syn_lr" in state["extra"]:
                    with torch.no_grad():
                        syn_lr.copy_(state["extra"]["syn_lr"])
                if buffer is not None:
                    buffer.load_state_dict(
                        {**state["meta"]["expert_buffer"], "generator": state["extra"]["expert_buffer"]}
                    )
                logger.info("stage 2: resumed %s at iteration %d", ckpt, start_it)
            hooks = []
            if d.method == "MTT":
                hooks.append(synset.register_render_hook(BatchStandardize()))
                if d.segments > 1:
                    hooks.append(synset.register_render_hook(SegmentSplit(d.segments)))
            t0 = time.perf_counter()

            def checkpoint(it: int) -> None:
                extra = {"losses": torch.tensor(losses, dtype=torch.float64)}
                meta: dict[str, Any] = {"config": digest, "seconds": elapsed + time.perf_counter() - t0}
                if syn_lr is not None:
                    extra["syn_lr"] = syn_lr.detach()
                if buffer is not None:
                    position = buffer.state_dict()
                    extra["expert_buffer"] = position.pop("generator")
                    meta["expert_buffer"] = position
                save_checkpoint(
                    ckpt, iteration=it, module=synset, optimizer=optimizer, generator=generator, extra=extra, meta=meta
                )

            bar = tqdm(
                range(start_it, d.iterations),
                initial=start_it,
                total=d.iterations,
                disable=not progress,
                desc=f"{cfg.name} stage 2 ({d.method})",
            )
            for it in bar:
                net = _student(cfg, data, it)
                if d.method == "DM":
                    net.train()
                    for p in net.parameters():
                        p.requires_grad_(False)
                    real_idx = torch.cat(
                        [m[torch.randperm(m.numel(), generator=generator)[: d.batch_real]] for m in members]
                    )
                    videos, labels = synset(generator=generator)
                    embed = cast(Callable[[torch.Tensor], torch.Tensor], net.embed)
                    loss = matcher(data.train_x[real_idx], videos, embed, data.train_y[real_idx], labels, k, augment)
                else:
                    assert buffer is not None and syn_lr is not None
                    loss = mtt_matching_loss(cfg, net, synset, buffer.sample(), syn_lr, generator)
                if not torch.isfinite(loss):
                    raise ShapeError(f"stage-2 loss must be finite, got {float(loss)} at iteration {it}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
                bar.set_postfix(loss=f"{losses[-1]:.4g}")
                if (it + 1) % cfg.checkpoint_every == 0 or it + 1 == d.iterations:
                    checkpoint(it + 1)
                    if it + 1 < d.iterations:  # the finished set is checked once, by run_pipeline
                        check_render_scale(synset, data, cfg, it + 1)
                if callback is not None:
                    callback(it + 1, losses[-1])
            bar.close()
            for hook in hooks:
                hook.remove()
            seconds = elapsed + time.perf_counter() - t0
        finally:
            random.setstate(py_state)
    return losses, seconds, expert_seconds

"""The pipeline's configuration: one frozen pydantic model per section, readable and writable as YAML."""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from temporal_condense.errors import ConfigError, format_validation_error, validate_config
from temporal_condense.evaluate import EvalConfig
from temporal_condense.io import atomic_write
from temporal_condense.motion import PaddingMode
from temporal_condense.mtt import ExpertConfig
from temporal_condense.static import StaticConfig

__all__ = [
    "DATASETS",
    "PART_LRS",
    "DataSpec",
    "DistillSpec",
    "EvaluationSpec",
    "ExpertSpec",
    "FRePoSpec",
    "MTTSpec",
    "PipelineConfig",
    "SetKind",
    "StaticSpec",
    "SyntheticSpec",
]

DATASETS: tuple[str, ...] = ("MovingShapes", "miniUCF101", "UCF101", "HMDB51", "Kinetics400", "SSv2")

_Size = tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]]  # (h, w)


class _Depth(threading.local):
    value = 0


_DEPTH = _Depth()


class _Spec(BaseModel):
    """Frozen, strict base of every config section; validation errors become :class:`ConfigError`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        # Pydantic calls a custom __init__ for nested sections too: convert only at the outermost level,
        # so that the message names the full location (e.g. ``synthetic.kind``).
        outer = _DEPTH.value == 0
        _DEPTH.value += 1
        try:
            super().__init__(**data)
        except ValidationError as exc:
            if outer:
                raise ConfigError(format_validation_error(type(self), exc)) from None
            raise
        finally:
            _DEPTH.value -= 1

    @model_validator(mode="after")
    def _finite_numbers(self) -> _Spec:
        # pydantic's gt/ge bounds let inf (and nan for unbounded fields) through: a learning rate of inf is
        # a silent wrong number, so every float of every section must be finite.
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value}")
        return self


class DataSpec(_Spec):
    """Which real videos to distill and to test on.

    Attributes:
        dataset: ``"MovingShapes"`` (built in, no download); a frame-folder dataset in the published layout:
            ``"miniUCF101"``, ``"UCF101"``, ``"HMDB51"``, ``"Kinetics400"``, ``"SSv2"``; ``"folder"``: any
            class-folder layout ``root/<class>/<clip>/<frames>`` (:class:`~temporal_condense.data.ClassFolders`,
            split by ``split_file`` or ``test_ratio``); or ``"custom"``: the ``data=`` given to
            :func:`~temporal_condense.pipeline.run_pipeline` (your tensors or Datasets).
        root: Dataset folder (required for the published layouts and ``"folder"``).
        frames: Frames per clip (``N_real``); default 16 (``"custom"``: read from the data, checked if given).
        size: ``(H, W)``; default ``(48, 48)`` (``"custom"``: read from the data, checked if given).
        train_per_class: MovingShapes clips per class in the training split (default 50).
        test_per_class: MovingShapes clips per class in the test split (default 20).
        seed: Seed of the dataset (MovingShapes generation; frame-folder temporal sampling; ``"folder"`` split).
        options: Further :class:`~temporal_condense.data.MovingShapes` arguments (e.g. ``colour_coded``,
            ``speed``); MovingShapes only.
        split_file: ``"folder"``: a text file of ``<class>/<clip> <train|test>`` lines.
        test_ratio: ``"folder"`` without ``split_file``: share of every class's clips held out for testing.
        standardize: Distill in the standardized pixel space, as the published code does: train and test
            clips minus the training clips' per-channel mean, over their std. Every synthetic memory then
            lives (and is initialized) on the scale of the clips the losses see.
        validation_per_class: Hold out this many training clips per class and evaluate on them instead of
            the test split: the setting for tuning (the test split is then never read).
    """

    dataset: Literal["MovingShapes", "miniUCF101", "UCF101", "HMDB51", "Kinetics400", "SSv2", "folder", "custom"] = (
        "MovingShapes"
    )
    root: str | None = None
    frames: int | None = Field(default=None, ge=1)
    size: tuple[int, int] | None = None
    train_per_class: int | None = Field(default=None, ge=1)
    test_per_class: int | None = Field(default=None, ge=1)
    seed: int = Field(default=0, ge=0)
    options: dict[str, Any] = Field(default_factory=dict)
    split_file: str | None = None
    test_ratio: float = Field(default=0.2, gt=0, lt=1)
    standardize: bool = True
    validation_per_class: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> DataSpec:
        if self.options and self.dataset != "MovingShapes":
            raise ValueError(f"options are MovingShapes arguments; dataset {self.dataset!r} takes none")
        if self.dataset not in ("MovingShapes", "custom") and not self.root:
            raise ValueError(f"root is required for dataset {self.dataset!r} (the folder of the clips)")
        if self.dataset == "custom" and self.root:
            raise ValueError("root is not used with dataset 'custom' (the data comes from run_pipeline(data=...))")
        if self.split_file is not None and self.dataset != "folder":
            raise ValueError(f"split_file applies to dataset 'folder', got dataset {self.dataset!r}")
        if self.size is not None and min(self.size) < 1:
            raise ValueError(f"size must be positive, got {self.size}")
        return self

    @property
    def clip_frames(self) -> int | None:
        """Frames per clip: the given value, 16 by default, ``None`` (from the data) for ``"custom"``."""
        return self.frames if self.frames is not None or self.dataset == "custom" else 16

    @property
    def clip_size(self) -> tuple[int, int] | None:
        """``(H, W)``: the given value, ``(48, 48)`` by default, ``None`` (from the data) for ``"custom"``."""
        return self.size if self.size is not None or self.dataset == "custom" else (48, 48)


class StaticSpec(_Spec, StaticConfig):
    """Stage 1: the static memory -- a :class:`~temporal_condense.static.StaticConfig` plus where it comes from.

    Every :class:`~temporal_condense.static.StaticConfig` field is a key here (``iterations``, ``lr``, ``lr_net``,
    ``momentum``, ``init``, ``model``, ``model_kwargs``, ``batch_real``, ``batch_train``, ``outer_loop``,
    ``inner_loop``, ``metric``, ``static_per_class``) except ``num_classes`` (from the data) and ``seed``
    (derived from the run's seed). Stage 1 receives :meth:`library_config`.

    Attributes:
        method: ``"dc"`` (the paper), ``"dm"``, ``"load"`` (``path``: our artifact or a released ``.pt``) or
            ``"none"`` (no static memory; only for synthetic sets that need none). Case-insensitive.
        static_per_class: Images per class (default 2).
        path: File to load for ``method="load"``.
    """

    num_classes: int | None = Field(default=None, exclude=True)  # type: ignore[assignment]
    seed: int | None = Field(default=None, exclude=True)  # type: ignore[assignment]
    static_per_class: int = Field(default=2, ge=1)
    method: Literal["dc", "dm", "load", "none"] = "dc"  # type: ignore[assignment]
    path: str | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> StaticSpec:
        if self.num_classes is not None:
            raise ValueError(f"static.num_classes comes from the data; leave it unset, got {self.num_classes}")
        if self.seed is not None:
            raise ValueError(f"static.seed is derived from the run's seed; leave it unset, got {self.seed}")
        if self.method == "load" and not self.path:
            raise ValueError("static.path is required when static.method is 'load'")
        if self.method != "load" and self.path:
            raise ValueError(f"static.path is only used with method 'load', got method {self.method!r}")
        return self

    def library_config(self, num_classes: int, seed: int) -> StaticConfig:
        """The :class:`~temporal_condense.static.StaticConfig` of stage 1 for this data and seed."""
        if self.method not in ("dc", "dm"):
            raise ConfigError(f"static.method {self.method!r} distills nothing; only 'dc' and 'dm' have a config")
        data = self.model_dump(exclude={"path", "num_classes", "seed"})
        return validate_config(StaticConfig, {**data, "num_classes": num_classes, "seed": seed})


SetKind = Literal["static_dynamic", "baseline", "static_only", "random_real", "full_data", "kcenter", "herding"]


class SyntheticSpec(_Spec):
    """The training set that is distilled and evaluated.

    Attributes:
        kind: ``"static_dynamic"`` (:class:`~temporal_condense.DynamicMemoryBlock` on the stage-1 statics),
            ``"baseline"`` (:class:`~temporal_condense.SyntheticVideos`), ``"static_only"`` (the stage-1 statics
            repeated over time), ``"random_real"`` (random real clips), ``"kcenter"`` / ``"herding"`` (coresets of
            real clips chosen in the embedding of a randomly initialised ``distill.model``, see
            :func:`~temporal_condense.coreset.select_coreset`) or ``"full_data"`` (every real clip).
        videos_per_class: Synthetic (or random real) videos per class.
        key_frames: Stored frames per video: baseline ``N_syn``, static-dynamic ``N_dyn``, or the frames kept of
            each random real clip (interpolated back to ``frames``; ``None``: all).
        mode: Interpolation mode for ``key_frames < frames``.
        init: Baseline initialization: ``"real"`` clips (their key frames) or ``"noise"``.
        static_per_class: Statics used by the static-dynamic set (``None``: all of stage 1; fewer takes the
            first ones of each class).
        static_per_video: Statics each video slot draws from (random pairing).
        dynamic_per_video: Dynamic memories each video slot draws from.
        pairing: ``"random"`` (the paper) or ``"fixed"``.
        dynamic_channels: Channels of the dynamic memory.
        block: ``"conv"`` (the paper's Conv3d block), ``"add"`` or ``"warp"`` (the dynamic memory moves the
            static: :class:`~temporal_condense.dynamic_memory.WarpBlock`; ``dynamic_channels`` 2).
        block_init: ``"default"`` (as published), ``"identity"`` (the block starts by passing the static
            image through; the dynamic memory then gets no gradient until the block moves) or ``"residual"``
            (identity plus the dynamic memory added to every channel; see
            :class:`~temporal_condense.DynamicMemoryBlock`).
        dynamic_init: ``"randn"`` (published), ``"zeros"`` (with ``"residual"`` or ``"warp"``: start as the
            static-only set) or ``"real"`` (``"warp"`` only: every dynamic memory starts as the translation of
            a random real clip of its class, measured by
            :func:`~temporal_condense.motion.estimate_translation` against the clip's middle frame).
        dynamic_std: Scale of the ``"randn"`` init (1 = the scale of standardized clips).
        formation: Multi-formation factor ``f`` (``"baseline"`` and ``"random_real"`` only): every stored clip
            holds ``f x f`` clips of ``H/f x W/f`` pixels, each up-sampled to ``H x W`` for the student
            (:class:`~temporal_condense.formation.MultiFormation`); real init and random real rows pack
            ``f^2`` real clips into each. ``1``: plain clips.
        static_size: ``(h, w)`` at which the static-dynamic set stores its statics (area down-sampled from
            stage 1, up-sampled bilinearly when rendering); ``None``: the clips' size.
        dynamic_size: ``(h, w)`` at which it stores its dynamic memory; ``(1, 1)`` with ``"warp"`` is one
            translation per frame. ``None``: the clips' size.
        warp_padding: What the ``"warp"`` block moves in from outside the image: ``"border"`` (real video),
            ``"zeros"``, ``"reflection"`` or ``"circular"`` (data drawn on a torus, as MovingShapes).
    """

    kind: SetKind = "static_dynamic"
    videos_per_class: int = Field(default=1, ge=1)
    key_frames: int | None = Field(default=None, ge=1)
    mode: Literal["nearest", "linear", "cubic"] = "linear"
    init: Literal["real", "noise"] = "real"
    static_per_class: int | None = Field(default=None, ge=1)
    static_per_video: int = Field(default=2, ge=1)
    dynamic_per_video: int = Field(default=2, ge=1)
    pairing: Literal["random", "fixed"] = "random"
    dynamic_channels: int = Field(default=1, ge=1)
    block: Literal["conv", "add", "warp"] = "conv"
    block_init: Literal["default", "identity", "residual"] = "default"
    dynamic_init: Literal["randn", "zeros", "real"] = "randn"
    dynamic_std: float = Field(default=1.0, gt=0)
    formation: int = Field(default=1, ge=1)
    static_size: _Size | None = None
    dynamic_size: _Size | None = None
    warp_padding: PaddingMode = "border"

    @model_validator(mode="after")
    def _warp(self) -> SyntheticSpec:
        if self.block == "warp" and (self.dynamic_channels != 2 or self.block_init != "default"):
            raise ValueError(
                "synthetic.block 'warp' moves the static by a (dy, dx) dynamic memory and has no weights: it needs "
                f"dynamic_channels 2 and block_init 'default', got {self.dynamic_channels} and {self.block_init!r}"
            )
        if self.warp_padding != "border" and self.block != "warp":
            raise ValueError(
                f"synthetic.warp_padding {self.warp_padding!r} is the padding of synthetic.block 'warp', "
                f"got {self.block!r}"
            )
        if self.dynamic_init == "real" and self.block != "warp":
            raise ValueError(
                "synthetic.dynamic_init 'real' (translations of real clips) needs synthetic.block 'warp', "
                f"got {self.block!r}"
            )
        return self


class ExpertSpec(_Spec, ExpertConfig):
    """The MTT experts -- an :class:`~temporal_condense.mtt.ExpertConfig` whose model is the stage-2 student.

    Every :class:`~temporal_condense.mtt.ExpertConfig` field is a key here (``num_experts``, ``epochs``,
    ``lr``, ``momentum``, ``weight_decay``, ``batch_size``, ``lr_decay``, ``standardize``) except ``model``
    and ``model_kwargs`` (``distill.model`` and the data's geometry) and ``seed`` (derived from the run's
    seed). Defaults are the published ``buffer.sh``: 30 experts, 50 epochs, lr 0.01, batch 256.
    """

    model: str | None = Field(default=None, exclude=True)  # type: ignore[assignment]
    model_kwargs: dict[str, Any] = Field(default_factory=dict, exclude=True)
    seed: int | None = Field(default=None, exclude=True)  # type: ignore[assignment]
    num_experts: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _unset(self) -> ExpertSpec:
        for name in ("model", "seed"):
            if getattr(self, name) is not None:
                raise ValueError(f"distill.mtt.experts.{name} comes from the run; leave it unset")
        if self.model_kwargs:
            raise ValueError("distill.mtt.experts.model_kwargs come from distill.model_kwargs; leave them unset")
        return self

    def library_config(self, model: str, model_kwargs: dict[str, Any], seed: int) -> ExpertConfig:
        """The :class:`~temporal_condense.mtt.ExpertConfig` for the student ``model`` and this seed."""
        data = self.model_dump(exclude={"model", "model_kwargs", "seed"})
        return validate_config(ExpertConfig, {**data, "model": model, "model_kwargs": model_kwargs, "seed": seed})


class MTTSpec(_Spec):
    """Trajectory matching (stage 2 with ``method="MTT"``) and its experts.

    Attributes:
        experts: Expert training (:class:`ExpertSpec`); ``experts.lr`` is also the initial ``syn_lr``.
        syn_steps: Student steps on synthetic data per iteration.
        expert_epochs: ``M``: target snapshot is ``start + expert_epochs``.
        max_start_epoch: Start epoch drawn from ``[0, max_start_epoch)``.
        batch_syn: Synthetic minibatch (``None``: all synthetic videos).
        train_lr: Learn ``syn_lr`` (``--train_lr``).
        lr_lr: Learning rate of ``syn_lr``.
        min_syn_lr: ``syn_lr`` is clamped to at least this after every step when learned.
        mode: ``"unrolled"`` or ``"checkpointed"`` (same gradient, constant activation memory).
        buffer_path: Folder with existing experts: our ``expert_K.safetensors`` files or the published
            ``replay_buffer_N.pt`` files (read with ``weights_only=True``); ``None``: train them in
            ``<out_dir>/experts``.
    """

    experts: ExpertSpec = Field(default_factory=ExpertSpec)
    syn_steps: int = Field(default=10, ge=1)
    expert_epochs: int = Field(default=1, ge=1)
    max_start_epoch: int = Field(default=10, ge=1)
    batch_syn: int | None = Field(default=None, ge=1)
    train_lr: bool = False
    lr_lr: float = Field(default=1e-5, gt=0)
    min_syn_lr: float = Field(default=1e-3, gt=0)
    mode: Literal["unrolled", "checkpointed"] = "unrolled"
    buffer_path: str | None = None

    @model_validator(mode="after")
    def _check(self) -> MTTSpec:
        last = self.max_start_epoch - 1 + self.expert_epochs
        if self.buffer_path is None and last > self.experts.epochs:
            raise ValueError(
                f"max_start_epoch - 1 + expert_epochs ({last}) must be <= experts.epochs ({self.experts.epochs}): "
                "the target snapshot must exist"
            )
        return self


PART_LRS: dict[str, float] = {"dynamic": 1e-4, "block": 1e-5, "static": 100.0, "videos": 100.0}


class FRePoSpec(_Spec):
    """FRePo (``distill.method: FRePo``): kernel ridge regression on a pool of online students; Adam on the set.

    Attributes:
        pool_size: Online students (published ``num_nn_state`` 10).
        max_online_updates: Updates before a student is re-initialised (published 100).
        lr_net: Adam learning rate of the students (published run scripts ``--lr_net 0.0001``).
        warmup: Linear warm-up steps of the students (published 500).
        online_batch: Synthetic videos per online update (published 500).
        batch_real: Real clips per iteration, any classes (published loader batch 512).
        reg: Relative ridge ``λ`` of the KRR (published 1e-6).
    """

    pool_size: int = Field(default=10, ge=1)
    max_online_updates: int = Field(default=100, ge=1)
    lr_net: float = Field(default=1e-4, gt=0, allow_inf_nan=False)
    warmup: int = Field(default=500, ge=1)
    online_batch: int = Field(default=500, ge=1)
    batch_real: int = Field(default=512, ge=1)
    reg: float = Field(default=1e-6, ge=0, allow_inf_nan=False)


class DistillSpec(_Spec):
    """Stage 2: matching the trainable parts of the synthetic set against real videos.

    Attributes:
        method: ``"DM"``, ``"MTT"``, ``"FRePo"`` (Adam with the published cosine decay) or ``"none"`` (keep
            the initialization).
        iterations: Outer iterations.
        model: Student network name for matching.
        model_kwargs: Extra ``get_model`` options.
        lr: Learning rate of every part, keyed by the synthetic set's own part names (``"dynamic"``,
            ``"block"``, ``"static"`` for static-dynamic, published ``--lr_dynamic``/``--lr_hal``;
            ``"videos"`` for the baseline, published ``--lr_img``); missing names keep the defaults
            (:data:`PART_LRS`); only the set's trainable parts are used.
        train_static: Fine-tune the statics in stage 2 (the paper keeps them frozen).
        train_block: Train the static-dynamic block in stage 2 (the paper does); ``False`` keeps it as
            initialized, so only the dynamic memory (and the statics, with ``train_static``) learns.
        momentum: SGD momentum (the paper: 0.95 for static-dynamic; DM/MTT baselines 0.5).
        batch_real: DM: real clips per class per iteration.
        augment: DM: siamese video augmentation (kornia, same parameters for real and synthetic).
        segments: ``K``: temporal segments matched separately (DM through
            :class:`~temporal_condense.SegmentedMatcher`, MTT by splitting real clips for the experts and
            synthetic clips for the student with :class:`~temporal_condense.hooks.SegmentSplit`); the
            student sees ``frames / K`` frames. ``1``: whole clips.
        mtt: Trajectory-matching settings.
        frepo: FRePo settings.
    """

    method: Literal["DM", "MTT", "FRePo", "none"] = "DM"
    iterations: int = Field(default=5000, ge=0)
    model: str = "ConvNet3D"
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    lr: dict[str, float] = Field(default_factory=lambda: dict(PART_LRS))
    train_static: bool = False
    train_block: bool = True
    momentum: float = Field(default=0.95, ge=0, lt=1)
    batch_real: int = Field(default=64, ge=1)
    augment: bool = False
    segments: int = Field(default=1, ge=1)
    mtt: MTTSpec = Field(default_factory=MTTSpec)
    frepo: FRePoSpec = Field(default_factory=FRePoSpec)

    @field_validator("lr", mode="before")
    @classmethod
    def _fill_lr(cls, value: object) -> object:
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(PART_LRS))
            if unknown:
                raise ValueError(f"distill.lr keys must be part names {sorted(PART_LRS)}, got {unknown}")
            return {**PART_LRS, **value}
        return value

    @model_validator(mode="after")
    def _check_lr(self) -> DistillSpec:
        bad = {k: v for k, v in self.lr.items() if not (isinstance(v, (int, float)) and 0 < v < float("inf"))}
        if bad:
            raise ValueError(f"distill.lr values must be finite and > 0, got {bad}")
        return self


class EvaluationSpec(_Spec, EvalConfig):
    """Evaluation -- an :class:`~temporal_condense.evaluate.EvalConfig` plus the network and the number of runs.

    Every :class:`~temporal_condense.evaluate.EvalConfig` field is a key here (``protocol``, ``epochs``,
    ``lr``, ``batch_size``, ``test_batch_size``, ``momentum``, ``weight_decay``, ``standardize``,
    ``test_passes``, ``crop``); ``evaluate`` receives :meth:`library_config`.

    Attributes:
        model: Network name.
        model_kwargs: Extra ``get_model`` options.
        runs: Networks trained (mean +- std over them).
        epochs: Training epochs (default the published 500).
    """

    model: str = "ConvNet3D"
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    runs: int = Field(default=3, ge=1)
    epochs: int = Field(default=500, ge=1)

    def library_config(self) -> EvalConfig:
        """The :class:`~temporal_condense.evaluate.EvalConfig` part."""
        return validate_config(EvalConfig, self.model_dump(exclude={"model", "model_kwargs", "runs"}))


class PipelineConfig(_Spec):
    """A whole two-stage run (frozen; ``extra="forbid"``; YAML via :meth:`to_yaml` / :meth:`from_yaml`).

    Attributes:
        name: Label of the run (the method's name in tables).
        seed: Seed of every random draw of the run.
        data: Real data.
        static: Stage 1.
        synthetic: The training set to build.
        distill: Stage 2.
        evaluation: Evaluation protocol.
        checkpoint_every: Stage-2 iterations between checkpoints.

    Raises:
        ConfigError: Any invalid field or combination (the message names it and the value).

    Example:
        >>> cfg = PipelineConfig(synthetic={"kind": "baseline"}, static={"method": "none"})
        >>> cfg.synthetic.kind, cfg.distill.method
        ('baseline', 'DM')
    """

    name: str = "run"
    seed: int = Field(default=0, ge=0)
    data: DataSpec = Field(default_factory=DataSpec)
    static: StaticSpec = Field(default_factory=StaticSpec)
    synthetic: SyntheticSpec = Field(default_factory=SyntheticSpec)
    distill: DistillSpec = Field(default_factory=DistillSpec)
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)
    checkpoint_every: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _check(self) -> PipelineConfig:
        kind = self.synthetic.kind
        needs_static = kind in ("static_dynamic", "static_only")
        if needs_static and self.static.method == "none":
            raise ValueError(f"synthetic.kind {kind!r} needs a static memory, got static.method 'none'")
        if kind in ("static_only", "random_real", "full_data", "kcenter", "herding") and self.distill.method != "none":
            raise ValueError(
                f"synthetic.kind {kind!r} has nothing to train: distill.method must be 'none', "
                f"got {self.distill.method!r}"
            )
        frames = self.data.clip_frames
        if self.synthetic.key_frames is not None and frames is not None and self.synthetic.key_frames > frames:
            raise ValueError(f"synthetic.key_frames ({self.synthetic.key_frames}) must be <= data.frames ({frames})")
        if frames is not None and frames % self.distill.segments:
            raise ValueError(f"data.frames ({frames}) must be divisible by distill.segments ({self.distill.segments})")
        spc_used = self.synthetic.static_per_class
        if needs_static and spc_used is not None and spc_used > self.static.static_per_class:
            raise ValueError(
                f"synthetic.static_per_class ({spc_used}) must be <= static.static_per_class "
                f"({self.static.static_per_class})"
            )
        if self.distill.train_static and kind != "static_dynamic":
            raise ValueError(f"distill.train_static needs synthetic.kind 'static_dynamic', got {kind!r}")
        if self.synthetic.formation > 1 and kind not in ("baseline", "random_real"):
            raise ValueError(
                f"synthetic.formation > 1 needs synthetic.kind 'baseline' or 'random_real', got {kind!r}"
            )
        if not self.distill.train_block and kind != "static_dynamic":
            raise ValueError(f"distill.train_block=False needs synthetic.kind 'static_dynamic', got {kind!r}")
        return self

    # --------------------------------------------------------------------------------------- YAML
    def to_yaml(self) -> str:
        """The configuration as a YAML document (every field, in declaration order)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    @classmethod
    def from_dict(cls, data: object) -> PipelineConfig:
        """Validate a plain mapping (e.g. parsed YAML); raises :class:`ConfigError` on bad input."""
        if not isinstance(data, dict):
            raise ConfigError(f"a pipeline config must be a mapping, got {type(data).__name__}")
        return cls(**data)

    @classmethod
    def from_yaml(cls, text: str) -> PipelineConfig:
        """Parse a YAML document (see :meth:`to_yaml`)."""
        try:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
        except yaml.YAMLError as exc:
            raise ConfigError(f"config text is not valid YAML: {exc}") from None
        return cls.from_dict(data)

    def save_yaml(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_yaml` to ``path`` atomically."""
        return write_text(Path(path), self.to_yaml())

    @classmethod
    def load_yaml(cls, path: str | os.PathLike[str]) -> PipelineConfig:
        """Read a YAML file written by :meth:`save_yaml` (or by hand)."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"path must be an existing YAML file, got {str(p)!r} (not found)")
        return cls.from_yaml(p.read_text(encoding="utf-8"))

    @classmethod
    def coerce(cls, config: object) -> PipelineConfig:
        """``config`` as a :class:`PipelineConfig`: kept as it is, validated from a mapping, or read from a YAML path.

        Raises:
            ConfigError: Another type, or what :meth:`from_dict` / :meth:`load_yaml` refuse.

        Example:
            >>> PipelineConfig.coerce({"seed": 3}).seed
            3
        """
        if isinstance(config, (str, os.PathLike)):
            return cls.load_yaml(config)
        if isinstance(config, Mapping):
            return cls.from_dict(dict(config))
        if isinstance(config, PipelineConfig):
            return config
        raise ConfigError(f"config must be a PipelineConfig, a mapping or a YAML path, got {type(config).__name__}")

    def replace(self, **changes: Any) -> PipelineConfig:
        """A validated copy with nested changes, e.g. ``cfg.replace(distill={"iterations": 10})``."""
        data = self.model_dump(mode="json")
        for key, value in changes.items():
            if isinstance(value, BaseModel):
                value = value.model_dump(mode="json")
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = _merge(data[key], value)
            else:
                data[key] = value
        return PipelineConfig.from_dict(data)


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: let PyYAML raise its own error
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r} (first at line {seen[key].line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("model_kwargs",):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def write_text(path: Path, text: str) -> Path:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    return atomic_write(path, write)


def write_json(path: Path, data: object) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True))

"""The pipeline's configuration: one frozen pydantic model per section, readable and writable as YAML."""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from temporal_condense._checks import format_validation_error
from temporal_condense.errors import ConfigError
from temporal_condense.io import atomic_write

__all__ = [
    "DATASETS",
    "DataSpec",
    "DistillSpec",
    "EvaluationSpec",
    "FRePoSpec",
    "MTTSpec",
    "PipelineConfig",
    "SetKind",
    "StaticSpec",
    "SyntheticSpec",
]

DATASETS: tuple[str, ...] = ("MovingShapes", "miniUCF101", "UCF101", "HMDB51", "Kinetics400", "SSv2")


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
        dataset: ``"MovingShapes"`` (built in, no download) or a frame-folder dataset in the published
            layout: ``"miniUCF101"``, ``"UCF101"``, ``"HMDB51"``, ``"Kinetics400"``, ``"SSv2"``.
        root: Dataset folder (required for every dataset except MovingShapes).
        frames: Frames per clip (``N_real``).
        size: ``(H, W)``.
        train_per_class: MovingShapes clips per class in the training split (default 50).
        test_per_class: MovingShapes clips per class in the test split (default 20).
        seed: Seed of the dataset (MovingShapes generation; frame-folder temporal sampling).
        options: Further :class:`~temporal_condense.data.MovingShapes` arguments (e.g. ``colour_coded``,
            ``speed``); MovingShapes only.
    """

    dataset: Literal["MovingShapes", "miniUCF101", "UCF101", "HMDB51", "Kinetics400", "SSv2"] = "MovingShapes"
    root: str | None = None
    frames: int = Field(default=16, ge=1)
    size: tuple[int, int] = (48, 48)
    train_per_class: int | None = Field(default=None, ge=1)
    test_per_class: int | None = Field(default=None, ge=1)
    seed: int = Field(default=0, ge=0)
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> DataSpec:
        if self.options and self.dataset != "MovingShapes":
            raise ValueError(f"options are MovingShapes arguments; dataset {self.dataset!r} takes none")
        if self.dataset != "MovingShapes" and not self.root:
            raise ValueError(f"root is required for dataset {self.dataset!r} (the folder in the published layout)")
        if min(self.size) < 1:
            raise ValueError(f"size must be positive, got {self.size}")
        return self


class StaticSpec(_Spec):
    """Stage 1: the static memory.

    Attributes:
        method: ``"DC"`` (the paper), ``"DM"``, ``"load"`` (``path``: our artifact or a released ``.pt``) or
            ``"none"`` (no static memory; only for synthetic sets that need none).
        static_per_class: Images per class.
        iterations: Distillation iterations.
        lr: Image learning rate (``None``: the published DC 0.1 / DM 1.0).
        init: ``"real"`` frames or ``"noise"``.
        model: Image model name (``"ConvNet"``).
        model_kwargs: Extra ``get_model`` options (e.g. ``{"net_width": 32}``).
        batch_real: Real frames per class per step.
        outer_loop: DC outer loop (``None``: the published table).
        inner_loop: DC inner loop (``None``: the published table).
        path: File to load for ``method="load"``.
    """

    method: Literal["DC", "DM", "load", "none"] = "DC"
    static_per_class: int = Field(default=2, ge=1)
    iterations: int = Field(default=1000, ge=0)
    lr: float | None = Field(default=None, gt=0)
    init: Literal["real", "noise"] = "real"
    model: str = "ConvNet"
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    batch_real: int = Field(default=256, ge=1)
    outer_loop: int | None = Field(default=None, ge=1)
    inner_loop: int | None = Field(default=None, ge=0)
    path: str | None = None

    @model_validator(mode="after")
    def _check(self) -> StaticSpec:
        if self.method == "load" and not self.path:
            raise ValueError("static.path is required when static.method is 'load'")
        if self.method != "load" and self.path:
            raise ValueError(f"static.path is only used with method 'load', got method {self.method!r}")
        return self


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
        key_frames: Stored frames per video: baseline ``N_syn`` or static-dynamic ``N_dyn`` (``None``: all).
        mode: Interpolation mode for ``key_frames < frames``.
        init: Baseline initialization: ``"real"`` clips (their key frames) or ``"noise"``.
        static_per_class: Statics used by the static-dynamic set (``None``: all of stage 1; fewer takes the
            first ones of each class).
        static_per_video: Statics each video slot draws from (random pairing).
        dynamic_per_video: Dynamic memories each video slot draws from.
        pairing: ``"random"`` (the paper) or ``"fixed"``.
        dynamic_channels: Channels of the dynamic memory.
        block: ``"conv"`` (the paper's Conv3d block) or ``"add"``.
        block_init: ``"default"`` (as published) or ``"identity"`` (the block starts by passing the static
            image through; see :class:`~temporal_condense.DynamicMemoryBlock`).
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
    block: Literal["conv", "add"] = "conv"
    block_init: Literal["default", "identity"] = "default"


class MTTSpec(_Spec):
    """Trajectory matching (stage 2 with ``method="MTT"``) and its experts.

    Attributes:
        num_experts: Expert trajectories to train (published buffer.sh: 30).
        expert_train_epochs: Epochs per expert (published: 50).
        lr_teacher: Expert SGD learning rate and initial ``syn_lr`` (published 0.01).
        syn_steps: Student steps on synthetic data per iteration.
        expert_epochs: ``M``: target snapshot is ``start + expert_epochs``.
        max_start_epoch: Start epoch drawn from ``[0, max_start_epoch)``.
        batch_syn: Synthetic minibatch (``None``: all synthetic videos).
        expert_batch: Expert training batch size.
        train_lr: Learn ``syn_lr`` (``--train_lr``).
        lr_lr: Learning rate of ``syn_lr``.
        mode: ``"unrolled"`` or ``"checkpointed"`` (same gradient, constant activation memory).
        buffer_path: Folder with existing experts: our ``expert_K.safetensors`` files or the published
            ``replay_buffer_N.pt`` files (read with ``weights_only=True``); ``None``: train them in
            ``<out_dir>/experts``.
    """

    num_experts: int = Field(default=30, ge=1)
    expert_train_epochs: int = Field(default=50, ge=1)
    lr_teacher: float = Field(default=0.01, gt=0)
    syn_steps: int = Field(default=10, ge=1)
    expert_epochs: int = Field(default=1, ge=1)
    max_start_epoch: int = Field(default=10, ge=1)
    batch_syn: int | None = Field(default=None, ge=1)
    expert_batch: int = Field(default=256, ge=1)
    train_lr: bool = False
    lr_lr: float = Field(default=1e-5, gt=0)
    mode: Literal["unrolled", "checkpointed"] = "unrolled"
    buffer_path: str | None = None

    @model_validator(mode="after")
    def _check(self) -> MTTSpec:
        if self.buffer_path is None and self.max_start_epoch - 1 + self.expert_epochs > self.expert_train_epochs:
            raise ValueError(
                f"max_start_epoch - 1 + expert_epochs ({self.max_start_epoch - 1 + self.expert_epochs}) must be "
                f"<= expert_train_epochs ({self.expert_train_epochs}): the target snapshot must exist"
            )
        return self


class FRePoSpec(_Spec):
    """FRePo matching (stage 2 with ``method="FRePo"``): kernel ridge regression on a pool of online models.

    Stage 2 then uses Adam (``betas=(0.9, 0.999)``) with the per-part learning rates, decayed by a cosine to a
    tenth of each over ``distill.iterations`` (the published ``synopt``/``synsch``), instead of SGD.

    Attributes:
        pool_size: Online models (published ``num_nn_state`` 10).
        max_online_updates: Updates before a model is re-initialised (published 100).
        lr_net: Adam learning rate of the online models (published run scripts ``--lr_net 0.0001``).
        warmup: Linear warm-up steps of the online models (published 500).
        online_batch: Synthetic videos per online update (published 500).
        batch_real: Real clips per iteration, any classes (published loader batch 512).
        reg: Relative ridge ``λ`` of the KRR (published 1e-6).
    """

    pool_size: int = Field(default=10, ge=1)
    max_online_updates: int = Field(default=100, ge=1)
    lr_net: float = Field(default=1e-4, gt=0)
    warmup: int = Field(default=500, ge=1)
    online_batch: int = Field(default=500, ge=1)
    batch_real: int = Field(default=512, ge=1)
    reg: float = Field(default=1e-6, ge=0)


class DistillSpec(_Spec):
    """Stage 2: matching the trainable parts of the synthetic set against real videos.

    Attributes:
        method: ``"DM"``, ``"MTT"``, ``"FRePo"`` or ``"none"`` (keep the initialization).
        iterations: Outer iterations.
        model: Student network name for matching.
        model_kwargs: Extra ``get_model`` options.
        lr_dynamic: Learning rate of the dynamic memory (static-dynamic).
        lr_block: Learning rate of the block H (static-dynamic; published ``--lr_hal``).
        lr_static: Learning rate of the statics when ``train_static``.
        lr_videos: Learning rate of the baseline's videos (published ``--lr_img``).
        train_static: Fine-tune the statics in stage 2 (the paper keeps them frozen).
        momentum: SGD momentum (the paper: 0.95 for static-dynamic; DM/MTT baselines 0.5).
        batch_real: DM: real clips per class per iteration.
        augment: DM: siamese video augmentation (kornia, same parameters for real and synthetic).
        mtt: Trajectory-matching settings.
        frepo: FRePo settings.
    """

    method: Literal["DM", "MTT", "FRePo", "none"] = "DM"
    iterations: int = Field(default=5000, ge=0)
    model: str = "ConvNet3D"
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    lr_dynamic: float = Field(default=1e-4, gt=0)
    lr_block: float = Field(default=1e-5, gt=0)
    lr_static: float = Field(default=100.0, gt=0)
    lr_videos: float = Field(default=100.0, gt=0)
    train_static: bool = False
    momentum: float = Field(default=0.95, ge=0, lt=1)
    batch_real: int = Field(default=64, ge=1)
    augment: bool = False
    mtt: MTTSpec = Field(default_factory=MTTSpec)
    frepo: FRePoSpec = Field(default_factory=FRePoSpec)


class EvaluationSpec(_Spec):
    """Evaluation: train fresh networks on the training set, test on real clips (``tc.evaluate``).

    Attributes:
        model: Network name.
        model_kwargs: Extra ``get_model`` options.
        runs: Networks trained (mean +- std over them).
        epochs: Training epochs (published: 500).
        lr: SGD learning rate (published: 0.01).
        batch_size: Training batch size.
        protocol: ``"published"`` or ``"plain"`` (see :mod:`temporal_condense.evaluate`).
    """

    model: str = "ConvNet3D"
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    runs: int = Field(default=3, ge=1)
    epochs: int = Field(default=500, ge=1)
    lr: float = Field(default=0.01, gt=0)
    batch_size: int = Field(default=256, ge=1)
    protocol: Literal["published", "plain"] = "published"


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
        if self.synthetic.key_frames is not None and self.synthetic.key_frames > self.data.frames:
            raise ValueError(
                f"synthetic.key_frames ({self.synthetic.key_frames}) must be <= data.frames ({self.data.frames})"
            )
        spc_used = self.synthetic.static_per_class
        if needs_static and spc_used is not None and spc_used > self.static.static_per_class:
            raise ValueError(
                f"synthetic.static_per_class ({spc_used}) must be <= static.static_per_class "
                f"({self.static.static_per_class})"
            )
        if self.distill.train_static and kind != "static_dynamic":
            raise ValueError(f"distill.train_static needs synthetic.kind 'static_dynamic', got {kind!r}")
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
        return _write_text(Path(path), self.to_yaml())

    @classmethod
    def load_yaml(cls, path: str | os.PathLike[str]) -> PipelineConfig:
        """Read a YAML file written by :meth:`save_yaml` (or by hand)."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"path must be an existing YAML file, got {str(p)!r} (not found)")
        return cls.from_yaml(p.read_text(encoding="utf-8"))

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


def _write_text(path: Path, text: str) -> Path:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    return atomic_write(path, write)


def _write_json(path: Path, data: object) -> Path:
    return _write_text(path, json.dumps(data, indent=2, sort_keys=True))


def _config_digest(cfg: PipelineConfig) -> str:
    return hashlib.sha256(json.dumps(cfg.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]

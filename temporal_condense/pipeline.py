"""The two-stage pipeline: stage 1 (static memory) -> stage 2 (dynamic memory) -> evaluation.

One :class:`PipelineConfig` (pydantic, frozen, readable and writable as YAML) describes a whole run:
the data, stage 1 (distill ``static_per_class`` images per class from single frames, or load them), the
synthetic set (static-dynamic, the plain baseline, static memory only, random real videos or the full
data), stage 2 (DM or MTT matching of the trainable parts, SGD with one learning rate per part) and the
evaluation protocol. :func:`run_pipeline` runs it into a folder:

* ``config.yaml`` -- the configuration;
* ``static_memory.safetensors`` (+ ``stage1.json``) -- the stage-1 result, reused when present;
* ``experts/`` -- MTT expert trajectories (resumable, reused);
* ``checkpoint.safetensors`` -- written atomically every ``checkpoint_every`` stage-2 iterations: the
  synthetic set's tensors, the optimizer state, the learnable ``syn_lr``, torch's global RNG state, the
  state of the pipeline's ``torch.Generator``, Python's ``random`` state, the iteration and the loss
  history. A run killed at any point restarts from the last checkpoint and ends with the same numbers as an
  uninterrupted run with the same seed (every random draw of an iteration comes from those saved states or
  from seeds derived from ``(seed, iteration)``);
* ``synthetic_set.safetensors`` -- the final synthetic set (``SyntheticSet.save``);
* ``result.json`` -- accuracies, storage and times (:class:`PipelineResult`).

Example:
    >>> cfg = PipelineConfig(name="demo", synthetic={"kind": "static_dynamic"}, distill={"method": "DM"})
    >>> PipelineConfig.from_yaml(cfg.to_yaml()) == cfg
    True
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
import random
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from torch import nn
from tqdm.auto import tqdm

from temporal_condense._checks import format_validation_error
from temporal_condense.errors import ConfigError, ShapeError, TemporalCondenseError
from temporal_condense.io import atomic_write, load_artifact, save_artifact

__all__ = [
    "METHODS",
    "DataSpec",
    "DistillSpec",
    "EvaluationSpec",
    "MTTSpec",
    "PipelineConfig",
    "PipelineResult",
    "StaticSpec",
    "SyntheticSpec",
    "format_table",
    "load_checkpoint",
    "load_preview",
    "method_config",
    "run_pipeline",
    "save_checkpoint",
    "write_table",
]

logger = logging.getLogger(__name__)

CHECKPOINT_KIND = "PipelineCheckpoint"
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


SetKind = Literal["static_dynamic", "baseline", "static_only", "random_real", "full_data"]


class SyntheticSpec(_Spec):
    """The training set that is distilled and evaluated.

    Attributes:
        kind: ``"static_dynamic"`` (:class:`~temporal_condense.DynamicMemoryBlock` on the stage-1 statics),
            ``"baseline"`` (:class:`~temporal_condense.SyntheticVideos`), ``"static_only"`` (the stage-1 statics
            repeated over time), ``"random_real"`` (random real clips) or ``"full_data"`` (every real clip).
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
        buffer_path: Folder with existing experts (ours or ``replay_buffer_N.pt``); ``None``: train them in
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


class DistillSpec(_Spec):
    """Stage 2: matching the trainable parts of the synthetic set against real videos.

    Attributes:
        method: ``"DM"``, ``"MTT"`` or ``"none"`` (keep the initialization).
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
    """

    method: Literal["DM", "MTT", "none"] = "DM"
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
        if kind in ("static_only", "random_real", "full_data") and self.distill.method != "none":
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
            data = yaml.safe_load(text)
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


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("model_kwargs",):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


# ------------------------------------------------------------------------------------------ method registry

METHODS: tuple[str, ...] = (
    "random_real",
    "DM",
    "DM+SD",
    "MTT",
    "MTT+SD",
    "compact",
    "static_only",
    "full_data",
)


def method_config(
    method: str,
    base: PipelineConfig,
    *,
    compact_key_frames: int = 2,
    compact_method: Literal["DM", "MTT"] = "DM",
) -> PipelineConfig:
    """Derive the configuration of one table row from a shared base configuration.

    The base carries the data, the evaluation protocol, stage 1 and the stage-2 hyper-parameters
    (learning rates, iterations, MTT settings); this sets the synthetic set and the matching method:

    * ``"random_real"``: ``videos_per_class`` random real clips (the baseline's storage); no training.
    * ``"DM"`` / ``"MTT"``: the plain baseline (:class:`~temporal_condense.SyntheticVideos`, all frames,
      initialized from real clips) trained with DM / MTT (momentum 0.5, as the published baselines).
    * ``"DM+SD"`` / ``"MTT+SD"``: static-dynamic on the stage-1 statics, random pairing (the paper).
    * ``"compact"``: static-dynamic with one static and one dynamic per video, fixed pairing, and
      ``compact_key_frames`` dynamic frames interpolated to the clip length; trained with ``compact_method``.
    * ``"static_only"``: the stage-1 statics repeated over time.
    * ``"full_data"``: every real training clip (upper bound).

    Args:
        method: One of :data:`METHODS`.
        base: Shared settings.
        compact_key_frames: Dynamic frames stored by the compact variant.
        compact_method: Matching method of the compact variant.

    Returns:
        The row's :class:`PipelineConfig` (``name`` = ``method``).

    Raises:
        ConfigError: Unknown method.

    Example:
        >>> method_config("compact", PipelineConfig()).synthetic.pairing
        'fixed'
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}, got {method!r}")
    syn = base.synthetic.model_dump(mode="json")
    dist: dict[str, Any] = {}
    static = base.static.model_dump(mode="json")
    if method in ("random_real", "full_data"):
        syn["kind"] = method
        dist["method"] = "none"
        static = {"method": "none"}
    elif method in ("DM", "MTT"):
        syn.update(kind="baseline", key_frames=None)
        dist.update(method=method, momentum=0.5)
        static = {"method": "none"}
    elif method in ("DM+SD", "MTT+SD"):
        syn.update(kind="static_dynamic")
        dist.update(method=method.split("+")[0], momentum=0.95)
    elif method == "compact":
        syn.update(
            kind="static_dynamic",
            key_frames=compact_key_frames,
            static_per_class=syn["videos_per_class"],
            static_per_video=1,
            dynamic_per_video=1,
            pairing="fixed",
        )
        dist.update(method=compact_method, momentum=0.95)
    else:  # static_only
        syn["kind"] = "static_only"
        dist["method"] = "none"
    return base.replace(name=method, synthetic=syn, distill=dist, static=static)


# ------------------------------------------------------------------------------------------------- helpers


def _derive(seed: int, *parts: object) -> int:
    """A 31-bit seed derived from ``seed`` and labels (stable across runs and platforms)."""
    text = "/".join([str(seed), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def _write_text(path: Path, text: str) -> Path:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    return atomic_write(path, write)


def _write_json(path: Path, data: object) -> Path:
    return _write_text(path, json.dumps(data, indent=2, sort_keys=True))


def _config_digest(cfg: PipelineConfig) -> str:
    return hashlib.sha256(json.dumps(cfg.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class _Data:
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    train_set: Any
    test_set: Any
    appearance: torch.Tensor | None  # appearance group of every class (MovingShapes), else None

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[2])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.train_x.shape[3]), int(self.train_x.shape[4])

    @property
    def frames(self) -> int:
        return int(self.train_x.shape[1])


def _load_data(spec: DataSpec, progress: bool) -> _Data:
    from temporal_condense import data as tcdata

    train: Any
    test: Any
    if spec.dataset == "MovingShapes":
        common: dict[str, Any] = {"frames": spec.frames, "size": spec.size, "seed": spec.seed, **spec.options}
        train = tcdata.MovingShapes("train", videos_per_class=spec.train_per_class, **common)
        test = tcdata.MovingShapes("test", videos_per_class=spec.test_per_class, **common)
    else:
        root = str(spec.root)
        kw: dict[str, Any] = {"frames": spec.frames, "size": spec.size, "seed": spec.seed}
        if spec.dataset == "SSv2":
            train, test = tcdata.SSv2(root, "train", **kw), tcdata.SSv2(root, "val", **kw)
        elif spec.dataset == "Kinetics400":
            train = tcdata.Kinetics400(root, "train", **kw)
            test = tcdata.Kinetics400(root, "val", classes=train.classes, **kw)
        else:
            cls = {"miniUCF101": tcdata.MiniUCF, "UCF101": tcdata.UCF101, "HMDB51": tcdata.HMDB51}[spec.dataset]
            train, test = cls(root, "train", **kw), cls(root, "test", **kw)
    train_x, train_y = train.preload(progress=progress)
    test_x, test_y = test.preload(progress=progress)
    appearance = None
    if hasattr(test, "class_appearance"):
        appearance = torch.as_tensor(test.class_appearance(torch.arange(test.num_classes)))
    return _Data(train_x, train_y, test_x, test_y, int(train.num_classes), train, test, appearance)


def _model_factory(name: str, kwargs: dict[str, Any], built: list[nn.Module] | None = None) -> Callable[..., nn.Module]:
    """A factory for ``evaluate`` (keyword call) that can record the networks it builds."""
    from temporal_condense.models import get_model

    def factory(*, channels: int, num_classes: int, size: tuple[int, int], frames: int, seed: int) -> nn.Module:
        net = get_model(name, channels=channels, num_classes=num_classes, size=size, frames=frames, seed=seed, **kwargs)
        if built is not None:
            built.append(net)
        return net

    factory.__name__ = name
    factory.__qualname__ = name
    return factory


# ----------------------------------------------------------------------------------------------- checkpoints


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's ``state_dict`` into tensors and a JSON-serializable rest."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    for pid, values in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    iteration: int,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    extra: dict[str, torch.Tensor] | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write a resumable training state atomically (one safetensors file, no pickle).

    Saves ``module.state_dict()``, the optimizer state, ``generator``'s state, torch's global CPU RNG state,
    Python's ``random`` state, ``extra`` tensors and the JSON ``meta``.

    Args:
        path: Checkpoint file.
        iteration: Number of completed iterations.
        module: The trained module (e.g. a synthetic set).
        optimizer: Its optimizer.
        generator: The generator the loop draws from.
        extra: More tensors (e.g. ``syn_lr``, the loss history).
        meta: JSON-serializable values (e.g. the config digest, elapsed time).

    Returns:
        The path.

    Example:
        >>> import tempfile, os
        >>> m = nn.Linear(2, 1); opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        >>> p = os.path.join(tempfile.mkdtemp(), "ck.safetensors")
        >>> _ = save_checkpoint(p, iteration=3, module=m, optimizer=opt, generator=torch.Generator())
        >>> load_checkpoint(p, module=m, optimizer=opt, generator=torch.Generator())["iteration"]
        3
    """
    tensors: dict[str, torch.Tensor] = {f"module.{k}": v for k, v in module.state_dict().items()}
    opt_tensors, opt_meta = _optimizer_tensors(optimizer)
    tensors.update(opt_tensors)
    tensors["rng.generator"] = generator.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    py_version, py_state, py_gauss = random.getstate()
    tensors["rng.python"] = torch.tensor(py_state, dtype=torch.int64)
    for key, value in (extra or {}).items():
        tensors[f"extra.{key}"] = value
    config = {
        "iteration": int(iteration),
        "optimizer": opt_meta,
        "python_random": {"version": py_version, "gauss": py_gauss},
        "meta": dict(meta or {}),
    }
    return save_artifact(path, tensors, kind=CHECKPOINT_KIND, config=config)


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Restore a state written by :func:`save_checkpoint` (module, optimizer, every RNG).

    Returns:
        ``{"iteration": int, "meta": dict, "extra": {name: tensor}}``.

    Raises:
        ConfigError: Not a checkpoint, or it does not fit ``module``/``optimizer``.
    """
    tensors, config = load_artifact(path, kind=CHECKPOINT_KIND)
    state = {k[len("module.") :]: v for k, v in tensors.items() if k.startswith("module.")}
    try:
        module.load_state_dict(state)
        optimizer.load_state_dict(_optimizer_state(tensors, config["optimizer"]))
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ConfigError(f"checkpoint {str(path)!r} does not fit the module/optimizer being resumed: {exc}") from exc
    generator.set_state(tensors["rng.generator"])
    torch.set_rng_state(tensors["rng.torch"])
    py = config["python_random"]
    random.setstate((py["version"], tuple(int(v) for v in tensors["rng.python"].tolist()), py["gauss"]))
    extra = {k[len("extra.") :]: v for k, v in tensors.items() if k.startswith("extra.")}
    return {"iteration": int(config["iteration"]), "meta": dict(config.get("meta", {})), "extra": extra}


# ---------------------------------------------------------------------------------------------------- result


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


# ---------------------------------------------------------------------------------------------- the stages


def _stage1(cfg: PipelineConfig, data: _Data, out: Path, progress: bool) -> tuple[Any, float]:
    """The static memory (distilled, reused from ``out`` or loaded) and the stage-1 seconds."""
    from temporal_condense.static import distill_static, load_static

    spec = cfg.static
    if spec.method == "load":
        memory = load_static(str(spec.path), data.num_classes, spec.static_per_class)
        side = Path(str(spec.path)).with_name("stage1.json")
        seconds = float(json.loads(side.read_text())["seconds"]) if side.is_file() else 0.0
        return memory, seconds
    path, side = out / "static_memory.safetensors", out / "stage1.json"
    if path.is_file() and side.is_file():
        record = json.loads(side.read_text())
        if record.get("static") == spec.model_dump(mode="json") and record.get("seed") == cfg.seed:
            logger.info("stage 1: reusing %s", path)
            return load_static(path, data.num_classes, spec.static_per_class), float(record["seconds"])
    start = time.perf_counter()
    model: Any = spec.model
    if spec.model_kwargs:
        from temporal_condense.models import get_model

        def model(seed: int) -> nn.Module:
            return get_model(
                spec.model,
                channels=data.channels,
                num_classes=data.num_classes,
                size=data.size,
                seed=seed,
                **spec.model_kwargs,
            )

        model.__name__ = spec.model
    memory = distill_static(
        data.train_set.single_frame(),
        data.num_classes,
        spec.static_per_class,
        method=spec.method.lower(),
        iterations=spec.iterations,
        lr=spec.lr,
        init=spec.init,
        model=model,
        seed=_derive(cfg.seed, "stage1"),
        progress=progress,
        batch_real=spec.batch_real,
        outer_loop=spec.outer_loop,
        inner_loop=spec.inner_loop,
    )
    seconds = time.perf_counter() - start
    memory.save(path)
    _write_json(side, {"seconds": seconds, "static": spec.model_dump(mode="json"), "seed": cfg.seed})
    return memory, seconds


def _real_key_frames(data: _Data, per_class: int, key_frames: int, seed: int) -> torch.Tensor:
    """``per_class`` random real clips per class (class-major), reduced to ``key_frames`` evenly spaced frames."""
    from temporal_condense.evaluate import random_real_subset

    videos, _ = random_real_subset((data.train_x, data.train_y), per_class, seed=seed, num_classes=data.num_classes)
    idx = torch.linspace(0, data.frames - 1, key_frames).round().long()
    return videos[:, idx].contiguous()


def _build_set(cfg: PipelineConfig, data: _Data, memory: Any) -> tuple[Any, int]:
    """The training set (a synthetic set module or a ``(videos, labels)`` pair) and its storage in bytes."""
    from temporal_condense.dynamic_memory import DynamicMemoryBlock
    from temporal_condense.evaluate import random_real_subset
    from temporal_condense.synthetic import SyntheticVideos

    syn = cfg.synthetic
    k, frames = data.num_classes, data.frames
    if syn.kind == "full_data":
        return (data.train_x, data.train_y), data.train_x.numel() * data.train_x.element_size()
    if syn.kind == "random_real":
        pair = random_real_subset(
            (data.train_x, data.train_y), syn.videos_per_class, seed=_derive(cfg.seed, "random_real"), num_classes=k
        )
        return pair, pair[0].numel() * pair[0].element_size()
    if syn.kind == "static_only":
        return (memory.as_videos(frames), memory.labels), int(memory.storage_bytes())
    if syn.kind == "baseline":
        n_syn = syn.key_frames or frames
        init = (
            _real_key_frames(data, syn.videos_per_class, n_syn, _derive(cfg.seed, "init"))
            if syn.init == "real"
            else None
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
            seed=_derive(cfg.seed, "init"),
        )
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
        pairing=syn.pairing,
        static_per_video=syn.static_per_video,
        dynamic_per_video=syn.dynamic_per_video,
        train_static=cfg.distill.train_static,
        mode=syn.mode,
        seed=_derive(cfg.seed, "init"),
    )
    return synset_sd, int(synset_sd.storage_bytes())


def _batch_standardize(videos: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Render hook: ``(x - x.mean()) / x.std()`` per batch (what the experts and the evaluation see)."""
    return ((videos - videos.mean()) / videos.std().clamp_min(1e-8)).contiguous(), labels


def _experts(cfg: PipelineConfig, data: _Data, out: Path, progress: bool) -> tuple[list[Any], float]:
    from temporal_condense.mtt.experts import ExpertTrajectory, expert_files, train_experts

    m = cfg.distill.mtt
    start = time.perf_counter()
    if m.buffer_path is not None:
        folder = Path(m.buffer_path)
        files = expert_files(folder)
        if not files:
            raise ConfigError(f"distill.mtt.buffer_path {str(folder)!r} holds no expert_*.safetensors files")
        seconds = 0.0
    else:
        folder = out / "experts"
        files = train_experts(
            cfg.distill.model,
            (data.train_x, data.train_y),
            m.num_experts,
            out_dir=folder,
            epochs=m.expert_train_epochs,
            lr=m.lr_teacher,
            batch_size=m.expert_batch,
            seed=_derive(cfg.seed, "experts"),
            model_kwargs={
                "channels": data.channels,
                "num_classes": data.num_classes,
                "size": list(data.size),
                "frames": data.frames,
                **cfg.distill.model_kwargs,
            },
            progress=progress,
        )
        seconds = time.perf_counter() - start
    return [ExpertTrajectory(f) for f in files], seconds


def _stage2(
    cfg: PipelineConfig,
    data: _Data,
    synset: Any,
    out: Path,
    progress: bool,
    callback: Callable[[int, float], None] | None,
) -> tuple[list[float], float, float]:
    """Train the synthetic set; returns ``(losses, stage-2 seconds, expert seconds)``."""
    from temporal_condense.losses import dm_loss
    from temporal_condense.models import get_model
    from temporal_condense.mtt.matching import make_syn_lr, trajectory_matching_loss
    from temporal_condense.mtt.student import FlatStudent

    d = cfg.distill
    k = data.num_classes
    lrs: dict[str, float]
    if cfg.synthetic.kind == "baseline":
        lrs = {"lr_videos": d.lr_videos}
    else:
        lrs = {"lr_dynamic": d.lr_dynamic, "lr_block": d.lr_block}
        if d.train_static:
            lrs["lr_static"] = d.lr_static
    syn_lr = make_syn_lr(d.mtt.lr_teacher) if d.method == "MTT" else None
    if syn_lr is not None and not d.mtt.train_lr:
        syn_lr.requires_grad_(False)
    optimizer = synset.optimizer(
        momentum=d.momentum,
        syn_lr=syn_lr if (syn_lr is not None and d.mtt.train_lr) else None,
        lr_lr=d.mtt.lr_lr,
        **lrs,
    )
    experts: list[Any] = []
    expert_seconds = 0.0
    if d.method == "MTT":
        experts, expert_seconds = _experts(cfg, data, out, progress)

    members = [(data.train_y == c).nonzero().flatten() for c in range(k)]
    augment = None
    if d.augment:
        from temporal_condense.hooks import VideoAugmentation

        augment = VideoAugmentation(siamese=True)

    generator = torch.Generator().manual_seed(_derive(cfg.seed, "stage2"))
    ckpt = out / "checkpoint.safetensors"
    digest = _config_digest(cfg)
    losses: list[float] = []
    elapsed = 0.0
    start_it = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_derive(cfg.seed, "stage2-global"))
        py_state = random.getstate()
        random.seed(_derive(cfg.seed, "stage2-python"))
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
                logger.info("stage 2: resumed %s at iteration %d", ckpt, start_it)
            hook = synset.register_render_hook(_batch_standardize) if d.method == "MTT" else None
            t0 = time.perf_counter()

            def checkpoint(it: int) -> None:
                extra = {"losses": torch.tensor(losses, dtype=torch.float64)}
                if syn_lr is not None:
                    extra["syn_lr"] = syn_lr.detach()
                meta = {"config": digest, "seconds": elapsed + time.perf_counter() - t0}
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
                net_seed = _derive(cfg.seed, "student", it)
                net = get_model(
                    d.model,
                    channels=data.channels,
                    num_classes=k,
                    size=data.size,
                    frames=data.frames,
                    seed=net_seed,
                    **d.model_kwargs,
                )
                if d.method == "DM":
                    net.train()
                    for p in net.parameters():
                        p.requires_grad_(False)
                    real_idx = torch.cat(
                        [m[torch.randperm(m.numel(), generator=generator)[: d.batch_real]] for m in members]
                    )
                    videos, labels = synset(generator=generator)
                    loss = dm_loss(
                        cast(Callable[[torch.Tensor], torch.Tensor], net.embed),
                        data.train_x[real_idx],
                        data.train_y[real_idx],
                        videos,
                        labels,
                        k,
                        augment=augment,
                    )
                else:
                    e = int(torch.randint(len(experts), (1,), generator=generator))
                    s = int(torch.randint(d.mtt.max_start_epoch, (1,), generator=generator))
                    theta0 = experts[e].snapshot(s)
                    target = experts[e].snapshot(s + d.mtt.expert_epochs)
                    student = FlatStudent(net)
                    student.train()
                    assert syn_lr is not None
                    loss = trajectory_matching_loss(
                        student,
                        synset,
                        theta0,
                        target,
                        syn_lr,
                        syn_steps=d.mtt.syn_steps,
                        batch_syn=d.mtt.batch_syn,
                        mode=d.mtt.mode,
                        generator=generator,
                    )
                if not torch.isfinite(loss):
                    raise ShapeError(f"stage-2 loss must be finite, got {float(loss)} at iteration {it}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if syn_lr is not None and d.mtt.train_lr:
                    with torch.no_grad():
                        syn_lr.clamp_(min=1e-3)
                losses.append(float(loss.detach()))
                bar.set_postfix(loss=f"{losses[-1]:.4g}")
                if (it + 1) % cfg.checkpoint_every == 0 or it + 1 == d.iterations:
                    checkpoint(it + 1)
                if callback is not None:
                    callback(it + 1, losses[-1])
            bar.close()
            if hook is not None:
                hook.remove()
            seconds = elapsed + time.perf_counter() - t0
        finally:
            random.setstate(py_state)
    return losses, seconds, expert_seconds


PREVIEW_KIND = "PipelinePreview"


def _save_preview(train_set: Any, num_classes: int, path: Path, seed: int) -> Path:
    """Save the first training video of every class (rendered once, without hooks) for pictures."""
    if isinstance(train_set, nn.Module):
        videos, labels = cast(Any, train_set).export(generator=torch.Generator().manual_seed(seed))
    else:
        videos, labels = train_set
    first = torch.stack([(labels == c).nonzero().flatten()[0] for c in range(num_classes)])
    return save_artifact(path, {"videos": videos[first], "labels": labels[first]}, kind=PREVIEW_KIND)


def load_preview(out_dir: str | os.PathLike[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(videos [K, T, C, H, W], labels [K])`` preview (one video per class) of a finished run."""
    tensors, _ = load_artifact(Path(out_dir) / "preview.safetensors", kind=PREVIEW_KIND)
    return tensors["videos"], tensors["labels"]


def _motion_accuracy(nets: Sequence[nn.Module], data: _Data, cfg: PipelineConfig) -> list[float]:
    """Per-network accuracy among the classes that share the true class's appearance (percent)."""
    from temporal_condense.evaluate import EvalConfig, group_accuracy, predict

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
    from temporal_condense.evaluate import evaluate

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


# ------------------------------------------------------------------------------------------------- tables

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
        paths[fmt] = _write_text(out / name, format_table(results, fmt))  # type: ignore[arg-type]
    paths["json"] = _write_json(out / "results.json", [r.to_dict() for r in results])
    return paths

"""Expert trajectories for trajectory matching (MTT): training, saving, loading, the published format.

An *expert* is a network trained on the real data with plain SGD; its *trajectory* is the list of its
parameters recorded at the start and after every epoch (``epochs + 1`` snapshots). Trajectory matching
trains a student from snapshot ``s`` on synthetic data and compares it with snapshot ``s + M``.

Our format: one safetensors file per expert (``expert_00000.safetensors``, ...), written atomically.
Snapshot ``e`` is the tensor ``"epoch_e"``: the flat parameter vector in ``model.parameters()`` order
(the order of the codebases' ``ReparamModule``). The JSON header (``kind="ExpertTrajectory"``) holds the
model name and kwargs, parameter names and shapes, the training hyper-parameters and the per-epoch
training loss/accuracy. Files are read lazily through ``safetensors.safe_open`` (memory-mapped): a window
materializes only the two snapshots it needs.

The published format (MTT, and the video benchmark of arXiv 2312.00362): ``replay_buffer_N.pt`` files,
each a list of trajectories, each a list of per-epoch lists of parameter tensors. They are read with
``torch.load(weights_only=True)`` (memory-mapped when the file allows it); a file that needs pickle
beyond tensors and containers is refused with a :class:`~temporal_condense.errors.ConfigError` and never
executed. :func:`convert_published_buffer` rewrites them in our format.

Example:
    >>> import tempfile, torch
    >>> from temporal_condense.mtt.experts import load_expert, train_experts
    >>> videos, labels = torch.rand(8, 2, 1, 4, 4), torch.arange(8) % 2
    >>> def tiny(*, seed, **_):
    ...     return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32, 2))
    >>> out = tempfile.mkdtemp()
    >>> paths = train_experts(tiny, (videos, labels), num_experts=2, epochs=2, batch_size=4,
    ...                       out_dir=out, seed=0, progress=False)
    >>> expert = load_expert(paths[0])
    >>> expert.num_snapshots, expert.snapshot(2).shape
    (3, torch.Size([66]))
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, model_validator
from safetensors import safe_open
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from temporal_condense._checks import (
    check_device,
    check_finite,
    check_int,
    check_tensor,
    config_or_arguments,
    format_validation_error,
    validate_config,
)
from temporal_condense.data.source import VideoSource
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.hooks import standardize_batch
from temporal_condense.io import read_artifact_header, save_artifact
from temporal_condense.models import ModelFactory, get_model, make_model
from temporal_condense.mtt.distributed import barrier, get_rank, get_world_size, is_distributed, shard_indices
from temporal_condense.mtt.student import flatten_params
from temporal_condense.seeds import derive_seed

__all__ = [
    "EXPERT_KIND",
    "ExpertConfig",
    "ExpertTrajectory",
    "PublishedTrajectory",
    "convert_published_buffer",
    "expert_path",
    "expert_seed",
    "load_expert",
    "read_published_buffer",
    "save_expert",
    "train_experts",
]

logger = logging.getLogger(__name__)

EXPERT_KIND = "ExpertTrajectory"
_EXPERT_FILE = re.compile(r"^expert_(\d+)\.safetensors$")
_PUBLISHED_FILE = re.compile(r"^replay_buffer_(\d+)\.pt$")
TrainData = Dataset | tuple[torch.Tensor, torch.Tensor]


# --------------------------------------------------------------------------------------------- config
class ExpertConfig(BaseModel):
    """Hyper-parameters of an expert run (validated; stored in every expert file's header).

    Defaults are the published ones (MTT ``buffer.py`` and the video benchmark's ``buffer.py`` with its
    ``buffer.sh``): SGD, lr 0.01, momentum 0, weight decay 0, 50 epochs, batch 256, no lr decay, and
    the video benchmark's per-batch standardization ``(x - x.mean()) / x.std()``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="registry name of the model (or the factory's name)")
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    num_experts: int = Field(ge=1)
    epochs: int = Field(default=50, ge=1)
    lr: float = Field(default=0.01, gt=0)
    momentum: float = Field(default=0.0, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)
    batch_size: int = Field(default=256, ge=1)
    lr_decay: bool = False
    standardize: Literal["batch", "none"] = "batch"
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> ExpertConfig:
        if self.lr_decay and self.epochs < 3:
            raise ValueError(f"lr_decay needs epochs >= 3 (decay after epoch epochs//2+1), got {self.epochs}")
        return self

    def run_fields(self) -> dict[str, Any]:
        """The fields that must agree between a resumed run and the files it finds (JSON-normalized)."""
        try:
            fields: dict[str, Any] = json.loads(json.dumps(self.model_dump()))
        except TypeError as exc:
            raise ConfigError(f"model_kwargs must be JSON-serializable, got {self.model_kwargs!r}: {exc}") from exc
        return fields


def _validated_config(**kwargs: Any) -> ExpertConfig:
    return validate_config(ExpertConfig, kwargs)


# ----------------------------------------------------------------------------------------------- seeds
def expert_seed(seed: int, k: int, purpose: str = "expert") -> int:
    """The seed of expert ``k`` for ``purpose``: :func:`~temporal_condense.seeds.derive_seed` ``(seed, "expert", k,
    purpose)``.

    Expert ``k``'s seeds depend only on ``(seed, k)``, so any subset of experts, trained in any order,
    on any rank, after any restart, gives the same files.

    Example:
        >>> expert_seed(0, 3) == expert_seed(0, 3) != expert_seed(0, 4)
        True
    """
    return derive_seed(seed, "expert", k, purpose)


def expert_path(out_dir: str | os.PathLike[str], k: int) -> Path:
    """File of expert ``k`` in ``out_dir``: ``out_dir/expert_{k:05d}.safetensors``."""
    return Path(out_dir) / f"expert_{k:05d}.safetensors"


# --------------------------------------------------------------------------------------- our format
def save_expert(
    path: str | os.PathLike[str],
    snapshots: Sequence[torch.Tensor] | torch.Tensor,
    *,
    param_names: Sequence[str] | None = None,
    param_shapes: Sequence[Sequence[int]],
    config: Mapping[str, Any] | None = None,
) -> Path:
    """Save one expert trajectory in our format, atomically.

    Args:
        path: Destination ``.safetensors`` file.
        snapshots: ``E + 1`` flat parameter vectors (a sequence of ``[P]`` tensors or one ``[E+1, P]``).
        param_names: Names in ``parameters()`` order (default ``param_0``, ...).
        param_shapes: Shapes in ``parameters()`` order; their sizes must sum to ``P``.
        config: Extra JSON-serializable header fields (model, lr, ...).

    Returns:
        The final path.

    Shape:
        snapshots: ``[E+1, P]``.

    Raises:
        ShapeError: Snapshots are not 1-D of equal length ``P`` or do not match ``param_shapes``.
    """
    snaps = list(snapshots.unbind(0)) if isinstance(snapshots, torch.Tensor) else list(snapshots)
    if not snaps:
        raise ShapeError("snapshots must hold at least one parameter vector, got 0")
    shapes = [[int(s) for s in shape] for shape in param_shapes]
    numel = sum(int(torch.Size(s).numel()) for s in shapes)
    for e, snap in enumerate(snaps):
        check_tensor(snap, f"snapshots[{e}]", ndim=1, floating=True)
        if snap.numel() != numel:
            raise ShapeError(f"snapshots[{e}] must have {numel} elements (sum of param_shapes), got {snap.numel()}")
    names = list(param_names) if param_names is not None else [f"param_{i}" for i in range(len(shapes))]
    if len(names) != len(shapes):
        raise ShapeError(f"param_names must have {len(shapes)} entries (one per shape), got {len(names)}")
    header = dict(config or {})
    header.update(
        {
            "epochs": len(snaps) - 1,
            "num_params": numel,
            "param_names": names,
            "param_shapes": shapes,
            "dtype": str(snaps[0].dtype).removeprefix("torch."),
        }
    )
    tensors = {f"epoch_{e}": snap for e, snap in enumerate(snaps)}
    return save_artifact(path, tensors, kind=EXPERT_KIND, config=header)


class ExpertHeader(BaseModel):
    """The fields of an expert file's header that its reader relies on (the rest is the run's config)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    epochs: StrictInt = Field(ge=0)
    num_params: StrictInt = Field(ge=1)
    param_names: list[StrictStr]
    param_shapes: list[list[Annotated[StrictInt, Field(ge=0)]]]
    dtype: Literal["float16", "bfloat16", "float32", "float64"] = "float32"

    @model_validator(mode="after")
    def _check(self) -> ExpertHeader:
        if len(self.param_names) != len(self.param_shapes):
            raise ValueError(
                f"param_names ({len(self.param_names)}) and param_shapes ({len(self.param_shapes)}) "
                "must have one entry per parameter"
            )
        total = sum(int(torch.Size(shape).numel()) for shape in self.param_shapes)
        if total != self.num_params:
            raise ValueError(f"num_params ({self.num_params}) must equal the sum of param_shapes sizes ({total})")
        return self


_SAFETENSORS_FLOAT = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64"}


def _validated_header(path: Path, config: Mapping[str, Any]) -> ExpertHeader:
    try:
        return ExpertHeader.model_validate(dict(config))
    except ValidationError as exc:
        raise ConfigError(
            f"expert file {str(path)!r} has an invalid header: " + format_validation_error(ExpertHeader, exc)
        ) from None


def _check_stored_snapshots(path: Path, header: ExpertHeader) -> None:
    """The tensors on disk must be what the header says: ``epoch_0..epoch_E``, each float ``[num_params]``."""
    expected = {f"epoch_{e}" for e in range(header.epochs + 1)}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            stored = set(handle.keys())
            slices = {name: handle.get_slice(name) for name in sorted(stored & expected)}
            shapes = {name: list(sl.get_shape()) for name, sl in slices.items()}
            dtypes = {name: sl.get_dtype() for name, sl in slices.items()}
    except Exception as exc:  # safetensors' own error types
        raise ConfigError(f"expert file {str(path)!r} is not readable: {exc}") from exc
    if stored != expected:
        missing = sorted(expected - stored, key=lambda n: int(n.split("_")[1]))
        extra = sorted(stored - expected)
        raise ConfigError(
            f"expert file {str(path)!r} header says epochs={header.epochs} (snapshots epoch_0..epoch_{header.epochs}) "
            f"but the file holds {len(stored)} tensor(s): missing {missing[:5]}, unexpected {extra[:5]}"
        )
    for name in sorted(expected, key=lambda n: int(n.split("_")[1])):
        if shapes[name] != [header.num_params]:
            raise ShapeError(
                f"snapshot {name} of expert file {str(path)!r} must have shape [{header.num_params}] "
                f"(num_params), got {shapes[name]}"
            )
        if dtypes[name] not in _SAFETENSORS_FLOAT:
            raise ShapeError(
                f"snapshot {name} of expert file {str(path)!r} must have a floating dtype, got {dtypes[name]}"
            )


class ExpertTrajectory:
    """A lazily read expert file of our format.

    Nothing but the JSON header is read on construction; :meth:`snapshot` memory-maps the file and
    copies out one snapshot.

    Args:
        path: An expert file written by :func:`train_experts` / :func:`save_expert`.

    Example:
        >>> # expert = ExpertTrajectory("buffers/expert_00000.safetensors")
        >>> # theta = expert.snapshot(10)               # [P]
        >>> # params = expert.params(10)                # list of tensors in parameters() order
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        header = read_artifact_header(self.path)
        if header["kind"] != EXPERT_KIND:
            raise ConfigError(
                f"path {str(self.path)!r} must be an artifact of kind {EXPERT_KIND!r}, got {header['kind']!r}"
            )
        self.config: dict[str, Any] = dict(header["config"])
        fields = _validated_header(self.path, self.config)
        self.epochs: int = fields.epochs
        self.num_params: int = fields.num_params
        self.param_names: list[str] = list(fields.param_names)
        self.param_shapes: list[tuple[int, ...]] = [tuple(s) for s in fields.param_shapes]
        _check_stored_snapshots(self.path, fields)

    @property
    def num_snapshots(self) -> int:
        """Number of recorded snapshots (``epochs + 1``)."""
        return self.epochs + 1

    def __len__(self) -> int:
        return self.num_snapshots

    def __repr__(self) -> str:
        return f"ExpertTrajectory({str(self.path)!r}, epochs={self.epochs}, num_params={self.num_params})"

    def _check_epoch(self, epoch: int) -> int:
        epoch = check_int(epoch, "epoch", minimum=0)
        if epoch > self.epochs:
            raise ConfigError(f"epoch must be in [0, {self.epochs}] for {str(self.path)!r}, got {epoch}")
        return epoch

    def snapshot(
        self, epoch: int, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
    ) -> torch.Tensor:
        """Flat parameter vector after ``epoch`` epochs (0 = initialization).

        Shape:
            ``[P]``, contiguous.
        """
        epoch = self._check_epoch(epoch)
        with safe_open(str(self.path), framework="pt", device="cpu") as handle:
            flat = handle.get_tensor(f"epoch_{epoch}")
        check_finite(flat, f"snapshot epoch_{epoch} of {str(self.path)!r}")
        return flat.to(device=check_device(device), dtype=dtype or flat.dtype).contiguous()

    def params(self, epoch: int) -> list[torch.Tensor]:
        """Snapshot ``epoch`` as a list of tensors in ``parameters()`` order (the published layout)."""
        flat = self.snapshot(epoch)
        sizes = [int(torch.Size(s).numel()) for s in self.param_shapes]
        return [t.reshape(s).clone() for t, s in zip(flat.split(sizes), self.param_shapes)]

    def load_into(self, model: nn.Module, epoch: int) -> nn.Module:
        """Copy snapshot ``epoch`` into ``model``'s parameters (shapes must match); return ``model``."""
        shapes = [tuple(p.shape) for p in model.parameters()]
        if shapes != self.param_shapes:
            raise ShapeError(f"model parameter shapes must be {self.param_shapes}, got {shapes}")
        with torch.no_grad():
            for p, value in zip(model.parameters(), self.params(epoch)):
                p.copy_(value)
        return model

    def to_published(self) -> list[list[torch.Tensor]]:
        """The whole trajectory in the published layout (a list of per-epoch parameter lists)."""
        return [self.params(e) for e in range(self.num_snapshots)]


def load_expert(path: str | os.PathLike[str]) -> ExpertTrajectory:
    """Open an expert file of our format lazily (see :class:`ExpertTrajectory`)."""
    return ExpertTrajectory(path)


# --------------------------------------------------------------------------------- published format
class PublishedTrajectory:
    """One trajectory of a published ``replay_buffer_N.pt`` file (list of per-epoch parameter lists).

    The tensors are memory-mapped when the file is a zip-format ``torch.save`` file, so only the
    snapshots that are concatenated are read from disk.
    """

    def __init__(self, epochs: list[list[torch.Tensor]], source: str = "", index: int = 0) -> None:
        self._epochs = epochs
        self.path = Path(source) if source else None
        self.index = index
        self.param_shapes: list[tuple[int, ...]] = [tuple(p.shape) for p in epochs[0]]
        self.num_params: int = sum(int(p.numel()) for p in epochs[0])
        self.epochs: int = len(epochs) - 1

    @property
    def num_snapshots(self) -> int:
        """Number of recorded snapshots (``epochs + 1``)."""
        return self.epochs + 1

    def __len__(self) -> int:
        return self.num_snapshots

    def snapshot(
        self, epoch: int, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
    ) -> torch.Tensor:
        """Flat parameter vector after ``epoch`` epochs.

        Shape:
            ``[P]``, contiguous.
        """
        epoch = check_int(epoch, "epoch", minimum=0)
        if epoch > self.epochs:
            raise ConfigError(f"epoch must be in [0, {self.epochs}] for trajectory {self.index}, got {epoch}")
        flat = torch.cat([p.detach().reshape(-1) for p in self._epochs[epoch]])
        where = f"snapshot {epoch} of trajectory {self.index}" + (f" of {str(self.path)!r}" if self.path else "")
        check_finite(flat, where)
        return flat.to(device=check_device(device), dtype=dtype or flat.dtype).contiguous()

    def params(self, epoch: int) -> list[torch.Tensor]:
        """Snapshot ``epoch`` as the list of parameter tensors stored in the file (copies)."""
        return [p.detach().clone() for p in self._epochs[epoch]]


def _torch_load_safely(path: Path) -> Any:
    last: Exception | None = None
    for mmap in (True, False):
        try:
            return torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)
        except pickle.UnpicklingError as exc:
            raise ConfigError(
                f"path {str(path)!r} needs pickle beyond tensors and lists, so it was refused "
                f"(torch.load(weights_only=True) said: {str(exc).splitlines()[0]}); nothing in it was "
                "executed. Expert buffers must hold only lists of tensors."
            ) from exc
        except Exception as exc:  # mmap needs the zip format: retry without it; garbage raises anything
            last = exc
            continue
    raise ConfigError(f"path {str(path)!r} is not a readable torch.save file: {last}") from last


def read_published_buffer(path: str | os.PathLike[str]) -> list[PublishedTrajectory]:
    """Read a published ``replay_buffer_N.pt`` file safely.

    Args:
        path: The file: a list of trajectories, each a list of ``E + 1`` per-epoch lists of parameter
            tensors in ``parameters()`` order.

    Returns:
        One :class:`PublishedTrajectory` per trajectory (tensors memory-mapped when possible).

    Raises:
        ConfigError: The file is missing, needs pickle beyond tensors and containers (refused, never
            executed), or is not a list of trajectories.
        ShapeError: Snapshots within a trajectory disagree in their parameter shapes.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"path must be an existing replay buffer file, got {str(p)!r} (not found)")
    data = _torch_load_safely(p)
    if not isinstance(data, list | tuple) or not data:
        raise ConfigError(
            f"replay buffer {str(p)!r} must hold a non-empty list of trajectories, got {type(data).__name__}"
            + (" (empty)" if isinstance(data, list | tuple) else "")
        )
    out: list[PublishedTrajectory] = []
    for i, traj in enumerate(data):
        if not isinstance(traj, list | tuple) or not traj:
            raise ConfigError(
                f"trajectory {i} of {str(p)!r} must be a non-empty list of per-epoch parameter lists, "
                f"got {type(traj).__name__}"
            )
        epochs: list[list[torch.Tensor]] = []
        for e, snap in enumerate(traj):
            if not isinstance(snap, list | tuple) or not all(isinstance(t, torch.Tensor) for t in snap):
                raise ConfigError(
                    f"trajectory {i}, epoch {e} of {str(p)!r} must be a list of tensors, got {type(snap).__name__}"
                )
            if not snap:
                raise ConfigError(f"trajectory {i}, epoch {e} of {str(p)!r} must hold parameters, got an empty list")
            bad = [t.dtype for t in snap if not t.is_floating_point()]
            if bad:
                raise ShapeError(
                    f"trajectory {i}, epoch {e} of {str(p)!r} must hold floating parameter tensors, got {bad[0]}"
                )
            epochs.append(list(snap))
        shapes0 = [tuple(t.shape) for t in epochs[0]]
        for e, snap_list in enumerate(epochs):
            shapes = [tuple(t.shape) for t in snap_list]
            if shapes != shapes0:
                raise ShapeError(
                    f"trajectory {i}, epoch {e} of {str(p)!r} must have parameter shapes {shapes0}, got {shapes}"
                )
        out.append(PublishedTrajectory(epochs, source=str(p), index=i))
    return out


def published_files(directory: str | os.PathLike[str]) -> list[Path]:
    """``replay_buffer_N.pt`` files in ``directory``, in numeric order of ``N``."""
    d = Path(directory)
    found = [(int(m.group(1)), f) for f in d.iterdir() if (m := _PUBLISHED_FILE.match(f.name))]
    return [f for _, f in sorted(found)]


def expert_files(directory: str | os.PathLike[str]) -> list[Path]:
    """``expert_K.safetensors`` files in ``directory``, in numeric order of ``K``."""
    d = Path(directory)
    found = [(int(m.group(1)), f) for f in d.iterdir() if (m := _EXPERT_FILE.match(f.name))]
    return [f for _, f in sorted(found)]


def convert_published_buffer(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    model: nn.Module | None = None,
    model_name: str | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    start_index: int = 0,
    overwrite: bool = False,
) -> list[Path]:
    """Convert published ``replay_buffer_N.pt`` files to our format (one safetensors file per expert).

    Args:
        source: A ``replay_buffer_N.pt`` file, a list of them, or a folder (all its ``replay_buffer_N.pt``
            files in numeric order).
        out_dir: Output folder; experts are numbered ``start_index, start_index + 1, ...``.
        model: Optional model of the same architecture: its parameter names go into the headers and its
            shapes are checked against the buffer.
        model_name: Recorded in the headers (for example ``"ConvNet3D"``).
        model_kwargs: Recorded in the headers.
        start_index: Number of the first written expert.
        overwrite: Replace existing files (default: refuse).

    Returns:
        The written paths, in order.

    Raises:
        ConfigError: No source files, unsafe pickle, or an output file exists and ``overwrite`` is False.
        ShapeError: ``model``'s parameter shapes differ from the buffer's.
    """
    if isinstance(source, str | os.PathLike):
        src = Path(source)
        files = published_files(src) if src.is_dir() else [src]
    else:
        files = [Path(s) for s in source]
    if not files:
        raise ConfigError(f"source must name at least one replay_buffer_N.pt file, got {source!r} (none found)")
    k = check_int(start_index, "start_index", minimum=0)
    names = [n for n, _ in model.named_parameters()] if model is not None else None
    model_shapes = [tuple(p.shape) for p in model.parameters()] if model is not None else None
    written: list[Path] = []
    for f in files:
        for traj in read_published_buffer(f):
            if model_shapes is not None and traj.param_shapes != model_shapes:
                raise ShapeError(
                    f"model parameter shapes must match the buffer {str(f)!r}: expected {traj.param_shapes}, "
                    f"got {model_shapes}"
                )
            dest = expert_path(out_dir, k)
            if dest.exists() and not overwrite:
                raise ConfigError(f"out_dir already holds {str(dest)!r}; pass overwrite=True to replace it")
            snaps = [traj.snapshot(e) for e in range(traj.num_snapshots)]
            config = {
                "model": model_name,
                "model_kwargs": dict(model_kwargs or {}),
                "source": str(f),
                "source_index": traj.index,
                "expert_index": k,
            }
            written.append(save_expert(dest, snaps, param_names=names, param_shapes=traj.param_shapes, config=config))
            k += 1
    return written


# ------------------------------------------------------------------------------------------ training
def _as_dataset(train_data: object) -> tuple[Dataset | None, torch.Tensor | None, torch.Tensor | None, int]:
    """``(dataset, inputs, labels, n)``: the training data read through the one source adapter."""
    source = VideoSource(train_data, "train_data")
    if source.tensors is not None:
        x, y = source.tensors
        return None, x, y, source.length
    return source.dataset, None, None, source.length


def _geometry(
    data: tuple[Dataset | None, torch.Tensor | None, torch.Tensor | None, int], model_kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """``channels``, ``num_classes``, ``size`` and ``frames`` for a factory: from ``model_kwargs``, else the data."""
    dataset, xs, ys, _ = data
    sample = xs[0] if xs is not None else dataset[0][0]  # type: ignore[index]
    shape = tuple(torch.as_tensor(sample).shape)
    if len(shape) not in (3, 4):
        raise ShapeError(f"train_data items must be [C, H, W] images or [T, C, H, W] clips, got shape {shape}")
    classes = model_kwargs.get("num_classes")
    if classes is None and dataset is not None:
        classes = getattr(dataset, "num_classes", None)
        labels = getattr(dataset, "labels", None)
        if classes is None and isinstance(labels, (torch.Tensor, list, tuple)) and len(labels):
            classes = int(torch.as_tensor(labels).max()) + 1
        if classes is None:  # read every label once (a Dataset without num_classes or labels)
            classes = max(int(dataset[i][1]) for i in range(len(dataset))) + 1  # type: ignore[arg-type]
    if classes is None and ys is not None:
        classes = int(ys.max()) + 1
    geometry: dict[str, Any] = {
        "channels": int(shape[-3]),
        "num_classes": classes,
        "size": (int(shape[-2]), int(shape[-1])),
        "frames": int(shape[0]) if len(shape) == 4 else None,
    }
    geometry.update({k: model_kwargs[k] for k in geometry if k in model_kwargs})
    geometry["size"] = tuple(geometry["size"])
    return geometry


def _build_model(
    model: str | ModelFactory,
    model_kwargs: Mapping[str, Any],
    init_seed: int,
    data: tuple[Dataset | None, torch.Tensor | None, torch.Tensor | None, int],
) -> nn.Module:
    if isinstance(model, str):
        net = get_model(model, seed=init_seed, **dict(model_kwargs))
    else:
        net = make_model(model, seed=init_seed, **_geometry(data, model_kwargs))
    if not isinstance(net, nn.Module):
        raise ConfigError(f"model must build an nn.Module, got {type(net).__name__}")
    if not any(True for _ in net.parameters()):
        raise ConfigError("model must have at least one parameter, got none")
    return net


def _check_existing(path: Path, config: ExpertConfig, k: int) -> bool:
    """True if ``path`` is a finished expert of this run; ConfigError if it belongs to another run."""
    if not path.exists():
        return False
    header = read_artifact_header(path)
    if header.get("kind") != EXPERT_KIND:
        raise ConfigError(f"{str(path)!r} must be an artifact of kind {EXPERT_KIND!r}, got {header.get('kind')!r}")
    found = header.get("config", {}).get("run", {})
    expected = config.run_fields()
    diff = {key: (expected[key], found.get(key)) for key in expected if found.get(key) != expected[key]}
    if diff:
        details = ", ".join(f"{key}: expected {a!r}, got {b!r}" for key, (a, b) in sorted(diff.items()))
        raise ConfigError(
            f"out_dir holds {str(path)!r} from a different run ({details}); use another out_dir or delete it"
        )
    return True


def _train_one(
    k: int,
    config: ExpertConfig,
    model: str | ModelFactory,
    data: tuple[Dataset | None, torch.Tensor | None, torch.Tensor | None, int],
    device: torch.device,
    transform: Callable[[torch.Tensor], torch.Tensor] | None,
    num_workers: int,
    progress: bool,
) -> tuple[list[torch.Tensor], nn.Module, list[float], list[float]]:
    dataset, xs, ys, n = data
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, enabled=True):
        # Global draws (dropout, kornia augmentation, a factory that ignores its seed) come from this
        # expert's own seed; the caller's RNG state is restored afterwards.
        torch.manual_seed(expert_seed(config.seed, k, "global"))
        net = _build_model(model, config.model_kwargs, expert_seed(config.seed, k, "init"), data).to(device)
        net.train()
        order = torch.Generator().manual_seed(expert_seed(config.seed, k, "data"))
        lr = config.lr
        optim = torch.optim.SGD(net.parameters(), lr=lr, momentum=config.momentum, weight_decay=config.weight_decay)
        dtype = next(net.parameters()).dtype
        criterion = nn.CrossEntropyLoss()
        snapshots = [flatten_params(net).cpu()]
        losses: list[float] = []
        accs: list[float] = []
        decay_at = config.epochs // 2 + 1
        bar = tqdm(range(config.epochs), desc=f"expert {k}", leave=False, disable=not progress)
        for e in bar:
            perm = torch.randperm(n, generator=order)
            batches = list(perm.split(config.batch_size))
            if dataset is not None:
                # A private generator: DataLoader would otherwise draw its worker base seed from the
                # global RNG and shift the dropout draws relative to the tensor path.
                loader: Any = DataLoader(
                    dataset,
                    batch_sampler=[b.tolist() for b in batches],
                    num_workers=num_workers,
                    generator=torch.Generator().manual_seed(expert_seed(config.seed, k, f"loader/{e}")),
                )
            else:
                assert xs is not None and ys is not None
                loader = ((xs[b], ys[b]) for b in batches)
            total_loss, correct, seen = 0.0, 0, 0
            for x, y in loader:
                x = x.to(device=device, dtype=dtype)
                y = torch.as_tensor(y).to(device=device, dtype=torch.long)
                if transform is not None:
                    x = transform(x)
                if config.standardize == "batch":
                    x = standardize_batch(x)
                out = net(x)
                if y.numel() and (int(y.min()) < 0 or int(y.max()) >= out.shape[-1]):
                    raise ShapeError(
                        f"labels must be in [0, {out.shape[-1]}) (the model's number of classes), "
                        f"got range [{int(y.min())}, {int(y.max())}]"
                    )
                loss = criterion(out, y)
                optim.zero_grad(set_to_none=True)
                loss.backward()
                optim.step()
                total_loss += float(loss.detach()) * y.numel()
                correct += int((out.detach().argmax(-1) == y).sum())
                seen += y.numel()
            if not bool(torch.isfinite(torch.tensor(total_loss))):
                raise ShapeError(f"expert {k} diverged: training loss is not finite at epoch {e} (lr={lr})")
            snapshots.append(flatten_params(net).cpu())
            losses.append(total_loss / seen)
            accs.append(correct / seen)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", acc=f"{accs[-1]:.3f}")
            if config.lr_decay and e == decay_at:
                lr *= 0.1  # the published --decay: x0.1 and a fresh optimizer after epoch epochs//2+1
                optim = torch.optim.SGD(
                    net.parameters(), lr=lr, momentum=config.momentum, weight_decay=config.weight_decay
                )
        bar.close()
    return snapshots, net, losses, accs


def train_experts(
    model: str | ModelFactory,
    train_data: TrainData,
    num_experts: int,
    *,
    out_dir: str | os.PathLike[str],
    epochs: int = 50,
    lr: float = 0.01,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    batch_size: int = 256,
    lr_decay: bool = False,
    standardize: Literal["batch", "none"] = "batch",
    seed: int = 0,
    model_kwargs: Mapping[str, Any] | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
    progress: bool = True,
    config: ExpertConfig | None = None,
) -> list[Path]:
    """Train expert trajectories on real data with plain SGD; resumable, reproducible, shardable.

    Expert ``k`` is trained from seeds derived from ``(seed, k)`` only (initialization, shuffling, and
    torch's global RNG for dropout/augmentation, which is forked so the caller's RNG is untouched), and
    saved atomically as ``out_dir/expert_{k:05d}.safetensors`` once finished. Experts whose file exists
    are skipped, so a restart after a kill continues with the next missing expert and gives files
    identical to an uninterrupted run. Under ``torchrun`` (or with ``rank``/``world_size``) this process
    trains only the experts with ``k % world_size == rank``; the union over ranks equals a
    single-process run.

    Args:
        model: A name for ``temporal_condense.models.get_model`` (``model_kwargs`` passed on, the seed
            given as ``seed=``), or a :class:`~temporal_condense.models.ModelFactory` called as
            ``fn(channels=, num_classes=, size=, frames=, seed=)`` with the values of ``model_kwargs`` where
            given, else read from the data (``frames=None`` for image items).
        train_data: A Dataset of ``(input, label)`` items, or an ``(inputs, labels)`` tuple of tensors.
            The same data as tensors or as a Dataset gives the same batches.
        num_experts: Number of experts of the whole run.
        out_dir: Folder for the expert files.
        epochs: Epochs per expert (published: 50). ``epochs + 1`` snapshots are recorded.
        lr: SGD learning rate (published: 0.01).
        momentum: SGD momentum (published: 0).
        weight_decay: SGD weight decay (published: 0).
        batch_size: Minibatch size (published: 256).
        lr_decay: The published ``--decay`` (lr x 0.1 after epoch ``epochs // 2 + 1``; off by default).
        standardize: ``"batch"`` — each batch becomes ``(x - x.mean()) / x.std()`` (the video
            benchmark's training loop); ``"none"``.
        seed: Run seed.
        model_kwargs: Keyword arguments for ``get_model`` (recorded in the headers either way).
        transform: Optional callable applied to each training batch (on ``device``) before
            standardization: augmentation (e.g. a kornia ``VideoSequential``) or the benchmark's crop.
        device: Training device.
        num_workers: DataLoader workers when ``train_data`` is a Dataset.
        rank: This process's rank (default: detected, see :mod:`temporal_condense.mtt.distributed`).
        world_size: Number of processes (default: detected).
        progress: Show tqdm progress bars.
        config: Every hyper-parameter as one :class:`ExpertConfig` instead of the separate arguments (which
            must then keep their defaults; ``model`` and ``num_experts`` must agree with it).

    Returns:
        The paths of the experts this process owns (trained now or found finished), ascending. With a
        process group, every rank waits at a barrier at the end, so all files then exist.

    Shape:
        train_data inputs: ``[N, T, C, H, W]`` for video models (any shape the model accepts).
        train_data labels: ``[N]`` integers in ``[0, num_classes)``.

    Raises:
        ConfigError: Invalid hyper-parameters, or ``out_dir`` holds experts of a different run.
        ShapeError: Bad data (length mismatch, labels out of range) or a diverged expert.
    """
    name = model if isinstance(model, str) else getattr(model, "__qualname__", type(model).__name__)
    if not isinstance(model, str) and not callable(model):
        raise ConfigError(f"model must be a model name or a ModelFactory, got {model!r}")
    arguments: dict[str, Any] = {
        "model_kwargs": model_kwargs,
        "epochs": epochs,
        "lr": lr,
        "momentum": momentum,
        "weight_decay": weight_decay,
        "batch_size": batch_size,
        "lr_decay": lr_decay,
        "standardize": standardize,
        "seed": seed,
    }
    if config is None:
        check_int(num_experts, "num_experts", minimum=1)
        check_int(seed, "seed", minimum=0)
        arguments.update(model=name, num_experts=num_experts, model_kwargs=dict(model_kwargs or {}))
    elif isinstance(config, ExpertConfig) and (num_experts != config.num_experts or name != config.model):
        raise ConfigError(
            f"train_experts: model and num_experts must agree with config ({config.model!r}, {config.num_experts}), "
            f"got {name!r} and {num_experts!r}"
        )
    config = config_or_arguments(ExpertConfig, config, arguments, _TRAIN_DEFAULTS, "train_experts")
    config.run_fields()  # fail now, not after the first expert, if model_kwargs is not JSON
    check_int(num_workers, "num_workers", minimum=0)
    dev = torch.device(device)
    data = _as_dataset(train_data)
    world = get_world_size() if world_size is None else check_int(world_size, "world_size", minimum=1)
    r = get_rank() if rank is None else check_int(rank, "rank", minimum=0)
    mine = shard_indices(config.num_experts, rank=r, world_size=world)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    todo = [k for k in mine if not _check_existing(expert_path(out, k), config, k)]
    if len(todo) < len(mine):
        logger.info("resuming: %d of %d experts of rank %d already finished", len(mine) - len(todo), len(mine), r)
    bar = tqdm(total=len(mine), initial=len(mine) - len(todo), desc=f"experts (rank {r})", disable=not progress)
    for k in todo:
        snapshots, net, losses, accs = _train_one(k, config, model, data, dev, transform, num_workers, progress)
        header = {
            "model": config.model,
            "model_kwargs": config.model_kwargs,
            "lr": config.lr,
            "expert_index": k,
            "expert_seed": expert_seed(config.seed, k, "init"),
            "train_loss": losses,
            "train_acc": accs,
            "run": config.run_fields(),
        }
        save_expert(
            expert_path(out, k),
            snapshots,
            param_names=[n for n, _ in net.named_parameters()],
            param_shapes=[tuple(p.shape) for p in net.parameters()],
            config=header,
        )
        logger.info("expert %d saved: final train loss %.4f, acc %.4f", k, losses[-1], accs[-1])
        bar.update(1)
    bar.close()
    if is_distributed():
        barrier()
    return [expert_path(out, k) for k in mine]


_TRAIN_DEFAULTS: dict[str, Any] = {
    name: p.default for name, p in inspect.signature(train_experts).parameters.items()
}

"""Resumable training state: one safetensors file with the module, the optimizer and every RNG state."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError
from torch import nn

from temporal_condense.errors import ConfigError, format_validation_error
from temporal_condense.io import load_artifact, read_artifact_header, save_artifact

__all__ = ["CHECKPOINT_KIND", "CheckpointHeader", "load_checkpoint", "read_checkpoint_header", "save_checkpoint"]

CHECKPOINT_KIND = "PipelineCheckpoint"


class _OptimizerHeader(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    param_groups: list[dict[str, Any]]
    scalars: dict[str, dict[str, Any]] = Field(default_factory=dict)


class _PythonRandom(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: StrictInt
    gauss: float | None


class CheckpointHeader(BaseModel):
    """The JSON part of a checkpoint (validated on read: a hand-edited ``iteration=-3`` is refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    iteration: StrictInt = Field(ge=0)
    optimizer: _OptimizerHeader
    python_random: _PythonRandom
    meta: dict[str, Any] = Field(default_factory=dict)


def _validated_header(path: str | os.PathLike[str], config: dict[str, Any]) -> CheckpointHeader:
    try:
        return CheckpointHeader.model_validate(config)
    except ValidationError as exc:
        raise ConfigError(
            f"checkpoint {str(path)!r} has an invalid header: " + format_validation_error(CheckpointHeader, exc)
        ) from None


def read_checkpoint_header(path: str | os.PathLike[str]) -> CheckpointHeader:
    """The validated JSON header of a checkpoint, without reading its tensors.

    Raises:
        ConfigError: Not a checkpoint, or a field is missing or of the wrong type (named, with the file).
    """
    header = read_artifact_header(path)
    if header["kind"] != CHECKPOINT_KIND:
        raise ConfigError(f"artifact {str(path)!r} must be of kind {CHECKPOINT_KIND!r}, got {header['kind']!r}")
    return _validated_header(path, header["config"])


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
        ConfigError: Not a checkpoint, a damaged header or random state, or it does not fit
            ``module``/``optimizer``.
    """
    tensors, config = load_artifact(path, kind=CHECKPOINT_KIND)
    header = _validated_header(path, config)
    state = {k[len("module.") :]: v for k, v in tensors.items() if k.startswith("module.")}
    try:
        module.load_state_dict(state)
        optimizer.load_state_dict(_optimizer_state(tensors, header.optimizer.model_dump()))
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"checkpoint {str(path)!r} does not fit the module/optimizer being resumed: {exc}") from exc
    missing = [name for name in ("rng.generator", "rng.torch", "rng.python") if name not in tensors]
    if missing:
        raise ConfigError(f"checkpoint {str(path)!r} must hold the random states {missing}")
    py = header.python_random
    try:
        generator.set_state(tensors["rng.generator"])
        torch.set_rng_state(tensors["rng.torch"])
        random.setstate((py.version, tuple(int(v) for v in tensors["rng.python"].tolist()), py.gauss))
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ConfigError(f"checkpoint {str(path)!r} holds a damaged random state: {exc}") from None
    extra = {k[len("extra.") :]: v for k, v in tensors.items() if k.startswith("extra.")}
    return {"iteration": header.iteration, "meta": dict(header.meta), "extra": extra}

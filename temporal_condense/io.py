"""Atomic, pickle-free artifacts: safetensors tensors plus a JSON config.

An artifact is one ``.safetensors`` file. Its tensors are the parameters or buffers; its header metadata
holds a JSON document under the key ``"temporal_condense"`` with ``{"kind": ..., "version": ...,
"config": {...}}``. Files are written to a temporary file in the target folder and renamed into place, so
an interrupted write never leaves a truncated artifact behind. Nothing is ever unpickled.

Example:
    >>> import torch, tempfile, os
    >>> from temporal_condense.io import save_artifact, load_artifact
    >>> path = os.path.join(tempfile.mkdtemp(), "a.safetensors")
    >>> _ = save_artifact(path, {"w": torch.ones(2)}, kind="demo", config={"n": 2})
    >>> tensors, config = load_artifact(path, kind="demo")
    >>> config["n"], tensors["w"].tolist()
    (2, [1.0, 1.0])
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from temporal_condense._checks import check_finite
from temporal_condense.errors import ConfigError

__all__ = ["atomic_write", "load_artifact", "read_artifact_header", "save_artifact"]

FORMAT_VERSION = 1
_META_KEY = "temporal_condense"


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> Path:
    """Write a file atomically: ``write(tmp_path)`` then ``os.replace(tmp_path, path)``.

    Args:
        path: Final location. Its parent folder is created if needed.
        write: Callable that writes the complete file to the temporary path it is given.

    Returns:
        The final path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def save_artifact(
    path: str | os.PathLike[str],
    tensors: Mapping[str, torch.Tensor],
    *,
    kind: str,
    config: Mapping[str, Any] | None = None,
) -> Path:
    """Save tensors and a JSON-serializable config as one safetensors file, atomically.

    Args:
        path: Destination file (conventionally ``*.safetensors``).
        tensors: Name to tensor. Tensors are detached, moved to CPU and made contiguous.
        kind: What the artifact is (for example ``"DynamicMemoryBlock"``); checked again on load.
        config: JSON-serializable configuration needed to rebuild the object.

    Returns:
        The final path.

    Raises:
        ConfigError: ``config`` is not JSON-serializable.
    """
    header = {"kind": kind, "version": FORMAT_VERSION, "config": dict(config or {})}
    try:
        text = json.dumps(header, sort_keys=True)
    except TypeError as exc:
        raise ConfigError(f"config of artifact {kind!r} must be JSON-serializable: {exc}") from exc
    payload = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    return atomic_write(path, lambda tmp: save_file(payload, tmp, metadata={_META_KEY: text}))


def read_artifact_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the ``{"kind", "version", "config"}`` header of an artifact without loading tensors."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"path must be an existing artifact file, got {str(p)!r} (not found)")
    try:
        with safe_open(str(p), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types
        raise ConfigError(f"path {str(p)!r} is not a readable safetensors file: {exc}") from exc
    if _META_KEY not in metadata:
        raise ConfigError(f"path {str(p)!r} is a safetensors file without a temporal_condense header")
    header: dict[str, Any] = json.loads(metadata[_META_KEY])
    return header


def load_artifact(
    path: str | os.PathLike[str], *, kind: str | None = None, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load an artifact written by :func:`save_artifact`.

    Args:
        path: The artifact file.
        kind: If given, the artifact's kind must equal it.
        device: Where to put the tensors.

    Returns:
        ``(tensors, config)``.

    Raises:
        ConfigError: The file is missing, unreadable, of another kind or of a newer format version.
        ShapeError: A floating tensor holds NaN or infinite values.
    """
    header = read_artifact_header(path)
    if kind is not None and header.get("kind") != kind:
        raise ConfigError(f"artifact {str(path)!r} must be of kind {kind!r}, got {header.get('kind')!r}")
    if int(header.get("version", 0)) > FORMAT_VERSION:
        raise ConfigError(
            f"artifact {str(path)!r} has format version {header.get('version')}, "
            f"this library reads versions <= {FORMAT_VERSION}"
        )
    tensors: dict[str, torch.Tensor] = {}
    with safe_open(str(path), framework="pt", device=str(device)) as handle:
        for name in handle.keys():  # noqa: SIM118 - safe_open is not a Mapping
            tensors[name] = handle.get_tensor(name)
    for name, tensor in tensors.items():
        check_finite(tensor, f"tensor {name!r} of artifact {str(path)!r}")
    return tensors, dict(header.get("config", {}))

"""Atomic, pickle-free artifacts: safetensors tensors plus a JSON config.

An artifact is one ``.safetensors`` file. Its tensors are the parameters or buffers; its header metadata
holds a JSON document under the key ``"temporal_condense"`` with ``{"kind": ..., "version": ...,
"config": {...}}``, validated on read by one schema (:class:`ArtifactHeader`). Files are written to a
temporary file in the target folder and renamed into place, so an interrupted write never leaves a
truncated artifact behind; a new file gets the permissions ``0o666 & ~umask`` (as ``open`` would give it),
a replaced file keeps its mode, and the temporary files a killed write left behind are removed by the next
write of the same file (or by :func:`remove_stale_temporaries`). Nothing is ever unpickled.

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

import errno
import json
import os
import re
import stat
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from safetensors import safe_open
from safetensors.torch import save_file

from temporal_condense._checks import check_device, check_finite
from temporal_condense.errors import ConfigError

__all__ = [
    "ArtifactHeader",
    "atomic_write",
    "load_artifact",
    "read_artifact_header",
    "remove_stale_temporaries",
    "save_artifact",
]

FORMAT_VERSION = 1
_META_KEY = "temporal_condense"
# tempfile.mkstemp names: "." + target name + "." + 8 random characters + ".tmp".
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")
_ACTIVE: set[str] = set()  # temporary files being written by this process right now
_ACTIVE_LOCK = threading.Lock()


class ArtifactHeader(BaseModel):
    """The JSON header every artifact carries under the metadata key ``"temporal_condense"``.

    Attributes:
        kind: What the artifact is (``"DynamicMemoryBlock"``, ``"ExpertTrajectory"``, ...).
        version: Format version, ``1 <= version <= FORMAT_VERSION``.
        config: JSON object that rebuilds the object (validated again by the reader of that kind).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: StrictStr
    version: StrictInt = Field(ge=1, le=FORMAT_VERSION)
    config: dict[str, Any] = Field(default_factory=dict)


def _umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _check_target(path: str | os.PathLike[str]) -> Path:
    """Refuse targets that can never be written as a file: ``''``, a folder, a path below a file."""
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if os.fspath(path) in ("", "."):
        raise ConfigError(f"path must name a file, got {os.fspath(path)!r}")
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"path {str(target)!r} must name a file, got an existing folder")
    for ancestor in target.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise ConfigError(
                    f"path {str(target)!r} cannot be written: its parent {str(ancestor)!r} is a file, not a folder"
                )
            break
    return target


def _reraise(exc: OSError, action: str, target: Path) -> OSError:
    """The same kind of ``OSError`` with a message that names the path the user gave."""
    code = exc.errno if exc.errno is not None else errno.EIO
    reason = exc.strerror or str(exc)
    new = type(exc)(code, f"cannot {action} {str(target)!r}: {reason}")
    new.filename = str(target)
    return new


def remove_stale_temporaries(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Remove temporary files that a killed :func:`atomic_write` left in ``folder``.

    Args:
        folder: The folder to clean.
        name: Only remove the leftovers of this file name (``None``: of every file).

    Returns:
        The removed paths (temporaries that this process is writing right now are kept).
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    removed = []
    for entry in root.iterdir():
        match = _TMP_RE.match(entry.name)
        if match is None or (name is not None and match.group("name") != name):
            continue
        with _ACTIVE_LOCK:
            if os.path.abspath(entry) in _ACTIVE or not entry.is_file():
                continue
        try:
            entry.unlink()
            removed.append(entry)
        except FileNotFoundError:
            pass
    return removed


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> Path:
    """Write a file atomically: ``write(tmp_path)`` then ``os.replace(tmp_path, path)``.

    A new file gets the mode ``0o666 & ~umask``; an existing file keeps its mode. Leftover temporaries of
    the same file (from a killed write) are removed first.

    Args:
        path: Final location. Its parent folder is created if needed.
        write: Callable that writes the complete file to the temporary path it is given.

    Returns:
        The final path.

    Raises:
        ConfigError: ``path`` is ``''``, an existing folder, or lies below a file.
        OSError: The file cannot be written (no permission, disk full); the message names ``path``.
    """
    target = _check_target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _reraise(exc, "create the folder of", target) from exc
    remove_stale_temporaries(target.parent, target.name)
    try:
        mode = stat.S_IMODE(target.stat().st_mode) if target.is_file() else 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _reraise(exc, "write", target) from exc
    os.close(fd)
    with _ACTIVE_LOCK:
        _ACTIVE.add(os.path.abspath(tmp))
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        raise _reraise(exc, "write", target) from exc
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(os.path.abspath(tmp))
        if os.path.exists(tmp):
            os.unlink(tmp)
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
        ConfigError: ``config`` is not JSON-serializable, or ``path`` cannot name a file.
        OSError: The file cannot be written; the message names ``path``.
    """
    header = {"kind": kind, "version": FORMAT_VERSION, "config": dict(config or {})}
    try:
        text = json.dumps(header, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config of artifact {kind!r} must be JSON-serializable: {exc}") from exc
    payload = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    return atomic_write(path, lambda tmp: save_file(payload, tmp, metadata={_META_KEY: text}))


def read_artifact_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the validated ``{"kind", "version", "config"}`` header of an artifact without loading tensors.

    Raises:
        ConfigError: The file is missing or not safetensors, or its header is not a JSON object that fits
            :class:`ArtifactHeader` (the message names the file and the field).
    """
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
    try:
        raw = json.loads(metadata[_META_KEY])
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"header {_META_KEY!r} of artifact {str(p)!r} must be JSON, got a decode error: {exc}"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"header {_META_KEY!r} of artifact {str(p)!r} must be a JSON object, got {type(raw).__name__}"
        )
    try:
        header = ArtifactHeader.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"field {'.'.join(str(x) for x in e['loc']) or '<header>'}: {e['msg']}, got {e.get('input')!r}"
            for e in exc.errors()
        )
        raise ConfigError(f"header of artifact {str(p)!r} is invalid: {problems}") from None
    return header.model_dump()


def load_artifact(
    path: str | os.PathLike[str], *, kind: str | None = None, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load an artifact written by :func:`save_artifact`.

    Args:
        path: The artifact file.
        kind: If given, the artifact's kind must equal it.
        device: Where to put the tensors (must exist on this machine).

    Returns:
        ``(tensors, config)``.

    Raises:
        ConfigError: The file is missing, unreadable, of another kind or of a newer format version, or
            ``device`` is unknown or not available.
        ShapeError: A floating tensor holds NaN or infinite values.
    """
    dev = check_device(device, "device")
    header = read_artifact_header(path)
    if kind is not None and header["kind"] != kind:
        raise ConfigError(f"artifact {str(path)!r} must be of kind {kind!r}, got {header['kind']!r}")
    tensors: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open is not a Mapping
                tensors[name] = handle.get_tensor(name)
    except Exception as exc:  # a truncated or tampered body
        raise ConfigError(f"artifact {str(path)!r} has unreadable tensor data: {exc}") from exc
    for name, tensor in tensors.items():
        check_finite(tensor, f"tensor {name!r} of artifact {str(path)!r}")
    if dev.type != "cpu":
        tensors = {name: t.to(dev) for name, t in tensors.items()}
    return tensors, dict(header["config"])

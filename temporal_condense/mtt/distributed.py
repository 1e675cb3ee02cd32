"""``torch.distributed`` helpers for expert training and multi-process trajectory matching.

Everything here is a no-op (or returns the single-process answer) when the process is not part of an
initialized process group, so the same code runs under ``python script.py`` and under
``torchrun --nproc_per_node=N script.py``.

Rank and world size are read from the initialized process group when there is one, else from the
``RANK`` / ``WORLD_SIZE`` environment variables that ``torchrun`` sets, else ``0`` / ``1``. Splitting
experts across ranks needs no communication, so :func:`train_experts
<temporal_condense.mtt.experts.train_experts>` works under ``torchrun`` even without a process group;
:func:`all_reduce_grads` needs one (see :func:`init_distributed`).

Example:
    >>> import torch
    >>> from temporal_condense.mtt.distributed import all_reduce_grads, get_world_size, shard_indices
    >>> get_world_size()  # not launched by torchrun
    1
    >>> shard_indices(5, rank=1, world_size=2)
    [1, 3]
    >>> w = torch.nn.Parameter(torch.ones(3)); w.grad = torch.full((3,), 2.0)
    >>> all_reduce_grads([w])  # no process group: the gradient is left as it is
    >>> w.grad.tolist()
    [2.0, 2.0, 2.0]
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import torch
import torch.distributed as dist

from temporal_condense._checks import check_int
from temporal_condense.errors import ConfigError

__all__ = [
    "all_reduce_grads",
    "all_reduce_mean",
    "barrier",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_distributed",
    "shard_indices",
]

logger = logging.getLogger(__name__)


def is_distributed() -> bool:
    """Return ``True`` when ``torch.distributed`` is available and a process group is initialized."""
    return dist.is_available() and dist.is_initialized()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def get_world_size() -> int:
    """Number of processes: the process group's size, else ``$WORLD_SIZE`` (torchrun), else 1."""
    if is_distributed():
        return int(dist.get_world_size())
    return max(1, _env_int("WORLD_SIZE", 1))


def get_rank() -> int:
    """This process's rank: the process group's rank, else ``$RANK`` (torchrun), else 0."""
    if is_distributed():
        return int(dist.get_rank())
    return _env_int("RANK", 0)


def init_distributed(backend: str | None = None, init_method: str | None = None) -> bool:
    """Initialize the default process group from torchrun's environment, if there is more than one process.

    Args:
        backend: ``"gloo"`` or ``"nccl"``; default ``"nccl"`` when CUDA is available, else ``"gloo"``.
        init_method: Passed to :func:`torch.distributed.init_process_group` (default ``env://``).

    Returns:
        ``True`` if a process group is initialized after the call (already or now), ``False`` for a
        single process.
    """
    if is_distributed():
        return True
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size <= 1 or not dist.is_available():
        return False
    chosen = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    dist.init_process_group(backend=chosen, init_method=init_method)
    logger.info("initialized process group: backend=%s rank=%d world_size=%d", chosen, get_rank(), world_size)
    return True


def shard_indices(n: int, rank: int | None = None, world_size: int | None = None) -> list[int]:
    """Indices ``k`` in ``range(n)`` owned by ``rank``: those with ``k % world_size == rank``.

    Args:
        n: Number of items (for example experts).
        rank: This process's rank (default :func:`get_rank`).
        world_size: Number of processes (default :func:`get_world_size`).

    Returns:
        The owned indices, ascending. The shards of all ranks partition ``range(n)``.

    Raises:
        ConfigError: ``rank`` is not in ``[0, world_size)`` or a value is not an integer.
    """
    n = check_int(n, "n", minimum=0)
    world = get_world_size() if world_size is None else check_int(world_size, "world_size", minimum=1)
    r = get_rank() if rank is None else check_int(rank, "rank", minimum=0)
    if r >= world:
        raise ConfigError(f"rank must be in [0, world_size={world}), got {r}")
    return list(range(r, n, world))


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    if is_distributed():
        dist.barrier()


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Average ``tensor`` over ranks, in place, and return it (unchanged without a process group)."""
    if is_distributed() and get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor.div_(get_world_size())
    return tensor


def all_reduce_grads(params: Iterable[torch.Tensor]) -> None:
    """Average ``.grad`` of ``params`` across ranks, in place (no-op without a process group).

    Gradients are coalesced into one flat buffer per (device, dtype) so there is one collective per
    group, not one per tensor. Parameters that require grad but have ``grad is None`` get a zero
    gradient first, so every rank takes part in the same collectives (a rank whose minibatch did not
    touch a parameter contributes zero to the average instead of hanging the others).

    Args:
        params: Tensors (typically ``nn.Parameter``) whose ``.grad`` to average. Tensors that do not
            require grad are skipped.

    Shape:
        Any; each ``.grad`` keeps its shape.

    Example:
        >>> # after loss.backward() on every rank:
        >>> # all_reduce_grads(synset.parameters()); optimizer.step()
    """
    plist = [p for p in params if p.requires_grad]
    if not (is_distributed() and get_world_size() > 1) or not plist:
        return
    for p in plist:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    groups: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for p in plist:
        assert p.grad is not None
        groups.setdefault((p.grad.device, p.grad.dtype), []).append(p)
    world = get_world_size()
    # Iterate in a deterministic order so every rank issues the same sequence of collectives.
    for key in sorted(groups, key=lambda k: (str(k[0]), str(k[1]))):
        members = groups[key]
        grads = [p.grad for p in members]
        flat = torch.cat([g.reshape(-1) for g in grads if g is not None])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat.div_(world)
        offset = 0
        for p in members:
            assert p.grad is not None
            n = p.grad.numel()
            p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
            offset += n

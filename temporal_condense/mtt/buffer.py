"""A lazy expert buffer that samples MTT windows ``(theta_start, theta_target)`` across files.

MTT picks an expert trajectory, draws ``start_epoch = randint(0, max_start_epoch)`` (NumPy's exclusive
upper bound: ``0 <= start_epoch < max_start_epoch``), and matches the student, started at snapshot
``start_epoch``, against snapshot ``start_epoch + expert_epochs``.

:class:`ExpertBuffer` does the same over any mix of our expert files and published ``replay_buffer_N.pt``
files. It visits every trajectory once per cycle: files in a shuffled order, the trajectories of a file
in a shuffled order, and when a file is exhausted it **loads the next file** (the published video loop
prints "loading file ..." and then reshuffles the same buffer, so only its first file is ever used).
After the last file it reshuffles the files and starts a new cycle. All draws come from one seeded
``torch.Generator``. Our files are read lazily: a window materializes only its two snapshots.

Example:
    >>> import tempfile, torch
    >>> from temporal_condense.mtt.experts import save_expert
    >>> from temporal_condense.mtt.buffer import ExpertBuffer
    >>> d = tempfile.mkdtemp()
    >>> for k in range(2):
    ...     _ = save_expert(f"{d}/expert_{k:05d}.safetensors", torch.rand(5, 3), param_shapes=[(3,)])
    >>> buffer = ExpertBuffer(d, expert_epochs=2, max_start_epoch=3, seed=0)
    >>> theta_start, theta_target = buffer.sample()
    >>> theta_start.shape, theta_target.shape
    (torch.Size([3]), torch.Size([3]))
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import torch

from temporal_condense._checks import check_int
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.mtt.distributed import get_rank, get_world_size
from temporal_condense.mtt.experts import (
    ExpertTrajectory,
    expert_files,
    published_files,
    read_published_buffer,
)

__all__ = ["ExpertBuffer", "ExpertWindow"]

logger = logging.getLogger(__name__)


class _Trajectory(Protocol):
    @property
    def num_snapshots(self) -> int: ...

    @property
    def num_params(self) -> int: ...

    def snapshot(
        self, epoch: int, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
    ) -> torch.Tensor: ...


class ExpertWindow(NamedTuple):
    """One sampled window: the two flat snapshots and where they came from."""

    theta_start: torch.Tensor
    theta_target: torch.Tensor
    start_epoch: int
    target_epoch: int
    source: str
    expert: int


def _discover(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    items = [source] if isinstance(source, str | os.PathLike) else list(source)
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = expert_files(p) + published_files(p)
            if not found:
                raise ConfigError(
                    f"source folder {str(p)!r} must hold expert_K.safetensors or replay_buffer_N.pt files, got none"
                )
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise ConfigError(f"source must be existing files or folders, got {str(p)!r} (not found)")
    if not files:
        raise ConfigError(f"source must name at least one expert file, got {source!r}")
    return files


def _below_common_folder(files: Sequence[Path]) -> list[str]:
    """Each file's path relative to the folder that holds all of them."""
    if not files:
        return []
    root = os.path.commonpath([str(f.parent) for f in files])
    return [os.path.relpath(str(f), root) for f in files]


class ExpertBuffer:
    """Samples MTT windows from expert trajectories stored in many files, lazily and reproducibly.

    Args:
        source: A folder (all its ``expert_K.safetensors`` and ``replay_buffer_N.pt`` files), a file, or
            a list of them.
        expert_epochs: ``M``: the target snapshot is ``start_epoch + expert_epochs``.
        max_start_epoch: ``start_epoch`` is drawn uniformly from ``[0, max_start_epoch)``.
        seed: Seed of the buffer's ``torch.Generator`` (file order, trajectory order, start epochs).
        shuffle: Shuffle files and the trajectories within a file (MTT does); ``False`` keeps the order.
        max_files: Use only this many files (taken after the first shuffle, as MTT's ``--max_files``).
        max_experts: Use only the first ``max_experts`` trajectories of each file (MTT's ``--max_experts``).
        num_params: If given, every trajectory must have this many parameters (e.g. the student's).
        device: Where the returned snapshots go.
        dtype: Their dtype (default: as stored).
        rank: With ``world_size``, use only the files ``i`` (in sorted order) with
            ``i % world_size == rank``, so ranks match disjoint experts. ``None`` (default): every
            rank sees all files (seed the ranks differently instead). Pass ``"auto"`` to shard by the
            detected rank/world size.
        world_size: See ``rank``.

    Raises:
        ConfigError: No files; ``max_start_epoch - 1 + expert_epochs`` is beyond a trajectory's last
            snapshot (checked from the headers of our files on construction, and for published files
            when they are opened); bad sharding.
        ShapeError: Trajectories with different numbers of parameters.

    Shape:
        Each sampled snapshot: ``[P]`` (flat, ``parameters()`` order).

    Example:
        >>> # buffer = ExpertBuffer("buffers/ucf", expert_epochs=2, max_start_epoch=10, seed=0)
        >>> # for it in range(iterations):
        >>> #     theta_start, theta_target = buffer.sample()
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        expert_epochs: int,
        max_start_epoch: int,
        seed: int = 0,
        shuffle: bool = True,
        max_files: int | None = None,
        max_experts: int | None = None,
        num_params: int | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        rank: int | str | None = None,
        world_size: int | None = None,
    ) -> None:
        self.expert_epochs = check_int(expert_epochs, "expert_epochs", minimum=1)
        self.max_start_epoch = check_int(max_start_epoch, "max_start_epoch", minimum=1)
        self.seed = check_int(seed, "seed", minimum=0)
        self.shuffle = bool(shuffle)
        self.max_experts = None if max_experts is None else check_int(max_experts, "max_experts", minimum=1)
        self.num_params = None if num_params is None else check_int(num_params, "num_params", minimum=1)
        self.device = torch.device(device)
        self.dtype = dtype
        files = sorted(_discover(source), key=lambda p: (str(p.parent), p.name))
        files = self._shard(files, rank, world_size)
        for f in files:
            if f.suffix == ".safetensors":
                self._check_header(f)
        self.generator = torch.Generator().manual_seed(self.seed)
        if self.shuffle:
            files = [files[i] for i in torch.randperm(len(files), generator=self.generator).tolist()]
        if max_files is not None:
            files = files[: check_int(max_files, "max_files", minimum=1)]
        self.files: list[Path] = files
        self._file_pos = -1  # index in self.files of the file currently open
        self._queue: list[tuple[int, _Trajectory]] = []
        self.cycles = 0  # completed passes over all files
        self.files_opened = 0

    # ---------------------------------------------------------------------------------- validation
    @staticmethod
    def _shard(files: list[Path], rank: int | str | None, world_size: int | None) -> list[Path]:
        if rank is None and world_size is None:
            return files
        if rank == "auto":
            r, w = get_rank(), get_world_size()
        elif isinstance(rank, str):
            raise ConfigError(f"rank must be an integer, 'auto' or None, got {rank!r}")
        else:
            if rank is None or world_size is None:
                raise ConfigError(f"rank and world_size must be given together, got {rank!r} and {world_size!r}")
            w = check_int(world_size, "world_size", minimum=1)
            r = check_int(rank, "rank", minimum=0)
            if r >= w:
                raise ConfigError(f"rank must be in [0, world_size={w}), got {r}")
        shard = files[r::w]
        if not shard:
            raise ConfigError(f"rank {r} of world_size {w} gets no files: there are only {len(files)} file(s)")
        return shard

    def _needed(self) -> int:
        """Highest snapshot index a window can ask for."""
        return self.max_start_epoch - 1 + self.expert_epochs

    def _check_length(self, num_snapshots: int, where: str) -> None:
        if self._needed() > num_snapshots - 1:
            raise ConfigError(
                f"max_start_epoch ({self.max_start_epoch}) + expert_epochs ({self.expert_epochs}) must be "
                f"<= the recorded snapshots ({num_snapshots}, epochs 0..{num_snapshots - 1}) of {where}: "
                f"a window can reach snapshot {self._needed()}"
            )

    def _check_params(self, num_params: int, where: str) -> None:
        if self.num_params is None:
            self.num_params = num_params
        elif num_params != self.num_params:
            raise ShapeError(f"{where} must have {self.num_params} parameters, got {num_params}")

    def _check_header(self, path: Path) -> None:
        # Opening validates the header and what is stored (names, shapes, dtypes) without reading tensors.
        expert = ExpertTrajectory(path)
        self._check_length(expert.num_snapshots, repr(str(path)))
        self._check_params(expert.num_params, repr(str(path)))

    # ------------------------------------------------------------------------------------ sampling
    def _open(self, path: Path) -> list[tuple[int, _Trajectory]]:
        trajs: list[_Trajectory] = (
            [ExpertTrajectory(path)] if path.suffix == ".safetensors" else list(read_published_buffer(path))
        )
        if self.max_experts is not None:
            trajs = trajs[: self.max_experts]
        for i, t in enumerate(trajs):
            self._check_length(t.num_snapshots, f"trajectory {i} of {str(path)!r}")
            self._check_params(t.num_params, f"trajectory {i} of {str(path)!r}")
        order = list(range(len(trajs)))
        if self.shuffle and len(order) > 1:
            order = torch.randperm(len(order), generator=self.generator).tolist()
        self.files_opened += 1
        logger.debug("expert buffer: opened %s (%d trajectories)", path, len(trajs))
        # Popped from the end: reverse so trajectories come out in `order`.
        return [(i, trajs[i]) for i in reversed(order)]

    def _next_trajectory(self) -> tuple[Path, int, _Trajectory]:
        while not self._queue:
            # The current file is exhausted: move on to the NEXT file (and drop the old one).
            self._file_pos += 1
            if self._file_pos == len(self.files):
                self._file_pos = 0
                self.cycles += 1
                if self.shuffle and len(self.files) > 1:
                    perm = torch.randperm(len(self.files), generator=self.generator).tolist()
                    self.files = [self.files[i] for i in perm]
            self._queue = self._open(self.files[self._file_pos])
        index, traj = self._queue.pop()
        return self.files[self._file_pos], index, traj

    def sample_window(self) -> ExpertWindow:
        """Draw the next trajectory and a window in it.

        Returns:
            An :class:`ExpertWindow` with ``theta_start`` (snapshot ``start_epoch``) and ``theta_target``
            (snapshot ``start_epoch + expert_epochs``), each ``[P]`` on ``device``.
        """
        path, index, traj = self._next_trajectory()
        start = int(torch.randint(0, self.max_start_epoch, (1,), generator=self.generator))
        target = start + self.expert_epochs
        theta_start = traj.snapshot(start, device=self.device, dtype=self.dtype)
        theta_target = traj.snapshot(target, device=self.device, dtype=self.dtype)
        return ExpertWindow(theta_start, theta_target, start, target, str(path), index)

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw a window and return ``(theta_start, theta_target)``, each ``[P]``."""
        window = self.sample_window()
        return window.theta_start, window.theta_target

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless stream of ``(theta_start, theta_target)`` windows."""
        while True:
            yield self.sample()

    # ------------------------------------------------------------------------------- resumable state
    def state_dict(self) -> dict[str, Any]:
        """The sampling position: generator state, file order, open file and its remaining trajectories.

        Restoring it with :meth:`load_state_dict` (on a buffer built with the same arguments) continues with
        exactly the windows an uninterrupted buffer would draw. ``"generator"`` is a ``uint8`` tensor; every
        other value is JSON-serializable.

        Example:
            >>> import tempfile, torch
            >>> from temporal_condense.mtt.experts import save_expert
            >>> d = tempfile.mkdtemp()
            >>> for k in range(3):
            ...     _ = save_expert(f"{d}/expert_{k:05d}.safetensors", torch.rand(4, 2), param_shapes=[(2,)])
            >>> a = ExpertBuffer(d, expert_epochs=1, max_start_epoch=2, seed=0)
            >>> _ = a.sample(); state = a.state_dict()
            >>> b = ExpertBuffer(d, expert_epochs=1, max_start_epoch=2, seed=0); b.load_state_dict(state)
            >>> all(torch.equal(x, y) for x, y in zip(a.sample(), b.sample()))
            True
        """
        return {
            "generator": self.generator.get_state(),
            "files": [str(f) for f in self.files],
            "file_pos": self._file_pos,
            "queue": [index for index, _ in self._queue],
            "cycles": self.cycles,
            "files_opened": self.files_opened,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a position saved by :meth:`state_dict` (the buffer must draw from the same files).

        Raises:
            ConfigError: The state is malformed or names other files than this buffer's.
        """
        try:
            files = [Path(f) for f in state["files"]]
            file_pos = int(state["file_pos"])
            queue = [int(i) for i in state["queue"]]
            generator = state["generator"]
            cycles, opened = int(state["cycles"]), int(state["files_opened"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"state must come from ExpertBuffer.state_dict(), got a bad entry: {exc!r}") from None
        # Files are matched by their path below the files' common folder, so a state saved with the buffer's
        # folder elsewhere (a copied run) resumes on this buffer's own files.
        mine = dict(zip(_below_common_folder(self.files), self.files))
        theirs = _below_common_folder(files)
        if sorted(theirs) != sorted(mine):
            raise ConfigError(
                f"state names other expert files than this buffer's: {sorted(theirs)[:3]}... vs {sorted(mine)[:3]}..."
            )
        files = [mine[name] for name in theirs]
        if not isinstance(generator, torch.Tensor) or generator.dtype != torch.uint8:
            raise ConfigError(f"state['generator'] must be a uint8 tensor, got {type(generator).__name__}")
        if not -1 <= file_pos < len(files):
            raise ConfigError(f"state['file_pos'] must be in [-1, {len(files)}), got {file_pos}")
        trajs: list[_Trajectory] = []
        if queue:
            path = files[file_pos]
            trajs = [ExpertTrajectory(path)] if path.suffix == ".safetensors" else list(read_published_buffer(path))
            if max(queue) >= len(trajs) or min(queue) < 0:
                raise ConfigError(
                    f"state['queue'] indexes trajectories {queue} of {str(path)!r}, which has {len(trajs)}"
                )
        self.files = files
        self._file_pos = file_pos
        self._queue = [(i, trajs[i]) for i in queue]
        self.generator.set_state(generator)
        self.cycles, self.files_opened = cycles, opened

    @property
    def num_files(self) -> int:
        """Number of files this buffer draws from."""
        return len(self.files)

    def __repr__(self) -> str:
        return (
            f"ExpertBuffer(files={len(self.files)}, expert_epochs={self.expert_epochs}, "
            f"max_start_epoch={self.max_start_epoch}, seed={self.seed})"
        )

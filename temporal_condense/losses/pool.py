"""The FRePo model pool: a few networks trained online on the synthetic set, reset after a number of updates.

Each distillation iteration draws one member (:meth:`ModelPool.select`), computes the FRePo loss on its
features (:meth:`ModelPool.embed`, weights frozen), updates the synthetic set, and then trains that member
for one step on the updated synthetic set (:meth:`ModelPool.train_step`). As published, a member is trained
with Adam (``betas=(0.9, 0.999)``) on the mean squared error to the synthetic labels, with a linear warm-up
(factor 0.01 -> 1 over ``warmup`` steps) chained with a cosine decay to ``lr / 100`` over
``max_online_updates`` steps, on a random batch of at most ``batch_size`` synthetic samples; after
``max_online_updates`` updates it is replaced by a freshly initialised network. Member ``i`` starts with
its step counter at ``i * (max_online_updates // size)``, so that the members reset at staggered times.

Every random draw (initialisations, member choice, batches) comes from the pool's own seed; the caller's
global RNG is not touched.

Example:
    >>> import torch
    >>> from torch import nn
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.body, self.head = nn.Flatten(), nn.Linear(4, 2)
    ...     def embed(self, x):
    ...         return self.body(x)
    ...     def forward(self, x):
    ...         return self.head(self.embed(x))
    >>> pool = ModelPool(Net, size=2, max_online_updates=3, seed=0)
    >>> _ = pool.select()
    >>> pool.embed(torch.randn(5, 1, 2, 2)).shape
    torch.Size([5, 4])
    >>> pool.train_step(torch.randn(2, 1, 2, 2), torch.tensor([0, 1]))
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from temporal_condense._checks import check_int, check_tensor
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.io import load_artifact, save_artifact
from temporal_condense.losses.frepo import _targets, published_label_scale

__all__ = ["POOL_KIND", "ModelPool"]

#: Artifact kind of :meth:`ModelPool.save`.
POOL_KIND = "FRePoModelPool"

ModelFn = Callable[[], nn.Module]


@dataclass
class _Member:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    step: int


def _positive_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise ConfigError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


class ModelPool:
    """A pool of ``size`` online-trained networks for FRePo (see the module docstring).

    Args:
        model_fn: Builds a fresh network with ``embed(x)`` (features) and ``forward(x)`` (``num_classes``
            outputs), e.g. ``lambda: get_model("ConvNet3D", ...)``. Called inside a forked RNG seeded by the
            pool, so initialisations are reproducible.
        size: Number of members (published ``num_nn_state = 10``).
        max_online_updates: Updates before a member is re-initialised (published 100).
        lr: Adam learning rate of the members (published default ``1e-3``; the run scripts use ``1e-4``).
        warmup: Linear warm-up steps (published 500).
        batch_size: Synthetic samples per online update (published 500; all of them when fewer).
        seed: Seed of every draw of the pool.
        device: Where the members live (default: where ``model_fn`` puts them).

    Raises:
        ConfigError: A bad argument, or a network without ``embed``.
    """

    def __init__(
        self,
        model_fn: ModelFn,
        size: int = 10,
        *,
        max_online_updates: int = 100,
        lr: float = 1e-3,
        warmup: int = 500,
        batch_size: int = 500,
        seed: int = 0,
        device: torch.device | str | None = None,
    ) -> None:
        if not callable(model_fn):
            raise ConfigError(f"model_fn must be a callable returning a network, got {type(model_fn).__name__}")
        self.model_fn = model_fn
        self.size = check_int(size, "size")
        self.max_online_updates = check_int(max_online_updates, "max_online_updates")
        self.lr = _positive_float(lr, "lr")
        self.warmup = check_int(warmup, "warmup")
        self.batch_size = check_int(batch_size, "batch_size")
        self.seed = check_int(seed, "seed", minimum=0)
        self.device = None if device is None else torch.device(device)
        self._gen = torch.Generator().manual_seed(self.seed)
        offset = self.max_online_updates // self.size
        self.members: list[_Member] = [self._fresh(step=offset * i) for i in range(self.size)]
        self.current = 0
        self.resets = 0

    # ------------------------------------------------------------------------------------------ building
    def _fresh(self, step: int = 0) -> _Member:
        init_seed = int(torch.randint(2**62, (1,), generator=self._gen))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            model = self.model_fn()
        if not isinstance(model, nn.Module) or not callable(getattr(model, "embed", None)):
            raise ConfigError(f"model_fn must return an nn.Module with an embed(x) method, got {type(model).__name__}")
        if self.device is not None:
            model = model.to(self.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr, betas=(0.9, 0.999))
        scheduler = torch.optim.lr_scheduler.ChainedScheduler(
            [
                torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=self.warmup),
                torch.optim.lr_scheduler.CosineAnnealingLR(
                    optimizer, T_max=self.max_online_updates, eta_min=self.lr * 0.01
                ),
            ]
        )
        return _Member(model, optimizer, scheduler, step)

    # ------------------------------------------------------------------------------------------ use
    @property
    def model(self) -> nn.Module:
        """The currently selected member's network."""
        return self.members[self.current].model

    def select(self) -> int:
        """Draw the member of this iteration uniformly at random; return its index."""
        self.current = int(torch.randint(self.size, (1,), generator=self._gen))
        return self.current

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Features of ``x`` under the selected member (eval mode, weights not differentiated).

        Shape:
            - x: what the network accepts, ``[B, ...]``. Output: ``[B, D]`` (or what ``embed`` returns).
        """
        model = self.model
        model.eval()
        model.requires_grad_(False)
        embed: Callable[[torch.Tensor], torch.Tensor] = model.embed  # type: ignore[assignment]
        return embed(x)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Alias of :meth:`embed`, so the pool can be passed where a feature function is expected."""
        return self.embed(x)

    def train_step(self, x_syn: torch.Tensor, y_syn: torch.Tensor, steps: int = 1) -> None:
        """Train the selected member for ``steps`` updates on the (detached) synthetic set.

        Args:
            x_syn: Synthetic samples (detached here).
            y_syn: Integer classes ``[N]`` (centred one-hot / ``sqrt(K / 10)``) or float targets ``[N, K]``.
            steps: Number of updates.

        Raises:
            ShapeError: ``x_syn`` and ``y_syn`` disagree in length or the network's output is not ``[B, K]``.

        Shape:
            - x_syn: ``[N, ...]``; y_syn: ``[N]`` or ``[N, K]``.
        """
        steps = check_int(steps, "steps")
        x = check_tensor(x_syn, "x_syn", floating=True).detach()
        member = self.members[self.current]
        model = member.model
        model.train()
        model.requires_grad_(True)
        n = x.shape[0]
        y: torch.Tensor | None = None
        for _ in range(steps):
            pick = torch.randperm(n, generator=self._gen)[: self.batch_size] if n >= self.batch_size else None
            xb = x if pick is None else x[pick.to(x.device)]
            member.optimizer.zero_grad(set_to_none=True)
            out = model(xb)
            if y is None:
                if out.ndim != 2:
                    raise ShapeError(f"the network must output [B, num_classes], got {tuple(out.shape)}")
                k = out.shape[1]
                y = _targets(y_syn, "y_syn", n, k, published_label_scale(k), out.dtype).detach().to(out.device)
            yb = y if pick is None else y[pick.to(y.device)]
            F.mse_loss(out, yb).backward()
            member.optimizer.step()
            member.scheduler.step()
        member.step += steps
        if member.step >= self.max_online_updates:
            self.members[self.current] = self._fresh()
            self.resets += 1

    # ------------------------------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-exactly: members, optimizers, schedulers, steps, RNG."""
        return {
            "members": [
                {
                    "model": m.model.state_dict(),
                    "optimizer": m.optimizer.state_dict(),
                    "scheduler": m.scheduler.state_dict(),
                    "step": m.step,
                }
                for m in self.members
            ],
            "generator": self._gen.get_state(),
            "current": self.current,
            "resets": self.resets,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the pool must have been built with the same ``model_fn`` and size)."""
        members = state.get("members") if isinstance(state, dict) else None
        if not isinstance(members, list) or len(members) != self.size:
            got = len(members) if isinstance(members, list) else type(members).__name__
            raise ConfigError(f"state must hold {self.size} pool members, got {got}")
        for m, s in zip(self.members, members):
            m.model.load_state_dict(s["model"])
            m.optimizer.load_state_dict(s["optimizer"])
            m.scheduler.load_state_dict(s["scheduler"])
            m.step = int(s["step"])
        self._gen.set_state(state["generator"])
        self.current = int(state["current"])
        self.resets = int(state["resets"])

    def export_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """:meth:`state_dict` split into tensors and a JSON-serializable rest (what :meth:`save` writes)."""
        tensors: dict[str, torch.Tensor] = {"generator": self._gen.get_state()}
        members = []
        for i, m in enumerate(self.members):
            for key, value in m.model.state_dict().items():
                tensors[f"m{i}.model.{key}"] = value.detach().cpu().contiguous()
            sd = m.optimizer.state_dict()
            scalars: dict[str, dict[str, Any]] = {}
            for pid, st in sd["state"].items():
                for key, value in st.items():
                    if isinstance(value, torch.Tensor):
                        tensors[f"m{i}.optim.{pid}.{key}"] = value.detach().cpu().contiguous()
                    else:
                        scalars.setdefault(str(pid), {})[key] = value
            sched = m.scheduler.state_dict()
            members.append({"groups": sd["param_groups"], "scalars": scalars, "scheduler": sched, "step": m.step})
        return tensors, {"size": self.size, "current": self.current, "resets": self.resets, "members": members}

    def import_state(self, tensors: dict[str, torch.Tensor], config: dict[str, Any], source: str = "state") -> None:
        """Restore what :meth:`export_state` returned (same ``model_fn`` and size).

        Raises:
            ConfigError: The state does not fit this pool (the message names ``source``).
        """
        members = config.get("members") if isinstance(config, dict) else None
        if not isinstance(members, list) or len(members) != self.size:
            got = len(members) if isinstance(members, list) else type(members).__name__
            raise ConfigError(f"pool {source} must hold {self.size} members, got {got}")
        try:
            state: dict[str, Any] = {"generator": tensors["generator"], "members": []}
            state["current"], state["resets"] = config["current"], config["resets"]
            for i, meta in enumerate(members):
                model = {k.split(".", 2)[2]: v for k, v in tensors.items() if k.startswith(f"m{i}.model.")}
                opt: dict[int, dict[str, Any]] = {}
                for key, value in tensors.items():
                    if key.startswith(f"m{i}.optim."):
                        _, _, pid, name = key.split(".", 3)
                        opt.setdefault(int(pid), {})[name] = value
                for pid, values in meta["scalars"].items():
                    opt.setdefault(int(pid), {}).update(values)
                state["members"].append(
                    {
                        "model": model,
                        "optimizer": {"state": opt, "param_groups": meta["groups"]},
                        "scheduler": meta["scheduler"],
                        "step": meta["step"],
                    }
                )
            self.load_state_dict(state)
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            raise ConfigError(f"pool {source} does not fit this pool: {exc}") from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the pool to one safetensors artifact (tensors + JSON), atomically; never pickles."""
        tensors, config = self.export_state()
        return save_artifact(path, tensors, kind=POOL_KIND, config=config)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Restore a pool written by :meth:`save` into this pool (same ``model_fn`` and size).

        Raises:
            ConfigError: Not a pool artifact, or it does not fit this pool.
        """
        tensors, config = load_artifact(path, kind=POOL_KIND)
        self.import_state(tensors, config, source=f"file {str(path)!r}")

    def __repr__(self) -> str:
        return (
            f"ModelPool(size={self.size}, max_online_updates={self.max_online_updates}, lr={self.lr}, "
            f"batch_size={self.batch_size}, seed={self.seed})"
        )

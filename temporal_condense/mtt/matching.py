"""Trajectory-matching loss (MTT) with an exact, constant-activation-memory ``"checkpointed"`` mode.

The loss of Cazenavette et al. (MTT, CVPR 2022): start a student at an expert's parameters
``theta_0 = theta*_t``, take ``syn_steps`` SGD steps on synthetic minibatches with a learnable learning rate
``syn_lr``, and compare the result with the expert ``expert_epochs`` later::

    theta_{i+1} = theta_i - syn_lr * grad_theta CE(student(x_i; theta_i), y_i)
    L = ||theta_N - theta*_{t+M}||^2 / ||theta_0 - theta*_{t+M}||^2

Two modes return the same value and, after ``loss.backward()``, the same gradients for the synthetic set's
trainable parameters and ``syn_lr``:

* ``"unrolled"`` — the original: one autograd graph through all ``syn_steps`` (activation memory grows
  linearly with ``syn_steps``).
* ``"checkpointed"`` — a :class:`torch.autograd.Function` whose forward runs the steps keeping only the
  parameter iterates ``theta_i`` (one flat vector per step) and the random draws, and whose backward walks
  back from the last step: it re-renders step ``i``'s minibatch from the synthetic set's parameters,
  rebuilds that step's graph, and with the adjoint ``a = dL/dtheta_{i+1}`` takes one Hessian-vector product
  ``d(g_i . a)`` to get ``a_i = a - syn_lr * H_i a``, the contribution ``-syn_lr (dg_i/dphi)^T a`` to the
  synthetic parameters ``phi`` and ``-g_i . a`` to ``syn_lr``. Exact (not TESLA's approximation).

Randomness is replayed exactly. Before the unroll, a plan is drawn from ``generator`` (or torch's global
RNG when ``generator`` is ``None``): per step, the minibatch indices (MTT's scheme: a random permutation of
all synthetic videos, split into ``batch_syn`` chunks, consumed from the end, a fresh permutation when
exhausted) and a 62-bit seed. Step ``i`` then runs inside ``torch.random.fork_rng()`` after
``torch.manual_seed(seed_i)`` and renders with a CPU ``torch.Generator`` seeded with ``seed_i``, so the
static/dynamic pairing, render hooks (kornia augmentation) and the student's dropout draw the same numbers
in the forward pass, in the backward walk and in both modes. The caller's global RNG stream is not
consumed by the steps (only by the plan, when no generator is given).

Example:
    >>> import torch
    >>> from torch import nn
    >>> from temporal_condense.mtt import matching, student
    >>> class Toy(nn.Module):  # a stand-in for a synthetic set: 4 videos, 2 classes
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.videos = nn.Parameter(torch.randn(4, 2, 1, 3, 3))
    ...     def __len__(self):
    ...         return 4
    ...     def forward(self, indices=None, generator=None):
    ...         idx = torch.as_tensor(indices)
    ...         return self.videos[idx], idx // 2
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(18, 2))
    >>> st = student.FlatStudent(net)
    >>> theta0 = st.flatten()
    >>> target = theta0 + 0.1
    >>> syn_lr = matching.make_syn_lr(0.01)
    >>> loss = matching.trajectory_matching_loss(st, Toy(), theta0, target, syn_lr, syn_steps=3,
    ...                                          mode="checkpointed")
    >>> loss.backward()
    >>> syn_lr.grad is not None
    True
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn
from torch.utils.hooks import RemovableHandle

from temporal_condense._checks import check_tensor, validate_config
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.mtt.student import FlatStudent

__all__ = [
    "MODES",
    "TrajectoryMatcher",
    "TrajectoryMatchingConfig",
    "clamp_after_step",
    "make_syn_lr",
    "trajectory_matching_loss",
]

Mode = Literal["unrolled", "checkpointed"]
MODES: tuple[str, ...] = ("unrolled", "checkpointed")
Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
_SEED_HIGH = 2**62


class TrajectoryMatchingConfig(BaseModel):
    """Settings of the inner loop.

    Attributes:
        syn_steps: Student SGD steps on synthetic data per matching (MTT's ``syn_steps``).
        batch_syn: Synthetic videos per step; ``None`` = all of them (full batch, MTT's default).
        mode: ``"unrolled"`` (one graph through all steps) or ``"checkpointed"`` (same gradient, activation
            memory independent of ``syn_steps``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    syn_steps: int = Field(ge=1)
    batch_syn: int | None = Field(default=None, ge=1)
    mode: Mode = "unrolled"


def _config(**kwargs: Any) -> TrajectoryMatchingConfig:
    return validate_config(TrajectoryMatchingConfig, kwargs)


# ---------------------------------------------------------------------------------------------- syn_lr
def make_syn_lr(value: float = 0.01, *, dtype: torch.dtype = torch.float32, device: Any = None) -> torch.Tensor:
    """A learnable synthetic learning rate: a 0-dim leaf tensor with ``requires_grad=True``.

    Args:
        value: Initial value (MTT's ``lr_teacher``), > 0.
        dtype: Its dtype.
        device: Its device.

    Example:
        >>> make_syn_lr(0.01).requires_grad
        True
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"value must be a positive number, got {value!r}")
    return torch.tensor(float(value), dtype=dtype, device=device).requires_grad_(True)


def clamp_after_step(
    optimizer: torch.optim.Optimizer,
    tensor: torch.Tensor,
    *,
    min: float | None = None,
    max: float | None = None,
) -> RemovableHandle:
    """Clamp ``tensor`` in place after every ``optimizer.step()`` (an optimizer step post-hook).

    Keeps per-step actions such as "the synthetic lr stays positive" out of the user's loop.

    Args:
        optimizer: The optimizer that updates ``tensor``.
        tensor: The tensor to clamp (e.g. ``syn_lr``).
        min: Lower bound (or ``None``).
        max: Upper bound (or ``None``).

    Returns:
        The hook handle (``handle.remove()`` detaches it).

    Example:
        >>> import torch
        >>> lr = make_syn_lr(0.01)
        >>> opt = torch.optim.SGD([lr], lr=1.0)
        >>> _ = clamp_after_step(opt, lr, min=1e-4)
        >>> lr.grad = torch.tensor(1.0)
        >>> opt.step()
        >>> round(lr.item(), 6)
        0.0001
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ConfigError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    check_tensor(tensor, "tensor", floating=True)
    if min is None and max is None:
        raise ConfigError("clamp_after_step needs min or max, got neither")
    if min is not None and max is not None and min > max:
        raise ConfigError(f"min must be <= max, got min={min}, max={max}")

    def hook(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        with torch.no_grad():
            tensor.clamp_(min=min, max=max)

    return optimizer.register_step_post_hook(hook)


# -------------------------------------------------------------------------------------- synthetic set
class _Renderer:
    """What the student trains on: ``len``, trainable tensors and a differentiable ``render(indices, generator)``.

    Not a data source (see :class:`~temporal_condense.data.VideoSource` for reading data): it renders a synthetic
    set WITH its graph, so the matching loss reaches the set's parameters.
    """

    def __init__(self, synset: object) -> None:
        if isinstance(synset, nn.Module):
            try:
                n = len(synset)  # type: ignore[arg-type]
            except TypeError:
                raise ConfigError(
                    f"synset must define __len__ (number of synthetic videos), got {type(synset).__name__}"
                ) from None
            self.n = int(n)
            self.params: list[torch.Tensor] = [p for p in synset.parameters() if p.requires_grad]
            module = synset

            def render(idx: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
                out = module(idx, generator=gen)
                return out[0], out[1]

        elif isinstance(synset, (tuple, list)) and len(synset) == 2:
            videos = check_tensor(synset[0], "synset[0] (videos)", floating=True)
            labels = check_tensor(synset[1], "synset[1] (labels)")
            if labels.shape[0] != videos.shape[0]:
                raise ShapeError(
                    f"synset labels must have {videos.shape[0]} rows (one per video), got {labels.shape[0]}"
                )
            self.n = int(videos.shape[0])
            self.params = [t for t in (videos, labels) if t.requires_grad]

            def render(idx: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
                dev = videos.device
                return videos[idx.to(dev)], labels[idx.to(labels.device)]

        else:
            raise ConfigError(
                "synset must be a synthetic set (nn.Module called as synset(indices, generator=...)) "
                f"or a (videos, labels) pair of tensors, got {type(synset).__name__}"
            )
        if self.n < 1:
            raise ConfigError(f"synset must hold at least 1 video, got {self.n}")
        self.render = render


@dataclass(frozen=True)
class _Plan:
    indices: list[torch.Tensor]
    seeds: list[int]


def _draw_plan(n: int, batch: int, steps: int, generator: torch.Generator | None) -> _Plan:
    """MTT's minibatch scheme (permutation, chunks, popped from the end) plus one seed per step."""
    chunks: list[torch.Tensor] = []
    indices: list[torch.Tensor] = []
    seeds: list[int] = []
    for _ in range(steps):
        if not chunks:
            chunks = list(torch.randperm(n, generator=generator).split(batch))
        indices.append(chunks.pop())
        seeds.append(int(torch.randint(0, _SEED_HIGH, (1,), generator=generator)))
    return _Plan(indices, seeds)


@contextlib.contextmanager
def _replay(seed: int, device: torch.device) -> Iterator[torch.Generator]:
    """Fork torch's RNG, seed it with ``seed`` and yield a CPU generator seeded the same way."""
    devices = (
        [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    )
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)


class _Inner:
    """Everything one matching needs; shared by both modes."""

    def __init__(
        self,
        student: FlatStudent,
        source: _Renderer,
        criterion: Criterion,
        plan: _Plan,
        start: torch.Tensor,
        target: torch.Tensor,
    ) -> None:
        self.student = student
        self.source = source
        self.criterion = criterion
        self.plan = plan
        self.start = start
        self.target = target

    def step_loss(self, i: int, theta: torch.Tensor, *, syn_grad: bool) -> torch.Tensor:
        """Cross-entropy of step ``i`` at ``theta``, with the step's random draws replayed."""
        with _replay(self.plan.seeds[i], theta.device) as gen:
            with torch.set_grad_enabled(syn_grad and torch.is_grad_enabled()):
                x, y = self.source.render(self.plan.indices[i], gen)
            return self.criterion(self.student(x, theta), y)

    def denominator(self) -> torch.Tensor:
        return F.mse_loss(self.start, self.target, reduction="sum")


class _CheckpointedUnroll(torch.autograd.Function):
    """Inputs: the inner problem, ``syn_lr`` and the synthetic set's trainable tensors. Output: the loss."""

    @staticmethod
    def forward(ctx: Any, inner: _Inner, syn_lr: torch.Tensor, *syn_params: torch.Tensor) -> torch.Tensor:
        lr = syn_lr.detach()
        theta = inner.start.detach()
        thetas = [theta]
        for i in range(len(inner.plan.seeds)):
            with torch.enable_grad():
                th = theta.detach().requires_grad_(True)
                loss = inner.step_loss(i, th, syn_grad=False)
                (g,) = torch.autograd.grad(loss, th)
            theta = theta - lr * g
            thetas.append(theta)
        ctx.inner = inner
        ctx.lr_shape = syn_lr.shape
        # saved tensors are freed after backward (kept with retain_graph=True), unlike ctx attributes
        ctx.save_for_backward(lr, *thetas)
        num = F.mse_loss(theta, inner.target, reduction="sum")
        return num / inner.denominator()

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        inner: _Inner = ctx.inner
        lr, *thetas = ctx.saved_tensors
        params = inner.source.params
        need_lr = ctx.needs_input_grad[1]
        need_params = [bool(ctx.needs_input_grad[2 + k]) for k in range(len(params))]
        # a = dL/dtheta_N
        a = grad_out * 2.0 * (thetas[-1] - inner.target) / inner.denominator()
        grad_lr = torch.zeros((), dtype=lr.dtype, device=lr.device)
        grad_params: list[torch.Tensor | None] = [None] * len(params)
        wrt_params = [p for p, need in zip(params, need_params) if need]
        for i in reversed(range(len(inner.plan.seeds))):
            thetas.pop()  # theta_{i+1} is no longer needed
            with torch.enable_grad():
                th = thetas[i].detach().requires_grad_(True)
                loss = inner.step_loss(i, th, syn_grad=bool(wrt_params))
                (g,) = torch.autograd.grad(loss, th, create_graph=True)
                dot = torch.sum(g * a)
                grads = torch.autograd.grad(dot, [th, *wrt_params], allow_unused=True)
            if need_lr:
                grad_lr = grad_lr - torch.sum(g.detach() * a)
            it = iter(grads[1:])
            for k, need in enumerate(need_params):
                if not need:
                    continue
                gk = next(it)
                if gk is None:
                    continue
                contrib = -lr * gk
                prev = grad_params[k]
                grad_params[k] = contrib if prev is None else prev + contrib
            hv = grads[0]
            if hv is not None:
                a = a - lr * hv
        out_lr = grad_lr.to(lr.dtype).reshape(ctx.lr_shape) if need_lr else None
        return (None, out_lr, *grad_params)


# ------------------------------------------------------------------------------------------ matcher
class TrajectoryMatcher:
    """Trajectory-matching loss for one student architecture and one synthetic set.

    Args:
        student: A :class:`~temporal_condense.mtt.student.FlatStudent` (or an ``nn.Module``, wrapped into
            one; a published loop's ``ReparamModule`` is accepted as it is). Its train/eval mode is used as is
            (the benchmark students keep dropout on: train mode).
        synset: A synthetic set (``synset(indices, generator=...) -> (videos, labels)``, ``len(synset)``;
            its trainable parameters are those with ``requires_grad``) or a ``(videos, labels)`` pair of
            tensors, as in the plain MTT loop.
        syn_steps: Student steps per matching.
        batch_syn: Synthetic videos per step (``None``: all).
        mode: ``"unrolled"`` or ``"checkpointed"``.
        criterion: ``criterion(logits, labels) -> scalar``; default cross-entropy (soft labels work too).

    Shape:
        - ``start_params``, ``target_params``: ``[P]`` flat vectors (or lists of tensors in
          ``parameters()`` order, as stored in expert buffers).
        - Output: a scalar tensor.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> videos = torch.randn(4, 2, 1, 3, 3, requires_grad=True)
        >>> labels = torch.tensor([0, 0, 1, 1])
        >>> st = FlatStudent(nn.Sequential(nn.Flatten(), nn.Linear(18, 2)))
        >>> matcher = TrajectoryMatcher(st, (videos, labels), syn_steps=2, batch_syn=2)
        >>> theta0 = st.flatten()
        >>> loss = matcher(theta0, theta0 + 0.1, make_syn_lr(0.01))
        >>> loss.backward()
        >>> tuple(videos.grad.shape)
        (4, 2, 1, 3, 3)
    """

    def __init__(
        self,
        student: FlatStudent | nn.Module,
        synset: object,
        *,
        syn_steps: int,
        batch_syn: int | None = None,
        mode: str = "unrolled",
        criterion: Criterion = F.cross_entropy,
    ) -> None:
        self.config = _config(syn_steps=syn_steps, batch_syn=batch_syn, mode=mode)
        if isinstance(student, nn.Module):
            student = FlatStudent(student)
        if not isinstance(student, FlatStudent):
            raise ConfigError(f"student must be a FlatStudent or an nn.Module, got {type(student).__name__}")
        if not callable(criterion):
            raise ConfigError(f"criterion must be callable, got {type(criterion).__name__}")
        self.student = student
        self.synset = synset
        self.criterion = criterion
        self._source = _Renderer(synset)

    def _flat(self, params: object, name: str) -> torch.Tensor:
        if isinstance(params, torch.Tensor):
            return self.student.check_flat(params, name).detach()
        if isinstance(params, (list, tuple)):
            try:
                return self.student.flatten(params)
            except ShapeError as exc:
                raise ShapeError(f"{name}: {exc}") from None
        raise ShapeError(f"{name} must be a flat tensor or a list of tensors, got {type(params).__name__}")

    def __call__(
        self,
        start_params: torch.Tensor | Sequence[torch.Tensor],
        target_params: torch.Tensor | Sequence[torch.Tensor],
        syn_lr: torch.Tensor | float,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Run the inner loop from ``start_params`` and return the normalized parameter loss.

        Args:
            start_params: Expert parameters at the start epoch (``theta*_t``).
            target_params: Expert parameters ``expert_epochs`` later (``theta*_{t+M}``).
            syn_lr: The synthetic learning rate (a tensor; learnable when it requires grad) or a float.
            generator: Drives the minibatch indices and the per-step seeds (default: global RNG).

        Returns:
            ``||theta_N - target||^2 / ||start - target||^2``; ``.backward()`` reaches the synthetic set's
            parameters and ``syn_lr`` in both modes. Start and target are treated as constants.
        """
        start = self._flat(start_params, "start_params")
        target = self._flat(target_params, "target_params")
        if start.dtype != target.dtype or start.device != target.device:
            raise ShapeError(
                f"target_params must match start_params' dtype/device {start.dtype}/{start.device}, "
                f"got {target.dtype}/{target.device}"
            )
        if not isinstance(syn_lr, torch.Tensor):
            if isinstance(syn_lr, bool) or not isinstance(syn_lr, (int, float)):
                raise ConfigError(f"syn_lr must be a tensor or a number, got {type(syn_lr).__name__}")
            syn_lr = torch.tensor(float(syn_lr), dtype=start.dtype, device=start.device)
        if syn_lr.numel() != 1 or not syn_lr.is_floating_point():
            raise ShapeError(
                f"syn_lr must be a floating tensor with one element, got shape {tuple(syn_lr.shape)} "
                f"and dtype {syn_lr.dtype}"
            )
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ConfigError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        cfg = self.config
        batch = self._source.n if cfg.batch_syn is None else cfg.batch_syn
        plan = _draw_plan(self._source.n, batch, cfg.syn_steps, generator)
        inner = _Inner(self.student, self._source, self.criterion, plan, start, target)
        if cfg.mode == "checkpointed":
            out: torch.Tensor = _CheckpointedUnroll.apply(inner, syn_lr, *self._source.params)
            return out
        return self._unrolled(inner, syn_lr)

    @staticmethod
    def _unrolled(inner: _Inner, syn_lr: torch.Tensor) -> torch.Tensor:
        student_params = [inner.start.clone().requires_grad_(True)]
        for i in range(len(inner.plan.seeds)):
            ce_loss = inner.step_loss(i, student_params[-1], syn_grad=True)
            grad = torch.autograd.grad(ce_loss, student_params[-1], create_graph=True)[0]
            student_params.append(student_params[-1] - syn_lr * grad)
        num = F.mse_loss(student_params[-1], inner.target, reduction="sum")
        return num / inner.denominator()


def trajectory_matching_loss(
    student: FlatStudent | nn.Module,
    synset: object,
    start_params: torch.Tensor | Sequence[torch.Tensor],
    target_params: torch.Tensor | Sequence[torch.Tensor],
    syn_lr: torch.Tensor | float,
    *,
    syn_steps: int,
    batch_syn: int | None = None,
    mode: str = "unrolled",
    criterion: Criterion = F.cross_entropy,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One MTT matching: ``syn_steps`` student steps on ``synset`` from ``start_params``, compared with
    ``target_params``. Functional form of :class:`TrajectoryMatcher` (see there for the arguments).

    Shape:
        - ``start_params``, ``target_params``: ``[P]`` (or lists of tensors in ``parameters()`` order).
        - Output: scalar.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> videos = torch.randn(4, 2, 1, 3, 3, requires_grad=True)
        >>> st = FlatStudent(nn.Sequential(nn.Flatten(), nn.Linear(18, 2)))
        >>> theta0 = st.flatten()
        >>> loss = trajectory_matching_loss(st, (videos, torch.tensor([0, 0, 1, 1])), theta0, theta0 + 0.1,
        ...                                 0.01, syn_steps=2, mode="checkpointed")
        >>> loss.ndim
        0
    """
    matcher = TrajectoryMatcher(
        student, synset, syn_steps=syn_steps, batch_syn=batch_syn, mode=mode, criterion=criterion
    )
    return matcher(start_params, target_params, syn_lr, generator=generator)

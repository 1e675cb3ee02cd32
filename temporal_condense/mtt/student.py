"""Functional student on a flat parameter vector (the MTT codebases' ``ReparamModule``, without mutation).

Trajectory matching trains a *student* network for a few steps on synthetic data, where the student's
parameters are not ``nn.Parameter`` objects but one flat vector ``theta`` that is itself a node of the
autograd graph (``theta_{i+1} = theta_i - syn_lr * grad``). The published codebases (MTT, DATM, TESLA,
the video-distillation code) do this with ``ReparamModule``, which deletes the module's parameters and
re-installs views of a flat vector. :class:`FlatStudent` gives the same call on top of
:func:`torch.func.functional_call`:

* the flat order is the codebases' order: ``torch.cat([p.reshape(-1) for p in module.parameters()])``
  (shared parameters once, at their first occurrence), so expert buffers written by those codebases
  (lists of tensors in ``parameters()`` order) can be flattened with :meth:`FlatStudent.flatten`;
* the user's module is never mutated: the student works on a private deep copy, and buffers (e.g.
  BatchNorm running statistics) are private copies too;
* any floating dtype works (float64 for gradient checks), as long as the input has the same dtype;
* dropout in train mode draws from torch's global RNG, exactly like the module itself;
* what a published loop reads from its student works: ``student_net(x, flat_param=...)``, ``.train()``,
  ``student_net.parameters()`` (``sum(p.numel() ...)`` is the flat length) and ``.numel``;
* a ``ReparamModule``-style network (a module with one 1-D ``flat_param`` parameter whose ``forward`` takes
  ``flat_param=``, as in the codebases) is accepted as it is: it is called, not copied (its views of
  ``flat_param`` cannot be deep-copied), and uses its own buffers.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from temporal_condense.mtt.student import FlatStudent
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> student = FlatStudent(net)
    >>> theta = student.flatten().requires_grad_(True)
    >>> student.numel
    23
    >>> logits = student(torch.randn(5, 4), theta)
    >>> tuple(logits.shape)
    (5, 2)
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Iterator, Sequence

import torch
from torch import nn
from torch.func import functional_call

from temporal_condense._checks import check_tensor
from temporal_condense.errors import ConfigError, ShapeError

__all__ = ["FlatStudent", "flatten_params"]


def flatten_params(params: Sequence[torch.Tensor] | nn.Module) -> torch.Tensor:
    """Concatenate parameters in ``parameters()`` order into one flat, detached vector.

    This is the flat layout of ``ReparamModule`` and of the MTT expert buffers.

    Args:
        params: A module (its ``parameters()`` are used) or a sequence of tensors in that order.

    Returns:
        A new contiguous 1-D tensor (a copy, without autograd history).

    Shape:
        - Output: ``[sum(p.numel() for p in params)]``.

    Example:
        >>> import torch
        >>> flatten_params([torch.ones(2, 2), torch.zeros(3)]).tolist()
        [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    """
    tensors = list(params.parameters()) if isinstance(params, nn.Module) else list(params)
    if not tensors:
        raise ConfigError("params must hold at least one tensor, got an empty sequence")
    for i, t in enumerate(tensors):
        check_tensor(t, f"params[{i}]", floating=True)
    return torch.cat([t.detach().reshape(-1) for t in tensors], 0).clone()


def _reparam_flat(module: nn.Module) -> torch.Tensor | None:
    """The ``flat_param`` of a ``ReparamModule``-style module (forward takes ``flat_param=``), else ``None``."""
    flat = module._parameters.get("flat_param")
    if not isinstance(flat, nn.Parameter) or flat.ndim != 1:
        return None
    try:
        params = inspect.signature(module.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return None
    return flat if "flat_param" in params else None


class FlatStudent:
    """A network evaluated on a flat parameter vector via :func:`torch.func.functional_call`.

    Args:
        module: The network (any ``nn.Module``). It is deep-copied; the original is never modified. A
            ``ReparamModule``-style module (see the module docstring) is used as it is instead.
        dtype: Optional dtype to convert the private copy to (e.g. ``torch.float64``); not for a
            ``ReparamModule``-style module (convert it before wrapping).

    Attributes:
        names: Parameter names in flat order.
        shapes: Parameter shapes in flat order.
        numels: Parameter sizes in flat order.
        numel: Total number of parameters (length of a flat vector).

    Shape:
        - ``x``: whatever ``module`` accepts (``[B, T, C, H, W]`` for the video students).
        - ``flat_param``: ``[numel]`` (a leading singleton axis, as ``ReparamModule`` accepts, is squeezed).
        - Output: whatever ``module`` returns (logits ``[B, num_classes]``).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> student = FlatStudent(nn.Linear(3, 2))
        >>> student.names
        ('weight', 'bias')
        >>> student(torch.zeros(1, 3), torch.arange(8.0)).tolist()
        [[6.0, 7.0]]
    """

    def __init__(self, module: nn.Module, *, dtype: torch.dtype | None = None) -> None:
        if not isinstance(module, nn.Module):
            raise ConfigError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        flat = _reparam_flat(module)
        self._reparam = flat is not None
        if flat is not None:
            if dtype is not None:
                raise ConfigError(
                    f"dtype= cannot convert a ReparamModule-style {type(module).__name__} (it is used as it is, not "
                    f"copied); convert the network before wrapping it, got dtype={dtype}"
                )
            self._init_reparam(module, flat)
            return
        net = copy.deepcopy(module)
        if dtype is not None:
            net = net.to(dtype=dtype)
        named = list(net.named_parameters())  # shared parameters appear once, at first occurrence
        if not named:
            raise ConfigError(f"module must have at least one parameter, got {type(module).__name__} with 0")
        self._net = net
        self.names: tuple[str, ...] = tuple(n for n, _ in named)
        self.shapes: tuple[torch.Size, ...] = tuple(p.shape for _, p in named)
        self.numels: tuple[int, ...] = tuple(p.numel() for _, p in named)
        self.numel: int = int(sum(self.numels))
        self._buffers: dict[str, torch.Tensor] = {
            n: b.detach().clone() for n, b in net.named_buffers() if b is not None
        }

    def _init_reparam(self, module: nn.Module, flat: torch.Tensor) -> None:
        self._net = module
        shapes = getattr(module, "_param_shapes", None)
        numels = getattr(module, "_param_numels", None)
        infos = getattr(module, "_param_infos", None)
        if (
            isinstance(shapes, (tuple, list))
            and isinstance(numels, (tuple, list))
            and len(shapes) == len(numels)
            and sum(int(n) for n in numels) == flat.numel()
        ):
            self.shapes = tuple(torch.Size(s) for s in shapes)
            self.numels = tuple(int(n) for n in numels)
            if isinstance(infos, (tuple, list)) and len(infos) == len(shapes):
                self.names = tuple(f"{mn}.{n}" if mn else str(n) for mn, n in infos)
            else:
                self.names = tuple(f"param_{i}" for i in range(len(shapes)))
        else:
            self.names, self.shapes, self.numels = ("flat_param",), (flat.shape,), (flat.numel(),)
        self.numel = int(flat.numel())
        self._buffers = {}

    def parameters(self) -> Iterator[nn.Parameter]:
        """The network's parameters (what a loop reads for ``num_params``; they sum to :attr:`numel`).

        They are the private copy's (or the ``ReparamModule``'s ``flat_param``); :meth:`__call__` does not use
        them.
        """
        return self._net.parameters()

    # ------------------------------------------------------------------ mode
    @property
    def training(self) -> bool:
        """Whether the private copy is in train mode (dropout active)."""
        return bool(self._net.training)

    def train(self, mode: bool = True) -> FlatStudent:
        """Set train mode on the private copy (dropout on) and return ``self``."""
        self._net.train(mode)
        return self

    def eval(self) -> FlatStudent:
        """Set eval mode on the private copy (dropout off) and return ``self``."""
        return self.train(False)

    @property
    def module(self) -> nn.Module:
        """The private copy of the network (its own parameters are not used by :meth:`__call__`)."""
        return self._net

    # ------------------------------------------------------------ flat <-> dict
    def flatten(self, params: Sequence[torch.Tensor] | nn.Module | None = None) -> torch.Tensor:
        """Flatten parameters into one vector in this student's order (a detached copy).

        Args:
            params: ``None`` (the parameters the student was built with), a module of the same
                architecture, or a list of tensors in ``parameters()`` order (an MTT expert snapshot).

        Returns:
            The flat vector ``[numel]``.

        Raises:
            ShapeError: The number or shapes of the tensors do not match the student.
        """
        if params is None and self._reparam:
            flat = self._net._parameters["flat_param"]
            assert flat is not None
            return flat.detach().clone()
        tensors = (
            list(self._net.parameters())
            if params is None
            else list(params.parameters())
            if isinstance(params, nn.Module)
            else list(params)
        )
        if len(tensors) != len(self.shapes):
            raise ShapeError(f"params must hold {len(self.shapes)} tensors (parameters() order), got {len(tensors)}")
        for i, (t, shape) in enumerate(zip(tensors, self.shapes)):
            check_tensor(t, f"params[{i}]", floating=True)
            if t.numel() != math.prod(shape):
                raise ShapeError(
                    f"params[{i}] ({self.names[i]}) must have {math.prod(shape)} elements "
                    f"(shape {tuple(shape)}), got shape {tuple(t.shape)}"
                )
        return flatten_params(tensors)

    def check_flat(self, flat_param: object, name: str = "flat_param") -> torch.Tensor:
        """Return ``flat_param`` as a 1-D tensor of length :attr:`numel`, else raise :class:`ShapeError`."""
        flat = check_tensor(flat_param, name, floating=True)
        if flat.ndim == 2 and flat.shape[0] == 1:
            flat = flat.squeeze(0)
        if flat.ndim != 1 or flat.shape[0] != self.numel:
            raise ShapeError(f"{name} must be a flat vector of shape ({self.numel},), got shape {tuple(flat.shape)}")
        return flat

    def unflatten(self, flat_param: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split a flat vector into named views shaped like the parameters (differentiable, no copy).

        Shape:
            - ``flat_param``: ``[numel]``.
        """
        flat = self.check_flat(flat_param)
        return {n: t.view(s) for n, t, s in zip(self.names, flat.split(self.numels), self.shapes)}

    # --------------------------------------------------------------- forward
    def __call__(
        self, x: torch.Tensor, flat_param: torch.Tensor, buffers: dict[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Run the network on ``x`` with parameters ``flat_param``.

        Args:
            x: The input batch.
            flat_param: The flat parameters ``[numel]``; gradients flow back to it.
            buffers: Optional buffers by name; default: the student's private copies (updated in place by
                e.g. BatchNorm in train mode, never the user's module).

        Returns:
            The module's output.
        """
        if self._reparam:
            if buffers is not None:
                raise ConfigError("buffers= is not supported with a ReparamModule-style network (it uses its own)")
            out_r: torch.Tensor = self._net(x, flat_param=self.check_flat(flat_param))
            return out_r
        tensors: dict[str, torch.Tensor] = dict(self._buffers if buffers is None else buffers)
        tensors.update(self.unflatten(flat_param))
        out: torch.Tensor = functional_call(self._net, tensors, (x,))
        return out

    def __repr__(self) -> str:
        return f"FlatStudent({type(self._net).__name__}, numel={self.numel}, training={self.training})"

"""Accuracy metrics of test predictions: top-k, and accuracy within a group of classes (the motion part)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from temporal_condense._checks import check_int, check_tensor
from temporal_condense.errors import ConfigError, ShapeError

__all__ = ["Metric", "group_accuracy", "topk_accuracy", "within_group_accuracy"]

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int = 1) -> float:
    """Fraction (0..1) of samples whose label is among the ``k`` largest logits.

    ``k`` larger than the number of classes counts every sample as correct. Ties are broken by
    :func:`torch.topk`.

    Args:
        logits: Scores.
        labels: True class indices.
        k: How many top classes count as a hit.

    Returns:
        The top-k accuracy as a float in [0, 1].

    Shape:
        ``logits``: ``[N, K]``; ``labels``: ``[N]``.

    Example:
        >>> topk_accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
        0.5
    """
    check_tensor(logits, "logits", ndim=2)
    check_tensor(labels, "labels", ndim=1)
    k = check_int(k, "k")
    if logits.shape[0] != labels.shape[0]:
        raise ShapeError(f"logits and labels must have the same length, got {logits.shape[0]} and {labels.shape[0]}")
    if logits.shape[0] == 0:
        raise ShapeError("logits must not be empty, got 0 rows")
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    hits = (top == labels.to(top.device).view(-1, 1)).any(dim=1)
    return float(hits.double().mean())


def group_accuracy(logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor) -> float:
    """Accuracy when each sample chooses only among the classes of its true class's group.

    With ``groups`` = the appearance of every class (MovingShapes), this is the accuracy on "classes that
    differ only by motion": can the network tell the motion once the appearance is given?

    Args:
        logits: ``[N, K]`` class scores.
        labels: ``[N]`` true classes.
        groups: ``[K]`` group id of every class.

    Returns:
        Fraction in ``[0, 1]``.

    Raises:
        ShapeError: Mismatched shapes.

    Shape:
        ``logits [N, K]``, ``labels [N]``, ``groups [K]`` -> scalar.

    Example:
        >>> logits = torch.tensor([[0.0, 1.0, 5.0], [2.0, 1.0, 0.0]])
        >>> group_accuracy(logits, torch.tensor([1, 1]), torch.tensor([0, 0, 1]))  # class 2 is another group
        0.5
    """
    if logits.ndim != 2 or labels.shape != (logits.shape[0],) or groups.shape != (logits.shape[1],):
        raise ShapeError(
            f"logits [N, K], labels [N] and groups [K] must agree, got {tuple(logits.shape)}, "
            f"{tuple(labels.shape)} and {tuple(groups.shape)}"
        )
    if logits.shape[0] == 0:
        raise ShapeError("logits and labels must be non-empty, got N = 0")
    labels, groups = labels.to(logits.device), groups.to(logits.device)
    same = groups[labels].unsqueeze(1) == groups.unsqueeze(0)  # [N, K]
    masked = logits.masked_fill(~same, float("-inf"))
    return float((masked.argmax(1) == labels).float().mean())


def within_group_accuracy(logits: torch.Tensor, labels: torch.Tensor, group_size: int) -> float:
    """Accuracy (0..1) of choosing the right class among the ``group_size`` classes of the true class's group.

    Classes are grouped in consecutive blocks: class ``c`` is member ``c % group_size`` of group
    ``c // group_size``. For :class:`~temporal_condense.data.MovingShapes` (``label = appearance * num_motions +
    motion``) with ``group_size = num_motions`` this is the *motion accuracy*: the motion predicted among the
    classes of the clip's own appearance (chance: ``1 / num_motions``).

    Args:
        logits: Scores.
        labels: True classes.
        group_size: Classes per group; must divide the number of classes.

    Returns:
        The within-group accuracy as a float in [0, 1].

    Shape:
        ``logits``: ``[N, K]``; ``labels``: ``[N]``.

    Example:
        >>> logits = torch.tensor([[0.0, 1.0, 5.0, 0.0]])  # overall argmax is class 2 (another group)
        >>> within_group_accuracy(logits, torch.tensor([1]), group_size=2)
        1.0
    """
    check_tensor(logits, "logits", ndim=2)
    group_size = check_int(group_size, "group_size")
    k = logits.shape[1]
    if k % group_size != 0:
        raise ConfigError(f"group_size ({group_size}) must divide the number of classes ({k})")
    return group_accuracy(logits, labels, torch.arange(k, device=logits.device) // group_size)

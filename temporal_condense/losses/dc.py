"""DC (Zhao et al., "Dataset Condensation with Gradient Matching"): layer-wise gradient matching."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from temporal_condense._checks import check_choice, check_int
from temporal_condense.errors import ConfigError, ShapeError
from temporal_condense.losses._common import _check_labels, _check_pair, _present_classes
from temporal_condense.losses.siamese import _as_siamese

__all__ = ["METRICS", "GradientMatching", "dc_class_loss", "dc_loss", "gradient_distance", "layer_distance"]

METRICS: tuple[str, ...] = ("ours", "mse", "cos")
#: The published code adds this constant to the product of norms in every cosine.
_COS_EPS = 1e-6


def layer_distance(gw_real: torch.Tensor, gw_syn: torch.Tensor) -> torch.Tensor:
    """Per-output-channel cosine distance of one layer's gradients (the published ``distance_wb``).

    The gradient is reshaped to ``[out, -1]`` and ``sum_o (1 - <r_o, s_o> / (|r_o| |s_o| + 1e-6))`` is
    returned. As in the published code, 1-D tensors (biases, norm scales) contribute ``0``. Tensors of rank
    2 (linear) are used as they are, ranks 3 and 4 are flattened after the first axis; rank 5 (``Conv3d``)
    is flattened the same way -- the published code has no branch for it (it would compare rows of the last
    axis), we use the per-output-channel rule it applies to every other weight.

    Args:
        gw_real: Gradient of the real loss for one parameter.
        gw_syn: Gradient of the synthetic loss for the same parameter.

    Returns:
        Scalar tensor.

    Shape:
        - gw_real, gw_syn: the parameter's shape. Output: scalar.

    Example:
        >>> layer_distance(torch.ones(2, 3), torch.ones(2, 3)).abs().item() < 1e-6
        True
    """
    if gw_real.shape != gw_syn.shape:
        raise ShapeError(
            f"gw_real and gw_syn must have the same shape, got {tuple(gw_real.shape)} and {tuple(gw_syn.shape)}"
        )
    if gw_real.ndim <= 1:
        return gw_syn.new_zeros(())
    r = gw_real.reshape(gw_real.shape[0], -1)
    s = gw_syn.reshape(gw_syn.shape[0], -1)
    cos = torch.sum(r * s, dim=-1) / (torch.norm(r, dim=-1) * torch.norm(s, dim=-1) + _COS_EPS)
    return torch.sum(1 - cos)


def gradient_distance(
    gw_syn: Sequence[torch.Tensor], gw_real: Sequence[torch.Tensor], metric: str = "ours"
) -> torch.Tensor:
    """Distance between two lists of per-parameter gradients (the published ``match_loss``).

    Args:
        gw_syn: Gradients of the synthetic loss, one per parameter.
        gw_real: Gradients of the real loss, same order and shapes.
        metric: ``"ours"`` (sum of :func:`layer_distance` over layers), ``"mse"`` (squared Euclidean
            distance of the concatenated gradients) or ``"cos"`` (``1 - cosine`` of the concatenated
            gradients, with the published ``1e-6`` in the denominator).

    Returns:
        Scalar tensor.

    Raises:
        ConfigError: Unknown ``metric``.
        ShapeError: The lists differ in length or in a shape, or are empty.

    Shape:
        - Each gradient: its parameter's shape. Output: scalar.

    Example:
        >>> g = [torch.ones(2, 3), torch.ones(2)]
        >>> gradient_distance(g, g, "mse").item()
        0.0
    """
    metric = check_choice(metric, "metric", METRICS)
    if len(gw_syn) != len(gw_real) or len(gw_real) == 0:
        raise ShapeError(
            f"gw_syn and gw_real must be non-empty lists of the same length, got {len(gw_syn)} and {len(gw_real)}"
        )
    if metric == "ours":
        total = gw_syn[0].new_zeros(())
        for r, s in zip(gw_real, gw_syn, strict=True):
            total = total + layer_distance(r, s)
        return total
    for i, (r, s) in enumerate(zip(gw_real, gw_syn, strict=True)):
        if r.shape != s.shape:
            raise ShapeError(
                f"gradient {i} must have the same shape on both sides, got {tuple(r.shape)} and {tuple(s.shape)}"
            )
    vr = torch.cat([g.reshape(-1) for g in gw_real])
    vs = torch.cat([g.reshape(-1) for g in gw_syn])
    if metric == "mse":
        return torch.sum((vs - vr) ** 2)
    return 1 - torch.sum(vr * vs, dim=-1) / (torch.norm(vr, dim=-1) * torch.norm(vs, dim=-1) + _COS_EPS)


def _trainable(model: nn.Module, params: Sequence[torch.Tensor] | None) -> list[torch.Tensor]:
    out: list[torch.Tensor] = [p for p in model.parameters() if p.requires_grad] if params is None else list(params)
    if not out:
        raise ConfigError(
            "model must have parameters with requires_grad=True for gradient matching (or pass params=), got none"
        )
    return out


def _grads(
    model: nn.Module, x: torch.Tensor, label: int, params: list[torch.Tensor], create_graph: bool
) -> list[torch.Tensor]:
    out = model(x)
    target = torch.full((x.shape[0],), label, dtype=torch.long, device=out.device)
    loss = F.cross_entropy(out, target)
    grads = torch.autograd.grad(loss, params, create_graph=create_graph, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params, strict=True)]


def dc_class_loss(
    real: torch.Tensor,
    syn: torch.Tensor,
    model: nn.Module,
    label: int,
    *,
    metric: str = "ours",
    augment: object = None,
    params: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Gradient-matching loss of one class.

    The gradient of ``cross_entropy(model(real), label)`` with respect to ``params`` (detached) is compared
    with that of ``cross_entropy(model(syn), label)`` (built with ``create_graph=True``) by
    :func:`gradient_distance`. Compatible with :class:`SegmentedMatcher`:
    ``matcher(real_c, syn_c, model, c)`` -- the model must accept a segment (``ConvNet3D`` needs at least 8
    frames; use the ``VideoConvNet*`` students for short segments).

    Args:
        real: Real samples of class ``label``.
        syn: Synthetic samples of class ``label``.
        model: The student (in the mode you want, usually ``train()``).
        label: The class index.
        metric: ``"ours"``, ``"mse"`` or ``"cos"`` (see :func:`gradient_distance`).
        augment: Optional siamese augmentation.
        params: Parameters to differentiate (default: those of ``model`` with ``requires_grad``).

    Returns:
        Scalar loss, differentiable with respect to ``syn``.

    Shape:
        - real: ``[B_r, ...]`` and syn ``[B_s, ...]``, what ``model`` accepts. Output: scalar.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> dc_class_loss(torch.randn(5, 1, 2, 2), torch.randn(1, 1, 2, 2, requires_grad=True), net, 1).shape
        torch.Size([])
    """
    r, s = _check_pair(real, syn)
    metric = check_choice(metric, "metric", METRICS)
    label = check_int(label, "label", minimum=0)
    plist = _trainable(model, params)
    aug = _as_siamese(augment)
    if aug is not None:
        r, s = aug(r, s)
    gw_real = [g.detach() for g in _grads(model, r, label, plist, create_graph=False)]
    gw_syn = _grads(model, s, label, plist, create_graph=True)
    return gradient_distance(gw_syn, gw_real, metric)


def dc_loss(
    model: nn.Module,
    real: torch.Tensor,
    real_labels: torch.Tensor,
    syn: torch.Tensor,
    syn_labels: torch.Tensor,
    num_classes: int,
    *,
    metric: str = "ours",
    augment: object = None,
    params: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Gradient-matching loss summed over the classes present (the published DC inner sum).

    Gradients are per class, so this loops over classes (as the published code does).

    Args:
        model: The student.
        real: Real samples; real_labels: their classes.
        syn: Synthetic samples; syn_labels: their classes.
        num_classes: Number of classes.
        metric: ``"ours"``, ``"mse"`` or ``"cos"``.
        augment: Optional siamese augmentation (its own parameters per class).
        params: Parameters to differentiate (default: those with ``requires_grad``).

    Returns:
        Scalar loss, differentiable with respect to ``syn``.

    Raises:
        ShapeError: Bad ranks or labels, or a class with samples on one side only.
        ConfigError: Unknown ``metric``, or a model without trainable parameters.

    Shape:
        - real: ``[B_r, ...]``, real_labels ``[B_r]``; syn: ``[B_s, ...]``, syn_labels ``[B_s]``.
        - Output: scalar.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> x, y = torch.randn(4, 1, 2, 2), torch.tensor([0, 0, 1, 1])
        >>> dc_loss(net, x, y, x[[0, 2]].clone().requires_grad_(), y[[0, 2]], 2).shape
        torch.Size([])
    """
    num_classes = check_int(num_classes, "num_classes")
    r, s = _check_pair(real, syn)
    rl = _check_labels(real_labels, "real_labels", r.shape[0], num_classes).to(r.device)
    sl = _check_labels(syn_labels, "syn_labels", s.shape[0], num_classes).to(s.device)
    classes = _present_classes(rl, sl, num_classes)
    plist = _trainable(model, params)
    total = s.new_zeros(())
    for c in classes.tolist():
        total = total + dc_class_loss(r[rl == c], s[sl == c], model, c, metric=metric, augment=augment, params=plist)
    return total


class GradientMatching:
    """DC as a ``loss_fn(real, syn, real_labels, syn_labels)`` for :class:`SegmentedMatcher`.

    Args:
        model: The student.
        num_classes: Number of classes.
        metric: ``"ours"``, ``"mse"`` or ``"cos"``.
        augment: Optional siamese augmentation.
        params: Parameters to differentiate (default: those with ``requires_grad``).

    Shape:
        - real: ``[B_r, ...]``, syn: ``[B_s, ...]``, labels ``[B_r]`` / ``[B_s]``. Output: scalar.

    Example:
        >>> loss_fn = GradientMatching(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), num_classes=2)
        >>> y = torch.tensor([0, 1])
        >>> loss_fn(torch.randn(2, 1, 2, 2), torch.randn(2, 1, 2, 2), y, y).shape
        torch.Size([])
    """

    def __init__(
        self,
        model: nn.Module,
        num_classes: int,
        *,
        metric: str = "ours",
        augment: object = None,
        params: Sequence[torch.Tensor] | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model must be an nn.Module, got {type(model).__name__}")
        self.model = model
        self.num_classes = check_int(num_classes, "num_classes")
        self.metric = check_choice(metric, "metric", METRICS)
        self.augment = _as_siamese(augment)
        self.params = None if params is None else list(params)

    def __call__(
        self, real: torch.Tensor, syn: torch.Tensor, real_labels: torch.Tensor, syn_labels: torch.Tensor
    ) -> torch.Tensor:
        """Return :func:`dc_loss` of the batches."""
        return dc_loss(
            self.model,
            real,
            real_labels,
            syn,
            syn_labels,
            self.num_classes,
            metric=self.metric,
            augment=self.augment,
            params=self.params,
        )
